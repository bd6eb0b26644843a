import argparse
import json
import os

import pytest

from tfpipe.serving import cli
from tfpipe.serving.evaluate import evaluate_saved_model


@pytest.mark.parametrize("split", ["test", "eval"])
def test_evaluate_matches_training_metrics(trained, adult_small_dir, split):
    saved = json.load(open(os.path.join(os.path.dirname(trained.saved_model_dir), "metrics.json")))["splits"][split]
    got = evaluate_saved_model(trained.saved_model_dir, adult_small_dir, split)
    assert got["best_member"] == saved["best_member"]
    for key, value in saved["ensemble"].items():
        assert got["ensemble"][key] == pytest.approx(value, abs=1e-6), key
    for name, m in saved["members"].items():
        assert got["members"][name]["auc"] == pytest.approx(m["auc"], abs=1e-6)


def test_evaluate_cli_prints_metrics(trained, adult_small_dir, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    out_json = str(tmp_path / "m.json")
    model_dir = os.path.dirname(trained.saved_model_dir)          # MODEL_DIR is accepted too
    args = parser.parse_args(["evaluate", "--model", model_dir, "--data", adult_small_dir, "--split", "test",
                              "--json", out_json])
    assert args.handler(args) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("[test] n=1000") and "auc=" in printed and "bagging" not in printed
    assert json.load(open(out_json))["ensemble"]["count"] == 1000


def test_data_with_another_schema_is_refused_naming_the_columns(trained, adult_small_dir, tmp_path):
    """Data lacking a column the model reads (or typing it differently) would be scored as all-missing: refused."""
    import shutil

    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    other = tmp_path / "other"
    shutil.copytree(adult_small_dir, other)
    path = next(p for p in other.iterdir() if p.name.startswith("schema"))
    schema = text_format.Parse(path.read_text(), schema_pb2.Schema())
    kept = [f for f in schema.feature if f.name != "age"]
    del schema.feature[:]
    schema.feature.extend(kept)
    next(f for f in schema.feature if f.name == "hours-per-week").type = schema_pb2.BYTES
    path.write_text(text_format.MessageToString(schema))
    with pytest.raises(ValueError, match=r"'age' is missing.*'hours-per-week' is string, the model reads int64"):
        evaluate_saved_model(trained.saved_model_dir, str(other), "test")
    assert evaluate_saved_model(trained.saved_model_dir, adult_small_dir, "test")["ensemble"]["count"] == 1000
