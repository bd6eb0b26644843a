"""gbdt members inside the ensembles: bagging weights, stacking folds, boosting on top of a GBDT, CLI params."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
import xgboost as xgb

from tfpipe import features as tff
from tfpipe.ensembles.bootstrap import fold_ids
from tfpipe.ensembles.tree_members import TreeConfig, feature_types
from tfpipe.ensembles.xgboost_members import booster_params
from tfpipe.serving.predictions import serialized_dataset
from tfpipe.ensembles.task import Task
from tfpipe.ensembles.train_options import (BaggingOptions, BoostingOptions, KerasOptions, RuntimeOptions,
                                            StackingOptions, TrainOptions, TreeOptions, XGBoostOptions)
from tfpipe.serving.export_config import ExportOptions
from tfpipe.train import train_ensemble

NO_REPORT = ExportOptions(report=False)


def _test_examples(data_dir, n=400):
    return next(iter(serialized_dataset(data_dir, "test", batch_size=n)))


def test_booster_params_put_the_task_over_the_user_params():
    params = booster_params(TreeConfig(params=(("max_depth", 3),), device="cpu"), Task("multiclass", 4), seed=0)
    assert params["max_depth"] == 3 and params["num_class"] == 4 and params["objective"] == "multi:softprob"
    assert params["tree_method"] == "hist" and params["seed"] == 0 and params["device"] == "cpu"


def test_stacking_of_gbdt_and_keras_members_uses_folds_and_a_fitted_meta_learner(adult_small_dir, tmp_path):
    options = TrainOptions(ensemble=StackingOptions(members=2, member_kinds="gbdt,linear", folds=3),
                           keras=KerasOptions(epochs=1, hidden=(8,)), runtime=RuntimeOptions(seed=3, verbose=0),
                           trees=TreeOptions(rounds=40, xgboost=XGBoostOptions(["eta=0.2"])))
    result = train_ensemble(adult_small_dir, str(tmp_path / "m"), options, export=NO_REPORT)
    ens = result.ensemble
    assert result.metadata["member_names"] == ["gbdt_0", "linear_1"]
    assert result.metadata["member_kinds"] == ["gbdt", "linear"]
    gbdt = ens.base[0]
    assert len(gbdt.boosters) == 4                       # one per fold + the full-data copy that is served
    assert len({bytes(b.save_raw("json")) for b in gbdt.boosters}) == 4
    # copy f never saw fold f: its loss there is higher than on the folds it was trained on
    x, y = next(iter(tff.make_dataset(adult_small_dir, "train", tff.compile_features(tff.load_config(
        os.path.join(result.output_dir, "features.pbtxt"))), 2048, label="income")))
    margins, y = gbdt(x).numpy()[:, :, 0], y.numpy()
    folds = fold_ids(x["example_key"], 3, 3).numpy()
    for f in range(3):
        loss = np.logaddexp(0, margins[:, f]) - y * margins[:, f]
        assert loss[folds == f].mean() > 1.2 * loss[folds != f].mean()
    meta = [h for h in result.history if h.get("phase") == "meta_learner"][0]
    assert meta["loss"][1] <= meta["loss"][0]             # fitted from the plain average, never worse on train
    test = result.metrics["test"]
    assert test["ensemble"]["auc"] > 0.85 and "gbdt_0" in test["members"]
    out = result.serve_fn(examples=_test_examples(adult_small_dir))
    assert out["member_predictions"].shape == (400, 2)


def test_bagging_gbdt_members_get_their_own_poisson_weights(adult_small_dir, tmp_path):
    options = TrainOptions(ensemble=BaggingOptions(members=2, member_kinds="gbdt"), keras=KerasOptions(epochs=1),
                           runtime=RuntimeOptions(seed=5, verbose=0), trees=TreeOptions(rounds=30))
    result = train_ensemble(adult_small_dir, str(tmp_path / "m"), options, export=NO_REPORT)
    first, second = result.ensemble.members.tree_groups[0][1].boosters
    assert first.save_raw("json") != second.save_raw("json")     # different bootstrap samples
    out = result.serve_fn(examples=_test_examples(adult_small_dir))["member_predictions"].numpy()
    assert out.shape == (400, 2) and np.abs(out[:, 0] - out[:, 1]).max() > 1e-3


def test_boosting_keras_stages_fit_what_a_gbdt_first_stage_leaves(adult_small_dir, tmp_path):
    options = TrainOptions(ensemble=BoostingOptions(members=2, member_kinds="gbdt,dnn", corrective=False),
                           keras=KerasOptions(epochs=1, hidden=(8,)), runtime=RuntimeOptions(seed=1, verbose=0),
                           trees=TreeOptions(rounds=40))
    result = train_ensemble(adult_small_dir, str(tmp_path / "m"), options, export=NO_REPORT)
    ens = result.ensemble
    assert list(ens.member_kinds) == ["gbdt", "dnn"] and ens.stage_scale.tolist() == [1.0, 0.5]
    booster = ens.stages[0].boosters[0]
    # F_1 = prior + the trees, exactly XGBoost's prediction with the prior as base margin
    compiled = tff.compile_features(tff.load_config(os.path.join(result.output_dir, "features.pbtxt")))
    examples = _test_examples(adult_small_dir)
    tree = compiled.preprocessor.tree_block(tf.io.parse_example(examples, compiled.parse_spec)).numpy()
    kinds = feature_types(compiled.tree_features)
    prior = float(ens.init_score.numpy()[0])
    margin = booster.predict(xgb.DMatrix(tree, feature_types=kinds, enable_categorical=True,
                                         base_margin=np.full(len(tree), prior, "float32")), output_margin=True)
    staged = result.serve_fn(examples=examples)["member_predictions"].numpy()
    np.testing.assert_allclose(staged[:, 0], 1 / (1 + np.exp(-margin)), atol=1e-5)
    assert np.abs(staged[:, 1] - staged[:, 0]).max() > 0            # the dnn stage changed F
