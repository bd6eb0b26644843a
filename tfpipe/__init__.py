"""tfpipe: TensorFlow tabular pipeline (preprocess -> features -> ensembles -> SavedModel).

The stages are sub-packages: ``tfpipe.pipelines``, ``tfpipe.features``, ``tfpipe.ensembles``, ``tfpipe.serving``,
``tfpipe.proto``. In the repository they are the top-level folders of the same names; ``setup.py`` maps them
into this package (``package_dir``), so they import only from an install (``pip install -e .`` in a checkout).
"""

__version__ = "0.1.0"
