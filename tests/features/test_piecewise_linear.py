"""piecewise_linear_column: fitted bins from the statistics, the encoding against a NumPy reference (values
outside the fitted range, exactly on edges, missing), its place in the dense block, and the config round trip."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfpipe import features as tff
from tfpipe.features import artifacts


def reference(x: np.ndarray, edges, default: float) -> np.ndarray:
    """PLE as written in Gorishniy et al. 2022 (first bin unclipped below, last unclipped above)."""
    edges = np.asarray(edges, np.float64)
    x = np.where(np.isnan(x), default, x)[:, None]
    ratio = (x - edges[:-1]) / np.diff(edges)
    if len(edges) == 2:
        return ratio
    low = np.r_[-np.inf, np.zeros(len(edges) - 2)]
    high = np.r_[np.ones(len(edges) - 2), np.inf]
    return np.clip(ratio, low, high)


@pytest.mark.parametrize("edges", [[0.0, 1.0], [-2.0, 0.5, 3.0], [17.0, 25.0, 33.0, 41.0, 60.0, 90.0]])
def test_encoding_equals_the_numpy_reference(edges):
    rng = np.random.default_rng(0)
    low, high = edges[0], edges[-1]
    x = np.concatenate([rng.uniform(low - 10, high + 10, 500), edges, [np.nan, low - 1e6, high + 1e6]])
    layer = tff.compile_features(
        [tff.piecewise_linear_column(tff.NumericColumn("x", default_value=3.0, dtype="float32"), boundaries=edges)]
    ).preprocessor
    dense = layer({"x": tf.constant(x[:, None], tf.float32)})["dense"].numpy()
    np.testing.assert_allclose(dense, reference(x.astype("float32").astype("float64"), edges, 3.0), rtol=1e-5,
                               atol=1e-5)
    inside = (x >= low) & (x <= high)
    assert dense[inside].min() >= 0 and dense[inside].max() <= 1     # in range: every output in [0, 1]
    assert dense[-2, 0] < -1e3 and dense[-1, -1] > 1e3                 # outside: linear extrapolation


def test_bins_are_fitted_from_the_statistics_and_land_in_the_dense_block(tiny_dir):
    age = tff.numeric_column("age", normalizer="zscore")
    hours = tff.numeric_column("hours-per-week")
    fitted = tff.fit([age, tff.piecewise_linear_column(age, num_bins=8), tff.piecewise_linear_column(hours, num_bins=4),
                      tff.numeric_column("code", missing_indicator=True)], tiny_dir)
    stats = artifacts.feature_statistics(artifacts.split_statistics(artifacts.load_statistics(tiny_dir), "train"),
                                         "age").num_stats
    edges = fitted[1].boundaries
    assert edges[0] == stats.min and edges[-1] == stats.max and len(edges) == 9
    assert fitted[1].name == "age_piecewise_linear" and fitted[1].width == 8
    compiled = tff.compile_features(fitted)
    assert compiled.dense_slices == {"age": (0, 1), "code": (1, 2), "age_piecewise_linear": (2, 10),
                                     "hours-per-week_piecewise_linear": (10, 14), "code_missing": (14, 15)}
    assert [f.name for f in compiled.tree_features] == ["age", "hours-per-week", "code"]   # raw numbers once
    inputs, _ = next(iter(tff.make_dataset(tiny_dir, "train", compiled, 400, label="label",
                                           read=tff.ReadOptions(deterministic=True))))
    encoded = inputs["dense"].numpy()[:, 2:10]
    # Equal-count bins: every bin is full for about the same share of rows.
    full = (encoded >= 1.0).mean(axis=0)[:-1]
    assert np.all(np.diff(full) < 0) and abs(full[3] - 0.5) < 0.1
    hours_raw = tff.make_dataset(tiny_dir, "train", compiled, 400, label=None, blocks="tree",
                                 read=tff.ReadOptions(deterministic=True))
    tree = next(iter(hours_raw))["tree"].numpy()
    missing = np.isnan(tree[:, 1])
    assert missing.any()
    expected = reference(np.full(1, np.nan), fitted[2].boundaries, fitted[2].source.default_value)[0]
    np.testing.assert_allclose(inputs["dense"].numpy()[missing][:, 10:14], np.tile(expected, (missing.sum(), 1)),
                               rtol=1e-5)


def test_constant_column_gets_one_bin_and_invalid_definitions_are_refused():
    from tensorflow_metadata.proto.v0 import statistics_pb2

    from tfpipe.features.fitting import piecewise_linear_edges

    stats = statistics_pb2.FeatureNameStatistics()
    stats.num_stats.min = stats.num_stats.max = 4.0
    h = stats.num_stats.histograms.add(type=statistics_pb2.Histogram.QUANTILES)
    h.buckets.add(low_value=4.0, high_value=4.0, sample_count=10)
    assert piecewise_linear_edges(stats, 8) == (4.0, 5.0)
    source = tff.numeric_column("a")
    for make in (lambda: tff.piecewise_linear_column(source),
                 lambda: tff.piecewise_linear_column(source, boundaries=[1.0]),
                 lambda: tff.piecewise_linear_column(source, boundaries=[1.0, 1.0, 2.0]),
                 lambda: tff.piecewise_linear_column(source, boundaries=[0.0, float("inf")]),
                 lambda: tff.piecewise_linear_column(source, num_bins=0),
                 lambda: tff.piecewise_linear_column(tff.categorical_column_with_identity("a", 3), num_bins=4)):
        with pytest.raises(ValueError):
            make()
