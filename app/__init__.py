"""tfpipe: TensorFlow tabular pipeline (preprocess -> features -> ensembles -> SavedModel).

The stages are sub-packages: ``tfpipe.pipelines``, ``tfpipe.features``, ``tfpipe.ensembles``, ``tfpipe.serving``,
``tfpipe.proto``. In the repository they are the top-level folders of the same names and this package is the
folder ``app/`` (where the stages meet: the command, ``tfpipe train`` / ``run`` / ``demo``); ``setup.py`` maps them
(``package_dir``), so they import only from an install (``pip install -e .`` in a checkout).
"""

__version__ = "0.1.0"
