"""Makes ``import tfpipe`` work from a bare checkout (e.g. on the GPU machine, where tfpipe is not installed):
the checkout's ``tfpipe`` package finds the stage folders beside it (see ``tfpipe/__init__.py``)."""
from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure_tfpipe() -> None:
    try:
        import tfpipe.ensembles  # noqa: F401 (only checks that it imports)
    except ImportError:
        sys.path.insert(0, REPO)
