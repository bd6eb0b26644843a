"""Compiled LightGBM trees reproduce LightGBM's own raw scores (binary on the whole Adult test split, multi-class,
regression), with missing values (NaN-aware and not), categorical splits, unseen / negative / huge categories and
values exactly on thresholds; what cannot be compiled is refused."""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from tfpipe import features as tff
from tfpipe.ensembles.tree_members import TreeConfig, TreeMembers
from tfpipe.ensembles.lightgbm_trees import compile_lightgbm
from tfpipe.ensembles.task import task_from_label_spec
from tfpipe.ensembles.trees import tree_margins
from tfpipe.features import artifacts

TOLERANCE = 1e-5
CATEGORICAL = [1, 3]


def _synthetic(n, seed):
    """[number with NaN, category 0..29 with NaN, number on a 0.5 grid (no NaN in training), category 0..3]."""
    rng = np.random.default_rng(seed)
    x = np.stack([rng.normal(size=n), rng.integers(0, 30, n), rng.integers(0, 200, n) * 0.5 - 20,
                  rng.integers(0, 4, n)], axis=1).astype("float32")
    x[rng.random(n) < 0.1, 0] = np.nan
    x[rng.random(n) < 0.1, 1] = np.nan
    return x


def _hard_rows(x, compiled, thresholds_of):
    """Unseen (55), negative, huge categories; NaN where training had none; every numeric threshold as a value
    (and the float32 values either side of it)."""
    x = x.copy()
    x[:40, 1] = 55.0
    x[40:50, 1] = -1.0
    x[50:55, 1] = float(1 << 24)
    x[55:60, 3] = 1e30
    x[60:80, 2] = np.nan                       # missing_type None: NaN is read as 0.0
    zone = np.float32([-2e-35, -1e-35, -5e-36, -0.0, 0.0, 5e-36, 1e-35, 2e-35])   # |x| <= 1e-35f reads as 0.0
    x[80:88, 0], x[88:96, 2] = zone, zone
    row = 100
    for column in (0, 2):
        for t in thresholds_of(column)[:300]:
            t32 = np.float32(t)
            for value in (np.nextafter(t32, np.float32(-np.inf)), t32, np.nextafter(t32, np.float32(np.inf))):
                x[row % len(x), column] = value
                row += 1
    return x


def _thresholds(booster):
    found = {}

    def walk(node):
        if "split_index" in node:
            if node["decision_type"] == "<=":
                found.setdefault(node["split_feature"], []).append(float(node["threshold"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for info in booster.dump_model()["tree_info"]:
        walk(info["tree_structure"])
    return lambda column: found.get(column, [])


def _train(x, y, objective, extra=None, rounds=40):
    params = {"objective": objective, "learning_rate": 0.3, "num_leaves": 24, "min_data_in_leaf": 5, "verbose": -1,
              "max_cat_to_onehot": 4, **(extra or {})}
    return lgb.train(params, lgb.Dataset(x, y, categorical_feature=CATEGORICAL), rounds)


@pytest.mark.parametrize("method", ["masks", "walk"])
@pytest.mark.parametrize("objective,extra", [("multiclass", {"num_class": 3}), ("regression", {}), ("binary", {})])
def test_compiled_margins_equal_lightgbm(objective, extra, method):
    x = _synthetic(6000, 0)
    if objective == "multiclass":
        y = np.where(np.isnan(x[:, 1]), 0, x[:, 1] % 3).astype(int)
    elif objective == "regression":
        y = np.nan_to_num(x[:, 0]) * 3 + x[:, 2] + 5 * (x[:, 3] == 2) + np.isin(x[:, 1], [3, 7, 11])
    else:
        y = ((np.nan_to_num(x[:, 0]) > 0.2) ^ np.isin(x[:, 1], [1, 4, 7, 9, 22]) ^ (x[:, 2] > 0)).astype(int)
    booster = _train(x, y, objective, extra)
    compiled = compile_lightgbm([booster])
    assert compiled.categorical.any() and compiled.default_left.any() and compiled.sum_dtype == "float64"
    dump = str(booster.dump_model())
    assert "'missing_type': 'NaN'" in dump and "'missing_type': 'None'" in dump   # both cases occur
    test = _hard_rows(_synthetic(6000, 1), compiled, _thresholds(booster))
    served = tree_margins(compiled, test, method).numpy()[:, 0, :]
    native = booster.predict(test, raw_score=True).reshape(len(test), -1)
    np.testing.assert_allclose(served, native, rtol=0, atol=TOLERANCE)


def test_what_cannot_be_compiled_is_refused():
    x = _synthetic(800, 3)
    y = (np.nan_to_num(x[:, 0]) > 0).astype(int)
    with pytest.raises(ValueError, match="objective"):
        compile_lightgbm([_train(x, y, "cross_entropy")])
    with pytest.raises(ValueError, match="sigmoid"):
        compile_lightgbm([_train(x, y, "binary", {"sigmoid": 2.0})])
    zero = np.where(np.isnan(x), 0.0, x)
    with pytest.raises(ValueError, match="Zero"):
        compile_lightgbm([_train(zero, y, "binary", {"zero_as_missing": True})])
    with pytest.raises(ValueError, match="linear"):
        compile_lightgbm([_train(zero, zero[:, 0] * 2 + zero[:, 2], "regression", {"linear_tree": True})])
    with pytest.raises(ValueError, match="lgbm-param"):
        TreeConfig(lgbm_params={"zero_as_missing": True})


def test_lgbm_member_from_the_adult_shards_equals_lightgbm_on_the_whole_test_split(adult_data_dir):
    """The real path: the features stage's tree block → LightGBM with example weights → compiled margins."""
    schema, stats = artifacts.load_schema(adult_data_dir), artifacts.load_statistics(adult_data_dir)
    label = tff.fit_label(schema, stats, "income")
    compiled = tff.compile_features(tff.fit(tff.default_config(schema, stats, label="income"), stats, schema=schema))
    data = lambda split: tff.make_dataset(adult_data_dir, split, compiled, 4096, label=label, blocks="tree",
                                          read=tff.ReadOptions(deterministic=True))
    member = TreeMembers(2, 1, TreeConfig(num_boost_round=150, lgbm_params={"learning_rate": 0.1}),
                         library="lightgbm")
    half = lambda keys: np.stack([np.ones(len(keys)), (keys % 2).astype(float)], axis=1)  # noqa: E731
    member.fit(data("train"), None, task_from_label_spec(label), compiled.tree_features, weights_fn=half)
    first, second = member.boosters
    assert first.model_to_string() != second.model_to_string()     # the weights reached the second model
    rows, worst = 0, 0.0
    for inputs, _ in data("test"):
        tree = inputs["tree"].numpy()
        served = member(inputs).numpy()[:, :, 0]
        native = np.stack([b.predict(tree, raw_score=True) for b in member.boosters], axis=1)
        worst = max(worst, float(np.abs(served - native).max()))
        rows += len(tree)
    assert rows == 16281 and worst <= TOLERANCE
