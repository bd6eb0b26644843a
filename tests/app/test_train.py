"""train_ensemble end to end on a small preprocessed Adult DIR (all three ensembles) and the `train` CLI."""
import argparse
import json
import os

import pytest

from tfpipe import train_cli as cli
from tfpipe.ensembles import registry
from tfpipe.ensembles.train_options import (KerasOptions, RuntimeOptions, StackingOptions, TrainOptions, TreeOptions,
                                            XGBoostOptions)
from tfpipe.train import train_ensemble


@pytest.mark.parametrize("kind,members", [("bagging", 3), ("boosting", 2), ("stacking", 3)])
def test_train_ensemble_writes_model_metrics_report(kind, members, adult_small_dir, tmp_path):
    out = str(tmp_path / kind)
    ensemble = registry.get(kind).options(members=members, **({"folds": 3} if kind == "stacking" else {}))
    options = TrainOptions(ensemble=ensemble, keras=KerasOptions(epochs=2, batch_size=256, hidden=(16,),
                                                                 learning_rate=3e-3),
                           runtime=RuntimeOptions(precision="auto", strategy="auto", seed=0, verbose=0))
    result = train_ensemble(adult_small_dir, out, options, label="income")
    assert os.path.exists(os.path.join(out, "saved_model", "saved_model.pb"))
    with open(result.metrics_path) as f:
        saved = json.load(f)
    assert set(saved["splits"]) == {"train", "eval", "test"}
    test = saved["splits"]["test"]
    assert set(test["ensemble"]) >= {"auc", "logloss", "accuracy", "count"}
    assert len(test["members"]) == members and test["best_member"] in test["members"]
    assert test["ensemble"]["auc"] > 0.8 and test["ensemble"]["count"] == 1000
    # carved eval is ~10% of train, disjoint by key hash
    n_train, n_eval = saved["splits"]["train"]["ensemble"]["count"], saved["splits"]["eval"]["ensemble"]["count"]
    assert n_train + n_eval == 3000 and 200 < n_eval < 400
    assert saved["metadata"]["precision"] == "float32" and saved["metadata"]["task"]["kind"] == "binary"
    html = open(result.report_path).read()
    assert "members_test.png" in html and "training_curves.png" in html
    assert "curves_test.png" in html and "importance.png" in html
    importance = saved["permutation_importance"]
    assert importance["rows"] == n_eval and len(importance["columns"]) == 14      # every input column, not the label
    strongest = max(importance["columns"], key=lambda c: importance["columns"][c]["mean"])
    assert importance["columns"][strongest]["mean"] > 0.01
    for png in ("members_test.png", "training_curves.png", "curves_test.png", "importance.png"):
        with open(os.path.join(out, "report", png), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.exists(os.path.join(out, "logs")) and os.path.exists(os.path.join(out, "features.pbtxt"))


def test_train_cli_parses_and_runs(adult_small_dir, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    out = str(tmp_path / "cli")
    args = parser.parse_args(["train", "--data", adult_small_dir, "--label", "income", "--ensemble", "bagging",
                              "--output", out, "--members", "2", "--epochs", "1", "--batch-size", "512",
                              "--precision", "mixed_bfloat16", "--strategy", "default", "--seed", "1",
                              "--hidden", "8", "--no-report"])
    assert args.handler(args) == 0
    printed = capsys.readouterr().out
    assert "[test]" in printed and "auc=" in printed
    meta = json.load(open(os.path.join(out, "metrics.json")))["metadata"]
    assert meta["precision"] == "mixed_bfloat16" and meta["members"] == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--data", "x", "--output", "y", "--ensemble", "forest"])


def _train_cli(data_dir, out, *extra, epochs="1"):
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "tfpipe.cli", "train", "--data", data_dir, "--output", out,
                             "--ensemble", "bagging", "--members", "1", "--epochs", epochs, "--hidden", "8",
                             "--no-report", *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_train_publishes_atomically_and_replaces_only_its_own_models(adult_small_dir, tmp_path):
    """kill -9 mid-training leaves no MODEL_DIR; --overwrite replaces an earlier model, never a user's folder."""
    import glob
    import signal
    import time

    out = str(tmp_path / "model")
    job = _train_cli(adult_small_dir, out, epochs="500")
    deadline = time.time() + 120
    while time.time() < deadline and not glob.glob(str(tmp_path / ".model.tmp-*" / "features.pbtxt")):
        time.sleep(0.2)
    assert glob.glob(str(tmp_path / ".model.tmp-*" / "features.pbtxt")), "training never started"
    time.sleep(1.0)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert not os.path.exists(out)                      # nothing half-written under the name the user asked for

    first = _train_cli(adult_small_dir, out)             # the leftover temporary sibling does not get in the way
    log = first.stdout.read()
    assert first.wait() == 0, log
    # Not a terminal: one line per epoch, no progress-bar fragments.
    assert "\r" not in log and "\x08" not in log and log.count("\n") < 60 and "val_loss" in log
    marker = json.load(open(os.path.join(out, "model.json")))
    assert marker["format"].startswith("tfpipe.model/") and marker["ensemble"] == "bagging"
    again = _train_cli(adult_small_dir, out)
    assert again.wait() == 2 and "--overwrite" in again.stdout.read()
    before = os.stat(os.path.join(out, "model.json")).st_mtime_ns
    replaced = _train_cli(adult_small_dir, out, "--overwrite")
    assert replaced.wait() == 0 and os.stat(os.path.join(out, "model.json")).st_mtime_ns != before

    users = tmp_path / "notes"
    users.mkdir()
    (users / "todo.txt").write_text("keep me")
    refused = _train_cli(adult_small_dir, str(users), "--overwrite")
    assert refused.wait() == 2 and "not a tfpipe model" in refused.stdout.read()
    assert (users / "todo.txt").read_text() == "keep me" and sorted(os.listdir(users)) == ["todo.txt"]
    with pytest.raises(ValueError, match="not a tfpipe model"):
        train_ensemble(adult_small_dir, adult_small_dir, overwrite=True)   # a dataset is not a model
    assert os.path.exists(os.path.join(adult_small_dir, "manifest.json"))


def test_inputs_that_do_not_fit_stop_with_one_clear_line_and_write_nothing(adult_small_dir, tmp_path, capsys):
    import shutil

    from tfpipe import features as tff
    from tfpipe.cli import main

    out = tmp_path / "model"
    config = tmp_path / "features.pbtxt"
    tff.save_config([tff.numeric_column("age"), tff.numeric_column("salary")], str(config))
    empty = tmp_path / "empty"
    shutil.copytree(adult_small_dir, empty)
    manifest = json.load(open(empty / "manifest.json"))
    manifest["rows_written"]["train"] = 0
    json.dump(manifest, open(empty / "manifest.json", "w"))
    cases = [(["--data", adult_small_dir, "--label", "salary"], "salary"),
             (["--data", adult_small_dir, "--features", str(config)], "salary"),
             (["--data", str(empty)], "no rows in its train split"),
             (["--data", str(tmp_path / "nowhere")], "nowhere")]
    for args, expected in cases:
        assert main(["train", *args, "--output", str(out), "--epochs", "1"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tfpipe train: error:") and expected in err and err.count("\n") == 1, err
        assert not out.exists() and not list(tmp_path.glob(".model.tmp-*"))
    assert main(["features", "init", "--data", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_options_the_chosen_ensemble_would_ignore_are_refused(adult_small_dir, tmp_path, capsys):
    from tfpipe.cli import main

    out = str(tmp_path / "m")
    for flags, expected in (
            (["--ensemble", "bagging", "--folds", "3"], "--folds applies to stacking only; this is a bagging: drop it"),
            (["--ensemble", "stacking", "--member-kind", "lgbm,dnn", "--gbdt-param", "max_depth=4"],
             "TrainOptions.trees.xgboost (params=(('max_depth', 4),)) applies to gbdt members; this is a stacking "
             "of lgbm,dnn members")):
        assert main(["train", "--data", adult_small_dir, "--output", out, *flags]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tfpipe train: error:") and expected in err and err.count("\n") == 1, err
    with pytest.raises(ValueError, match="applies to gbdt members"):     # the same check in Python
        TrainOptions(ensemble=StackingOptions(member_kinds="lgbm,dnn"),
                     trees=TreeOptions(xgboost=XGBoostOptions(["max_depth=4"])))
    assert not (tmp_path / "m").exists()


def test_the_command_time_limit_counts_what_start_up_spent():
    """`tfpipe train --time-limit` is the user's wall clock: the interpreter and TensorFlow's import count."""
    import subprocess
    import sys
    import time

    started = time.time()
    spent = float(subprocess.run([sys.executable, "-c", "import time; time.sleep(0.3); "
                                  "from tfpipe.train_cli import process_seconds; print(process_seconds())"],
                                 check=True, capture_output=True, text=True).stdout)
    assert 0.3 <= spent <= time.time() - started + 0.05
