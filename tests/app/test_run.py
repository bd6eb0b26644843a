"""``tfpipe run CONFIG``: one PipelineConfig file, end to end, reproducible, from any directory."""
from __future__ import annotations

import json
import os

from tfpipe.cli import main
from tfpipe.run import load_pipeline_config

CONFIG = """
name: "small"
preprocess {
  input: "train=raw/train.csv"          # relative to this file
  input: "test=raw/test.csv"
  label: "income"
  column_names: ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
                 "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
                 "native-country", "income"]
  value_maps { key: "income" value { values { key: ">50K." value: ">50K" } values { key: "<=50K." value: "<=50K" } } }
  num_shards: 2
  report: false
}
train { bagging { members: 2 member_kinds: "wide_deep" } keras { hidden: [8] epochs: 1 } runtime { seed: 3 strategy: "default" } }
export { report: false metric_splits: ["train", "test"] }
"""


def test_one_config_runs_end_to_end_and_reproduces_itself(adult_raw_dir, tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "raw").mkdir(parents=True)
    for name, source, rows in (("train.csv", "adult.data", 1500), ("test.csv", "adult.test", 500)):
        with open(os.path.join(adult_raw_dir, source), "rb") as handle:
            lines = [line for line in handle if not line.startswith(b"|")][:rows]
        (project / "raw" / name).write_bytes(b"".join(lines))
    (project / "small.pbtxt").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)          # not the config's folder: paths resolve against the config file
    for out in ("run1", "run2"):
        assert main(["run", "project/small.pbtxt", "--output", out, "--quiet"]) == 0
    shards = sorted(os.listdir(tmp_path / "run1" / "data" / "tfds"))
    assert len([name for name in shards if ".tfrecord-" in name]) == 4
    for name in shards:
        assert (tmp_path / "run1" / "data" / "tfds" / name).read_bytes() == \
            (tmp_path / "run2" / "data" / "tfds" / name).read_bytes()
    metrics = [json.loads((tmp_path / out / "model" / "metrics.json").read_text())["splits"] for out in ("run1", "run2")]
    assert metrics[0] == metrics[1] and metrics[0]["test"]["ensemble"]["auc"] > 0.7
    assert sorted(metrics[0]) == ["test", "train"]                    # export { metric_splits } was followed
    resolved = load_pipeline_config(str(tmp_path / "run1" / "pipeline.pbtxt"))   # the config as run: absolute paths
    assert list(resolved.preprocess.input) == [f"train={project / 'raw' / 'train.csv'}",
                                                f"test={project / 'raw' / 'test.csv'}"]
    assert main(["run", "project/small.pbtxt", "--output", "run1", "--quiet"]) == 2      # needs --overwrite
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert main(["run", "project/small.pbtxt", "--output", "mine", "--quiet", "--overwrite"]) == 2
    assert os.listdir(tmp_path / "mine") == ["notes.txt"]


def test_the_shipped_example_names_the_bundled_files():
    from tfpipe.demo import example_config_path

    config = load_pipeline_config(example_config_path())
    paths = [spec.split("=", 1)[1] for spec in config.preprocess.input]
    assert all(os.path.isfile(path) for path in paths) and config.train.WhichOneof("ensemble") == "selection"


def test_a_pipeline_file_with_the_flat_train_config_of_before_gets_one_line_showing_the_nested_form(tmp_path,
                                                                                                       capsys):
    old = tmp_path / "old.pbtxt"
    old.write_text('name: "x"\npreprocess { input: "train=tfpipe-data:adult/adult.data" label: "income" }\n'
                   'train { ensemble: "bagging" epochs: 1 }\n')
    assert main(["run", str(old), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'has no field named "ensemble"' in err and "train { bagging {" in err, err
    assert not (tmp_path / "out").exists()
