"""Statistics of the Adult training split against pandas/numpy computed from the raw file."""
import os

import numpy as np
import pandas as pd
import pytest

from tfpipe.demo import ADULT_COLUMNS
from tfpipe.pipelines.artifacts import load_statistics
from tfpipe.pipelines.statistics import NUM_QUANTILE_BUCKETS, TOP_K, DatasetStatsAccumulator, int_top_values


@pytest.fixture(scope="module")
def frame(adult_raw_dir):
    return pd.read_csv(os.path.join(adult_raw_dir, "adult.data"), names=ADULT_COLUMNS, skipinitialspace=True,
                       na_values=["?"], keep_default_na=False)


@pytest.fixture(scope="module")
def train_stats(adult_data_dir):
    stats = load_statistics(adult_data_dir, "train")
    return {feature.path.step[0]: feature for feature in stats.features}


def test_example_count(adult_data_dir, frame):
    assert load_statistics(adult_data_dir, "train").num_examples == len(frame) == 32561


@pytest.mark.parametrize("column", ["age", "fnlwgt", "capital-gain", "hours-per-week"])
def test_numeric_statistics_match_pandas(train_stats, frame, column):
    stats = train_stats[column].num_stats
    values = frame[column].to_numpy(dtype=float)
    assert stats.common_stats.num_non_missing == values.size and stats.common_stats.num_missing == 0
    assert stats.mean == pytest.approx(values.mean(), rel=1e-12)
    assert stats.std_dev == pytest.approx(values.std(ddof=0), rel=1e-9)
    assert (stats.min, stats.max) == (values.min(), values.max())
    assert stats.num_zeros == int((values == 0).sum())
    quantiles = next(h for h in stats.histograms if h.type == h.QUANTILES)
    edges = np.array([quantiles.buckets[0].low_value] + [b.high_value for b in quantiles.buckets])
    fractions = np.linspace(0, 1, NUM_QUANTILE_BUCKETS + 1)
    ordered = np.sort(values)
    # Each edge must be a value whose rank range contains the asked rank, within a 0.5% rank error.
    low = np.searchsorted(ordered, edges, side="left") / values.size
    high = np.searchsorted(ordered, edges, side="right") / values.size
    error = np.maximum(0, np.maximum(low - fractions, fractions - high))
    assert error.max() <= 0.005
    standard = next(h for h in stats.histograms if h.type == h.STANDARD)
    assert sum(b.sample_count for b in standard.buckets) == pytest.approx(values.size, rel=1e-9)


@pytest.mark.parametrize("column", ["workclass", "education", "native-country", "income"])
def test_string_statistics_match_pandas(train_stats, frame, column):
    stats = train_stats[column].string_stats
    present = frame[column].dropna()
    counts = present.value_counts()
    assert stats.common_stats.num_missing == frame[column].isna().sum()
    assert stats.common_stats.num_non_missing == present.size
    assert stats.unique == counts.size
    top = {value.value: value.frequency for value in stats.top_values}
    assert top == counts.to_dict()
    frequencies = [value.frequency for value in stats.top_values]
    assert frequencies == sorted(frequencies, reverse=True)
    assert stats.avg_length == pytest.approx(present.str.len().mean(), rel=1e-6)  # a float32 field


@pytest.mark.parametrize("column", ["education-num", "age", "capital-gain"])
def test_integer_value_counts_match_pandas(train_stats, frame, column):
    """Integers keep exact frequencies and distinct counts too (custom_stats), so integer codes can be fitted."""
    top, unique = int_top_values(train_stats[column])
    counts = frame[column].value_counts()
    assert unique == counts.size
    expected = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_K]
    assert top == [(int(v), int(c)) for v, c in expected]
    assert train_stats[column].num_stats.mean == pytest.approx(frame[column].mean(), rel=1e-12)   # still a number


def test_many_distinct_integers_keep_only_an_estimated_distinct_count(train_stats, frame):
    top, unique = int_top_values(train_stats["fnlwgt"])                  # 21,648 distinct values
    assert top == [] and unique == pytest.approx(frame["fnlwgt"].nunique(), rel=0.05)


def test_integer_counts_merge_across_workers_and_skip_other_kinds():
    import pyarrow as pa

    rng = np.random.default_rng(0)
    values = rng.integers(-5, 40, 3000)
    whole = DatasetStatsAccumulator("train")
    whole.add_batch({"c": pa.array(values), "x": pa.array(values * 0.5)}, {"c": "INT", "x": "FLOAT"})
    parts = [DatasetStatsAccumulator("train") for _ in range(3)]
    for part, chunk in zip(parts, np.array_split(values, 3)):
        part.add_batch({"c": pa.array(chunk), "x": pa.array(chunk * 0.5)}, {"c": "INT", "x": "FLOAT"})
    merged = parts[0].merge(parts[1]).merge(parts[2])
    by_name = {f.path.step[0]: f for f in merged.to_proto().features}
    assert int_top_values(by_name["c"]) == int_top_values(whole.to_proto().features[0])
    assert int_top_values(by_name["c"])[1] == len(set(values.tolist()))
    assert int_top_values(by_name["x"]) is None
