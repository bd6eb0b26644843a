"""Selection (tfpipe train's default) on real Adult rows: members once each, greedy weights, the useless dropped
from the served model, --time-limit, and streaming under a cache budget far below the data."""
import filecmp
import json
import os

import numpy as np
import tensorflow as tf

from tfpipe.ensembles.train_options import (DataOptions, KerasOptions, RuntimeOptions, SelectionOptions,
                                            TrainOptions, TreeOptions)
from tfpipe.serving.export_config import ExportOptions
from tfpipe.train import train_ensemble

COMMON = TrainOptions(keras=KerasOptions(epochs=2, batch_size=256, hidden=(16,)), trees=TreeOptions(rounds=200),
                      runtime=RuntimeOptions(seed=0, verbose=2))


def _train(data_dir, out, options=COMMON):
    return train_ensemble(data_dir, out, options, label="income", export=ExportOptions(report=False))


def _saved(out):
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f)


def test_default_is_selection_with_weights_and_only_kept_members_served(adult_small_dir, tmp_path, capsys):
    out = str(tmp_path / "default")
    result = _train(adult_small_dir, out)
    printed = capsys.readouterr().out
    saved = _saved(out)
    meta = saved["metadata"]
    assert meta["ensemble"] == "selection" and meta["members"] == 3
    selection = [h for h in saved["history"] if h.get("phase") == "selection"][0]
    kept, dropped = list(selection["weights"]), selection["dropped"]
    assert sorted(kept + dropped) == ["gbdt_0", "lgbm_1", "wide_deep_2"]
    assert abs(sum(selection["weights"].values()) - 1.0) < 1e-6 and min(selection["weights"].values()) > 0
    assert meta["member_names"] == kept and set(saved["splits"]["test"]["members"]) == set(kept)
    assert "selection: training gbdt_0 (1 of 3; then lgbm_1, wide_deep_2; " in printed   # and the time left
    assert "selection: weights" in printed and ("dropped" in printed) == bool(dropped)
    assert [r["stage"] for r in saved["stages"]][:3] == ["features", "time limit", "first batch + build"]
    # --time-limit auto on a small table: the floor, no probe, and the run is not cut (identical reruns hold)
    assert saved["time_limit"] == {"source": "auto", "seconds": 120.0, "native_estimate": None}
    assert "time limit auto: 120 s (the floor" in printed and "skipped" not in printed
    assert saved["splits"]["test"]["ensemble"]["auc"] > 0.88
    # the SavedModel runs exactly the kept members, weighted as selected
    model = tf.saved_model.load(result.saved_model_dir)
    batch = next(iter(tf.data.TFRecordDataset(
        [os.path.join(adult_small_dir, "tfds", f) for f in sorted(os.listdir(os.path.join(adult_small_dir, "tfds")))
         if "-test." in f]).batch(64)))
    outputs = model.signatures["serving_default"](examples=batch)
    members = outputs["member_predictions"].numpy()
    assert members.shape == (64, len(kept))
    weights = np.array([selection["weights"][name] for name in kept], "float32")
    np.testing.assert_allclose(outputs["predictions"].numpy(), members @ weights, rtol=1e-5, atol=1e-6)


def test_time_limit_ends_with_a_valid_model(adult_small_dir, tmp_path, capsys):
    out = str(tmp_path / "limited")
    _train(adult_small_dir, out, COMMON.replace(time_limit=0.5))
    printed = capsys.readouterr().out
    saved = _saved(out)
    selection = [h for h in saved["history"] if h.get("phase") == "selection"][0]
    assert selection["skipped"] == ["lgbm_1", "wide_deep_2"] and list(selection["weights"]) == ["gbdt_0"]
    assert "lgbm_1 skipped" in printed
    gbdt = [h for h in saved["history"] if h.get("phase", "").startswith("member_0")][0]
    assert gbdt["models"][0]["rounds"] < 200                     # stopped by the deadline, cut at its best round
    assert saved["splits"]["test"]["ensemble"]["auc"] > 0.65      # a few rounds only, but a real model
    assert os.path.exists(os.path.join(out, "model.json"))


def test_cache_budget_zero_streams_everything_and_trains_the_same_trees(adult_small_dir, tmp_path, capsys):
    """Budget far below the data: every epoch and every booster pass streams from the shards. The boosters are
    byte-identical to the cached run's (same rows, same order); the Keras member sees other shuffles (the
    preprocessed cache permutes rows per chunk, the stream per block of 32 records): its test AUC within 0.01."""
    runs = {}
    for name, budget in (("cached", None), ("streamed", "0")):
        out = str(tmp_path / name)
        _train(adult_small_dir, out, COMMON.replace(ensemble=SelectionOptions(member_kinds="gbdt,lgbm,linear"),
                                                    data=DataOptions(cache_budget=budget)))
        runs[name] = (out, capsys.readouterr().out, _saved(out))
    assert "Keras train preprocessed, eval records, tree block" in runs["cached"][1]
    assert "Keras train streamed, eval streamed, tree block streamed" in runs["streamed"][1]
    history = {n: {h["phase"]: h for h in runs[n][2]["history"]} for n in runs}
    # both tree members, served or dropped: the same validation loss to the last bit
    for member in ("gbdt_0", "lgbm_1"):
        assert (history["cached"]["selection"]["member_val_loss"][member]
                == history["streamed"]["selection"]["member_val_loss"][member])
    boosters = sorted(os.listdir(os.path.join(runs["cached"][0], "gbdt")))
    assert boosters and boosters == sorted(os.listdir(os.path.join(runs["streamed"][0], "gbdt")))
    for booster in boosters:                                      # the served ones: byte-identical files
        assert filecmp.cmp(*(os.path.join(runs[n][0], "gbdt", booster) for n in runs), shallow=False)
    tests = {n: runs[n][2]["splits"]["test"] for n in runs}
    for member in ("gbdt_0", "lgbm_1"):
        if member in tests["cached"]["members"]:
            assert tests["cached"]["members"][member] == tests["streamed"]["members"][member]
    val_loss = {n: history[n]["selection"]["member_val_loss"]["linear_2"] for n in runs}
    assert abs(val_loss["cached"] - val_loss["streamed"]) < 0.02
    assert abs(tests["cached"]["ensemble"]["auc"] - tests["streamed"]["ensemble"]["auc"]) < 0.01


def test_unpaid_check_lines_up_eval_passes_that_come_in_another_order(adult_task):
    """The Keras-pays check compares the trees' eval predictions of one pass with the Keras members' of later
    passes. Eval rows are read in parallel without a fixed order, so every pass here is reshuffled: the
    predictions must still line up row for row with each other and with the labels (by example key)."""
    from tfpipe.ensembles.base import FitOptions
    from tfpipe.ensembles.selection import SelectionEnsemble, _StopWhenUnpaid, eval_predictions
    from tfpipe.ensembles.task import Task

    train_ds, test_ds, compiled, _ = adult_task("binary")
    ens = SelectionEnsemble(Task("binary"), member_kinds=("linear", "dnn"), hidden=(8,),
                            embedding_specs=compiled.embedding_specs)
    ens.fit_ensemble(train_ds, test_ds, FitOptions(epochs=1, verbose=0))
    reshuffled = test_ds.rebatch(50).shuffle(64, seed=1, reshuffle_each_iteration=True)   # 20 batches, any order
    keys = [np.concatenate([x["example_key"].numpy() for x, _ in reshuffled]) for _ in range(2)]
    assert not np.array_equal(keys[0], keys[1])                          # the passes really differ in order
    check = _StopWhenUnpaid(ens, reshuffled, trees=[0], patience=1)      # member 0 stands in for a tree member
    ordered = eval_predictions(lambda x: ens.task.link(ens.member_logits(x)), test_ds)
    np.testing.assert_allclose(check.tree_preds[:, 0], ordered[0][:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(check.labels, ordered[1])
    np.testing.assert_allclose(check.keras_predictions(), check.keras_predictions(), rtol=1e-6)
    preds, labels = check.all_predictions(len(ens.base), keras_members=list(range(len(ens.base))))  # kept ones
    np.testing.assert_allclose(preds, ordered[0], rtol=1e-5, atol=1e-6)
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(labels, preds[:, 0]) > 0.8                      # aligned: a real AUC, not ~0.5
