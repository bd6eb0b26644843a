"""ModelDir / ModelMetadata: the one owner of a model directory's files, on local disk and on a store."""
import json

import pytest

from tfpipe.ensembles.model_dir import MODEL_FORMAT, ModelDir, ModelMetadata


def test_metadata_round_trips_and_is_checked_on_creation(tmp_path):
    model = ModelDir(str(tmp_path))
    metadata = ModelMetadata(ensemble="bagging", label="y", data_dir="/d", members=["gbdt_0", "wide_deep_1"])
    assert metadata.members == ("gbdt_0", "wide_deep_1")          # a list given is frozen to a tuple
    model.write_metadata(metadata)
    written = json.loads((tmp_path / "model.json").read_text())
    assert written == {"format": MODEL_FORMAT, "ensemble": "bagging", "label": "y", "data_dir": "/d",
                       "members": ["gbdt_0", "wide_deep_1"]}
    assert model.read_metadata() == metadata
    with pytest.raises(ValueError, match="ModelMetadata.label must be a non-empty string, got ''"):
        ModelMetadata(ensemble="bagging", label="", data_dir="/d")
    (tmp_path / "model.json").write_text(json.dumps({**written, "format": "tfpipe.dataset/2"}))
    with pytest.raises(ValueError, match="model.json: model.json format 'tfpipe.dataset/2': not a tfpipe model"):
        model.read_metadata()


def test_a_folder_without_model_json_is_no_model(tmp_path):
    (tmp_path / "saved_model").mkdir()
    with pytest.raises(FileNotFoundError, match="no model.json there, so no finished `tfpipe train` model"):
        ModelDir(str(tmp_path)).read_metadata()


def test_paths_are_the_ones_train_writes(tmp_path):
    model = ModelDir(str(tmp_path))
    names = {name: getattr(model, name)[len(str(tmp_path)) + 1:]
             for name in ("marker", "saved_model", "metrics", "report", "features", "trees", "logs")}
    assert names == {"marker": "model.json", "saved_model": "saved_model", "metrics": "metrics.json",
                     "report": "report.html", "features": "features.pbtxt", "trees": "gbdt", "logs": "logs"}
    assert ModelDir("s3://bucket/models/m1").saved_model == "s3://bucket/models/m1/saved_model"
