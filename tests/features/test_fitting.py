"""fit fills vocabularies, quantile boundaries and moments from the statistics alone."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import tiny_rows
from tfpipe import features as tff
from tfpipe.features import artifacts
from tfpipe.features.fitting import log_moments, quantile_boundaries


def _train_values(key):
    return [r[key] for r in tiny_rows(400, 0)]


def test_numeric_moments_and_dtype_come_from_statistics(tiny_dir):
    z, mm = tff.fit([tff.numeric_column("age", normalizer="zscore"),
                     tff.numeric_column("hours-per-week", normalizer="minmax")], tiny_dir)
    ages = np.array(_train_values("age"), dtype=float)
    assert z.dtype == "int64" and z.mean == pytest.approx(ages.mean()) and z.std == pytest.approx(ages.std())
    assert z.default_value == pytest.approx(ages.mean())
    hours = np.array([h for h in _train_values("hours-per-week") if h is not None])
    assert mm.dtype == "float32" and mm.min == pytest.approx(hours.min()) and mm.max == pytest.approx(hours.max())


def test_log_moments_approximate_the_data(tiny_dir):
    (fitted,) = tff.fit([tff.numeric_column("hours-per-week", normalizer="log", default_value=1.5)], tiny_dir)
    hours = np.array([h for h in _train_values("hours-per-week") if h is not None])
    logs = np.log1p(np.maximum(hours, 0))
    assert fitted.default_value == 1.5  # given values are kept
    assert fitted.mean == pytest.approx(logs.mean(), abs=0.02)
    assert fitted.std == pytest.approx(logs.std(), rel=0.1)


def test_quantile_boundaries_split_the_data_evenly(tiny_dir):
    stats = artifacts.feature_statistics(artifacts.load_statistics(tiny_dir), "age", "train")
    bounds = quantile_boundaries(stats, 4)
    ages = np.array(_train_values("age"))
    assert len(bounds) == 3 and list(bounds) == sorted(bounds)
    fractions = np.bincount(np.searchsorted(bounds, ages, side="right"), minlength=4) / len(ages)
    assert np.all(np.abs(fractions - 0.25) < 0.05), fractions
    (bucketized,) = tff.fit([tff.bucketized_column(tff.numeric_column("age"), num_buckets=4)], tiny_dir)
    assert bucketized.boundaries == bounds and bucketized.num_ids == 4


def test_quantile_boundaries_of_a_mostly_zero_column_spread_over_its_nonzero_values():
    from tensorflow_metadata.proto.v0 import statistics_pb2

    stats = statistics_pb2.FeatureNameStatistics()
    h = stats.num_stats.histograms.add(type=statistics_pb2.Histogram.QUANTILES)
    edges = [0.0] * 91 + list(np.linspace(10, 100, 10))  # 90% zeros, like capital-gain
    for low, high in zip(edges[:-1], edges[1:]):
        h.buckets.add(low_value=low, high_value=high, sample_count=10)
    bounds = quantile_boundaries(stats, 10)
    # The equal-count edges all fall on 0 (the minimum, no boundary); the 9 boundaries then come from the
    # distinct non-zero quantile edges, so the non-zero range keeps its buckets (Adult's capital-gain).
    assert bounds == tuple(sorted(set(bounds))) and len(bounds) == 9 and bounds[0] == 10.0
    assert set(bounds) <= set(np.linspace(10, 100, 10))
    assert log_moments(stats)[0] > 0


def test_vocabulary_is_top_k_by_frequency_with_min_count(tiny_dir):
    colors = _train_values("color")
    counts = {c: colors.count(c) for c in set(colors)}
    by_frequency = tuple(sorted(counts, key=lambda c: (-counts[c], c)))
    full, top2, frequent = (tff.fit([d], tiny_dir)[0] for d in [  # one name per set: fitted one by one
        tff.categorical_column_with_vocabulary_list("color"),
        tff.indicator_column(tff.categorical_column_with_vocabulary_list("color", top_k=2)),
        tff.embedding_column(tff.categorical_column_with_vocabulary_list("color", min_count=30), 2)])
    assert full.vocabulary == by_frequency and full.dtype == "string" and full.multivalent is False
    assert top2.categorical.vocabulary == by_frequency[:2]
    assert frequent.categorical.vocabulary == tuple(c for c in by_frequency if counts[c] >= 30)
    assert len(frequent.categorical.vocabulary) < len(by_frequency)


def test_multivalent_and_crossed_and_file_vocabularies(tiny_dir, tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("d\nc\nb\n")
    tags, from_file, crossed, ident = (tff.fit([d], tiny_dir)[0] for d in [
        tff.categorical_column_with_hash_bucket("tags", 10),
        tff.categorical_column_with_vocabulary_file("tags", str(path), vocabulary_size=2),
        tff.crossed_column(["color", tff.categorical_column_with_identity("code", 10)], 20),
        tff.indicator_column(tff.categorical_column_with_identity("code", 10))])
    assert tags.multivalent is True and tags.dtype == "string"
    assert from_file.vocabulary == ("d", "c") and from_file.multivalent is True
    assert crossed.key_dtypes == ("string", None) and crossed.keys[1].multivalent is False and crossed.is_fitted
    assert ident.categorical.multivalent is False and ident.is_fitted


def test_integer_vocabulary_is_fitted_from_the_value_counts(tiny_dir, adult_dir):
    [code] = tff.fit([tff.categorical_column_with_vocabulary_list("code", top_k=4)], tiny_dir)
    codes = [r["code"] for r in tiny_rows(400, 0)]
    ranked = sorted(set(codes), key=lambda v: (-codes.count(v), v))
    assert code.dtype == "int64" and code.vocabulary == tuple(ranked[:4])
    # The real pipeline's statistics (Adult's education-num: 16 codes, every one seen >= 5 times).
    [education] = tff.fit([tff.categorical_column_with_vocabulary_list("education-num", min_count=5)], adult_dir)
    assert sorted(education.vocabulary) == list(range(1, 17))


def test_fit_rejects_what_statistics_cannot_give(tiny_dir):
    from tfpipe.features import artifacts

    stats = artifacts.load_statistics(tiny_dir)
    for dataset in stats.datasets:
        for feature in dataset.features:
            del feature.custom_stats[:]      # statistics of an older tfpipe: no integer value counts
    with pytest.raises(ValueError, match="value counts"):
        tff.fit([tff.categorical_column_with_vocabulary_list("code")], stats, schema=tiny_dir)
    with pytest.raises(ValueError, match="single-valued"):
        tff.fit([tff.crossed_column(["tags", "color"], 10)], tiny_dir)
    with pytest.raises(ValueError, match="string feature"):
        tff.fit([tff.numeric_column("color")], tiny_dir)
    with pytest.raises(ValueError, match="min_count"):
        tff.fit([tff.categorical_column_with_vocabulary_list("color", min_count=10**6)], tiny_dir)
    with pytest.raises(KeyError, match="split"):
        tff.fit([tff.numeric_column("age")], tiny_dir, split="validation")


def test_fit_keeps_given_values_and_is_idempotent(tiny_dir):
    given = tff.categorical_column_with_vocabulary_list("color", ["blue", "red"], num_oov_buckets=0)
    fitted = tff.fit([given, tff.numeric_column("age", normalizer="zscore")], tiny_dir)
    assert fitted[0].vocabulary == ("blue", "red")
    assert tff.fit(fitted, tiny_dir) == fitted and tff.is_fitted(fitted)
