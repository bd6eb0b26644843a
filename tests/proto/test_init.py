"""The checkout's ``proto/`` folder must not shadow the installed ``proto`` package (proto-plus)."""
import os
import subprocess
import sys

import pytest

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_process_started_in_the_checkout_root_imports_the_installed_proto_package():
    pytest.importorskip("proto")   # proto-plus (Google's client libraries need it)
    code = "import proto, tfpipe.proto.pipeline_pb2 as p; print(hasattr(proto, 'module'), p.TrainConfig.__name__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=CHECKOUT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "TrainConfig"]
