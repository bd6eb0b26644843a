"""Compiled trees reproduce XGBoost's own raw margins (binary on the whole Adult test split, multi-class,
regression), with missing values, categorical splits, unseen and invalid categories and values on thresholds."""
from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from tfpipe import features as tff
from tfpipe.ensembles.tree_members import feature_types
from tfpipe.ensembles.tree_members import TreeConfig, TreeMembers
from tfpipe.ensembles.task import task_from_label_spec
from tfpipe.ensembles.tree_masks import build_leaf_masks
from tfpipe.ensembles.trees import compile_boosters, tree_margins
from tfpipe.features import artifacts

TOLERANCE = 1e-5
KINDS = ["q", "c", "q", "c"]


def _margins(booster, x, method="auto", **compile_args):
    return tree_margins(compile_boosters([booster], **compile_args), x, method).numpy()[:, 0, :]


def _native(booster, x, kinds=KINDS):
    out = booster.predict(xgb.DMatrix(x, feature_types=kinds, enable_categorical=True), output_margin=True)
    return out.reshape(len(x), -1)


def _synthetic(n, seed):
    """[number with NaN, category 0..29 with NaN, number on a 0.5 grid, category 0..3]."""
    rng = np.random.default_rng(seed)
    x = np.stack([rng.normal(size=n), rng.integers(0, 30, n), rng.integers(0, 200, n) * 0.5,
                  rng.integers(0, 4, n)], axis=1).astype("float32")
    x[rng.random(n) < 0.1, 0] = np.nan
    x[rng.random(n) < 0.1, 1] = np.nan
    return x


def _hard_rows(x, compiled):
    """Test rows: unseen (55) and invalid (-1, 2**24, 1e30) categories, every numeric threshold as a value."""
    x = x.copy()
    x[:40, 1] = 55.0
    x[40:50, 1] = -1.0
    x[50:55, 1] = float(1 << 24)
    x[55:60, 3] = 1e30
    internal = compiled.left != np.arange(len(compiled.left))
    for column in (0, 2):
        thresholds = compiled.threshold[internal & ~compiled.categorical & (compiled.feature == column)]
        rows = slice(100 + 1000 * column, 100 + 1000 * column + len(thresholds[:900]))
        x[rows, column] = thresholds[:900]
    return x


@pytest.mark.parametrize("method", ["masks", "walk"])
@pytest.mark.parametrize("objective,extra", [("multi:softprob", {"num_class": 3}), ("reg:squarederror", {}),
                                             ("binary:logistic", {})])
@pytest.mark.parametrize("onehot", [1, 64], ids=["partition_splits", "one_hot_splits"])
def test_compiled_margins_equal_xgboost(objective, extra, method, onehot):
    x = _synthetic(6000, 0)
    if objective == "multi:softprob":
        y = np.where(np.isnan(x[:, 1]), 0, x[:, 1] % 3).astype(int)
    elif objective == "reg:squarederror":
        y = np.nan_to_num(x[:, 0]) * 3 + x[:, 2] + 5 * (x[:, 3] == 2) + np.isin(x[:, 1], [3, 7, 11])
    else:
        y = ((np.nan_to_num(x[:, 0]) > 0.2) ^ np.isin(x[:, 1], [1, 4, 7, 9, 22])).astype(int)
    booster = xgb.train({"objective": objective, "max_depth": 5, "eta": 0.3, "max_cat_to_onehot": onehot, **extra},
                        xgb.QuantileDMatrix(x, y, feature_types=KINDS, enable_categorical=True), 40)
    compiled = compile_boosters([booster])
    assert compiled.categorical.any() and compiled.default_left.any()   # the cases under test do occur
    test = _hard_rows(_synthetic(6000, 1), compiled)
    np.testing.assert_allclose(_margins(booster, test, method), _native(booster, test), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("method", ["masks", "walk"])
def test_several_boosters_of_different_lengths_in_one_layer_and_without_base(method):
    x = _synthetic(3000, 2)
    noise = np.random.default_rng(2).normal(size=len(x))
    y = (np.nan_to_num(x[:, 0]) + (x[:, 3] == 1) + noise > 0.5).astype(int)
    data = xgb.QuantileDMatrix(x, y, feature_types=KINDS, enable_categorical=True)
    short = xgb.train({"objective": "binary:logistic", "max_depth": 2}, data, 3)
    long = xgb.train({"objective": "binary:logistic", "max_depth": 9, "min_child_weight": 0, "seed": 1}, data, 30)
    compiled = compile_boosters([short, long])
    if method == "masks":
        assert compiled.leaf_masks.words > 1          # trees of more than 64 leaves: several mask words
    both = tree_margins(compiled, x, method).numpy()
    assert both.shape == (3000, 2, 1)
    np.testing.assert_allclose(both[:, 0], _native(short, x), atol=TOLERANCE)
    np.testing.assert_allclose(both[:, 1], _native(long, x), atol=TOLERANCE)
    base = compile_boosters([long]).base_margin[0, 0]
    np.testing.assert_allclose(_margins(long, x, method, include_base=False), _native(long, x) - base,
                               atol=TOLERANCE)


def test_mask_tables_too_large_fall_back_to_the_walk():
    x = _synthetic(2000, 4)
    y = (np.nan_to_num(x[:, 0]) > 0).astype(int)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 4}, xgb.DMatrix(x, y), 5)
    compiled = compile_boosters([booster])
    assert build_leaf_masks(compiled, max_bytes=64) is None
    assert build_leaf_masks(compiled).nbytes > 64
    stumps = compile_boosters([xgb.train({"objective": "binary:logistic", "max_depth": 4, "min_split_loss": 1e9},
                                         xgb.DMatrix(x, y), 3)])
    assert len(stumps.leaf_masks.features) == 0       # no splits at all: every tree is one leaf
    np.testing.assert_allclose(tree_margins(stumps, x, "masks").numpy()[:, 0], tree_margins(stumps, x, "walk")[:, 0])


def test_what_cannot_be_compiled_is_refused():
    x, y = _synthetic(500, 3), np.arange(500) % 2
    dart = xgb.train({"booster": "dart", "objective": "binary:logistic"}, xgb.DMatrix(x, y), 2)
    with pytest.raises(ValueError, match="gbtree"):
        compile_boosters([dart])
    hinge = xgb.train({"objective": "binary:hinge"}, xgb.DMatrix(x, y), 2)
    with pytest.raises(ValueError, match="objective"):
        compile_boosters([hinge])


def test_gbdt_member_from_the_adult_shards_equals_xgboost_on_the_whole_test_split(adult_data_dir):
    """The real path: the features stage's tree block → streamed XGBoost training → compiled margins."""
    schema, stats = artifacts.load_schema(adult_data_dir), artifacts.load_statistics(adult_data_dir)
    label = tff.fit_label(schema, stats, "income")
    compiled = tff.compile_features(tff.fit(tff.default_config(schema, stats, label="income"), stats, schema=schema))
    kinds = feature_types(compiled.tree_features)
    assert kinds.count("c") == 9 and kinds.count("q") == 6   # 8 strings + education-num's 16 integer codes
    data = lambda split: tff.make_dataset(adult_data_dir, split, compiled, 4096, label=label, blocks="tree",
                                          read=tff.ReadOptions(deterministic=True))
    member = TreeMembers(1, 1, TreeConfig(num_boost_round=150, params={"eta": 0.1}))
    member.fit(data("train"), None, task_from_label_spec(label), compiled.tree_features)
    rows, worst = 0, 0.0
    for inputs, _ in data("test"):
        tree = inputs["tree"].numpy()
        served = member(inputs).numpy()[:, 0, 0]
        native = _native(member.boosters[0], tree, kinds)[:, 0]
        worst = max(worst, float(np.abs(served - native).max()))
        rows += len(tree)
    assert rows == 16281 and worst <= TOLERANCE
