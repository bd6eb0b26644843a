"""tfpipe: TensorFlow tabular pipeline (preprocess -> features -> ensembles -> SavedModel).

Installed, the stages are sub-packages (``tfpipe.pipelines``, ``tfpipe.features``, ...). In a source checkout
they are the repository's top-level folders; the path below lets ``import tfpipe.pipelines`` find them there
too, so code and tests run the same from a checkout as from an install.
"""
import os as _os

__version__ = "0.1.0"

_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_checkout, "setup.py")) and _os.path.isdir(_os.path.join(_checkout, "pipelines")):
    __path__.append(_checkout)  # noqa: F821 (the package's own __path__)
