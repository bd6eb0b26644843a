"""``tfpipe.proto``: the generated modules of the project's own ``.proto`` files (``setup.py`` maps this folder).

In a checkout this folder is also named plain ``proto``, which is the import name of ``proto-plus`` (Google's
client libraries import it, e.g. Beam's Dataflow client under ``apache-beam[gcp]``). A Python process whose
``sys.path`` holds the checkout root (``python -m ...`` started there: the Beam job service, its SDK workers,
Dask workers) would import this folder instead and fail (``module 'proto' has no attribute 'module'``, seen in
CI). Imported under that name, this module hands the name to the installed ``proto`` package, if there is one.
"""
import os as _os
import sys as _sys

if __name__ == "proto":   # not tfpipe.proto: found through a checkout root on sys.path
    import importlib.machinery as _machinery
    import importlib.util as _util

    _root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
    _path = [p for p in _sys.path if _os.path.abspath(p or _os.curdir) != _root]
    _spec = _machinery.PathFinder.find_spec("proto", _path)
    if _spec is not None and _spec.loader is not None:
        _module = _util.module_from_spec(_spec)
        _sys.modules["proto"] = _module   # what `import proto` returns once this module has run
        _spec.loader.exec_module(_module)
