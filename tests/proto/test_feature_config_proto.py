"""The committed ``proto/feature_config_pb2.py`` is what ``grpc_tools.protoc`` generates from the ``.proto``."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROTO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "proto")


@pytest.mark.parametrize("name", ["feature_config", "pipeline"])
def test_generated_module_matches_proto(tmp_path, name):
    pytest.importorskip("grpc_tools")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}", f"--python_out={tmp_path}",
                    os.path.join(PROTO_DIR, f"{name}.proto")], check=True)
    with open(tmp_path / f"{name}_pb2.py", encoding="utf-8") as f:
        regenerated = f.read()
    with open(os.path.join(PROTO_DIR, f"{name}_pb2.py"), encoding="utf-8") as f:
        committed = f.read()
    assert committed == regenerated, (
        f"proto/{name}_pb2.py is stale: run `python -m grpc_tools.protoc -I proto --python_out=proto "
        f"proto/{name}.proto`")


def test_module_imports_under_the_package_and_describes_the_config():
    from tfpipe.proto import feature_config_pb2 as pb

    assert pb.DESCRIPTOR.package == "tfpipe.proto"
    config = pb.FeatureConfig()
    config.columns.add().numeric.key = "age"
    assert pb.FeatureConfig.FromString(config.SerializeToString()).columns[0].WhichOneof("kind") == "numeric"
