"""Full-pass dataset statistics, computed per batch and merged (a Beam ``CombineFn`` wraps this).

Per feature: counts of present/missing values and values per example; for numbers mean, standard deviation
(Chan's parallel update, numerically stable), min/max, zeros and quantiles (:class:`QuantileSketch`); for
strings exact value frequencies (while at most ``max_tracked_values`` distinct values are seen per split),
a distinct count (exact below the cap, then a k-minimum-values estimate) and the average length. Integers get
the same value frequencies and distinct count as strings, besides their number statistics: ``num_stats`` and
``string_stats`` are exclusive in the proto, so they go to ``custom_stats`` ``"unique"`` (num) and
``"top_values"`` (a rank histogram, label = the integer as text; left empty above ``MAX_TRACKED_INT_VALUES``
distinct values, where only the estimated distinct count is kept), read by :func:`int_top_values` — what lets
``tfpipe.features`` fit vocabularies of integer codes. The result is a ``tensorflow_metadata``
``DatasetFeatureStatisticsList``, one dataset per split.

Example::

    >>> import pyarrow as pa
    >>> stats = DatasetStatsAccumulator("train")
    >>> stats.add_batch({"age": pa.array([39, 50, None])}, {"age": "INT"})
    >>> proto = stats.to_proto()
    >>> proto.features[0].num_stats.mean
    44.5
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tensorflow_metadata.proto.v0 import statistics_pb2

from tfpipe.pipelines.quantiles import QuantileSketch

NUM_QUANTILE_BUCKETS = 100
NUM_STANDARD_BUCKETS = 10
TOP_K = 1000
MAX_TRACKED_VALUES = 200_000
MAX_TRACKED_INT_VALUES = 10_000   # integers with more distinct values get a distinct count only
KMV_SIZE = 4096
_HASH_SPACE = float(2 ** 64)
UNIQUE_STAT = "unique"
TOP_VALUES_STAT = "top_values"


def _list_parts(array: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(number of values of each present row, flat values) of a scalar or list column."""
    present = array.drop_null()
    if pa.types.is_list(present.type) or pa.types.is_large_list(present.type):
        return pc.list_value_length(present).to_numpy(zero_copy_only=False).astype(np.int64), pc.list_flatten(present)
    return np.ones(len(present), np.int64), present


class FeatureStatsAccumulator:
    """Mergeable statistics of one feature in one split."""

    def __init__(self, kind: str):
        self.kind = kind
        self.num_non_missing = 0
        self.num_missing = 0
        self.min_num_values = None
        self.max_num_values = None
        self.tot_num_values = 0
        # numbers
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.num_zeros = 0
        self.num_nan = 0
        self.sketch = QuantileSketch()
        # strings
        self.value_counts: dict[bytes, int] = {}
        self.counts_truncated = False
        self.total_length = 0
        self.kmv = np.empty(0, np.uint64)

    def add(self, array: pa.Array) -> None:
        """Adds one column of a batch (scalar or list; nulls are missing values)."""
        missing = array.null_count
        lengths, flat = _list_parts(array)
        self.num_missing += missing
        self.num_non_missing += lengths.size
        if lengths.size:
            low, high = int(lengths.min()), int(lengths.max())
            self.min_num_values = low if self.min_num_values is None else min(self.min_num_values, low)
            self.max_num_values = high if self.max_num_values is None else max(self.max_num_values, high)
            self.tot_num_values += int(lengths.sum())
        if self.kind == "BYTES":
            self._add_strings(flat)
        else:
            self._add_numbers(flat.to_numpy(zero_copy_only=False).astype(np.float64))
            if self.kind == "INT":
                self._add_counts(flat.cast(pa.int64()))

    def _add_numbers(self, values: np.ndarray) -> None:
        nan = np.isnan(values)
        self.num_nan += int(nan.sum())
        values = values[~nan]
        if values.size == 0:
            return
        batch_mean = float(values.mean())
        batch_m2 = float(((values - batch_mean) ** 2).sum())
        total = self.count + values.size
        delta = batch_mean - self.mean
        self.m2 += batch_m2 + delta * delta * self.count * values.size / total
        self.mean += delta * values.size / total
        self.count = total
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))
        self.num_zeros += int((values == 0).sum())
        self.sketch.add(values[np.isfinite(values)])

    def _add_strings(self, values: pa.Array) -> None:
        if len(values) == 0:
            return
        values = values.cast(pa.binary()) if values.type != pa.binary() else values
        self.total_length += int(pc.sum(pc.binary_length(values)).as_py() or 0)
        self._add_counts(values)

    def _add_counts(self, values: pa.Array) -> None:
        """Exact value frequencies (bytes or int keys) and distinct-count hashes of a batch's present values."""
        if len(values) == 0:
            return
        if self.kind == "INT" and self.counts_truncated:   # counting stopped: only the distinct-count hashes
            self._add_kmv(pd.util.hash_array(pc.unique(values).to_numpy(zero_copy_only=False), categorize=False))
            return
        counted = pc.value_counts(values)
        uniques = counted.field("values")
        if self.kind == "INT" and len(uniques) > MAX_TRACKED_INT_VALUES:   # would be dropped below: hash only
            self._add_kmv(pd.util.hash_array(uniques.to_numpy(zero_copy_only=False), categorize=False))
            self.value_counts = {}
            self.counts_truncated = True
            return
        keys = uniques.to_pylist()
        for value, count in zip(keys, counted.field("counts").to_pylist()):
            self.value_counts[value] = self.value_counts.get(value, 0) + count
        as_numpy = uniques.to_numpy(zero_copy_only=False) if self.kind == "INT" else np.array(keys, dtype=object)
        self._add_kmv(pd.util.hash_array(as_numpy, categorize=False))
        self._limit_tracked()

    def _add_kmv(self, hashes: np.ndarray) -> None:
        self.kmv = np.unique(np.concatenate([self.kmv, hashes.astype(np.uint64)]))[:KMV_SIZE]

    def _limit_tracked(self) -> None:
        if self.kind == "INT" and (self.counts_truncated or len(self.value_counts) > MAX_TRACKED_INT_VALUES):
            # Many distinct integers: a measurement or an id, not codes. Stop counting (keeps merges cheap);
            # the distinct count goes on from the k-minimum-values hashes.
            self.value_counts = {}
            self.counts_truncated = True
            return
        if len(self.value_counts) > MAX_TRACKED_VALUES:
            kept = sorted(self.value_counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_TRACKED_VALUES // 2]
            self.value_counts = dict(kept)
            self.counts_truncated = True

    def merge(self, other: "FeatureStatsAccumulator") -> None:
        """Adds ``other`` (same feature, another batch or worker) into this accumulator."""
        self.num_non_missing += other.num_non_missing
        self.num_missing += other.num_missing
        for name, pick in (("min_num_values", min), ("max_num_values", max)):
            mine, theirs = getattr(self, name), getattr(other, name)
            setattr(self, name, theirs if mine is None else mine if theirs is None else pick(mine, theirs))
        self.tot_num_values += other.tot_num_values
        if other.count:
            total = self.count + other.count
            delta = other.mean - self.mean
            self.m2 += other.m2 + delta * delta * self.count * other.count / total
            self.mean += delta * other.count / total
            self.count = total
        self.min, self.max = min(self.min, other.min), max(self.max, other.max)
        self.num_zeros += other.num_zeros
        self.num_nan += other.num_nan
        self.sketch.merge(other.sketch)
        for value, count in other.value_counts.items():
            self.value_counts[value] = self.value_counts.get(value, 0) + count
        self.counts_truncated |= other.counts_truncated
        self.total_length += other.total_length
        self._add_kmv(other.kmv)
        self._limit_tracked()

    def unique_count(self) -> int:
        """Distinct values: exact while tracked, else a k-minimum-values estimate."""
        if not self.counts_truncated:
            return len(self.value_counts)
        if self.kmv.size < KMV_SIZE:
            return int(self.kmv.size)
        return int(round((KMV_SIZE - 1) / (float(self.kmv[-1]) / _HASH_SPACE)))

    def to_proto(self, name: str) -> statistics_pb2.FeatureNameStatistics:
        """The feature's ``FeatureNameStatistics``."""
        feature = statistics_pb2.FeatureNameStatistics()
        feature.path.step.append(name)
        feature.type = {"INT": feature.INT, "FLOAT": feature.FLOAT, "BYTES": feature.STRING}[self.kind]
        common = (feature.string_stats if self.kind == "BYTES" else feature.num_stats).common_stats
        common.num_non_missing = self.num_non_missing
        common.num_missing = self.num_missing
        common.min_num_values = self.min_num_values or 0
        common.max_num_values = self.max_num_values or 0
        common.tot_num_values = self.tot_num_values
        common.avg_num_values = self.tot_num_values / self.num_non_missing if self.num_non_missing else 0.0
        if self.kind == "BYTES":
            self._fill_string_stats(feature.string_stats)
        else:
            self._fill_num_stats(feature.num_stats)
            if self.kind == "INT" and (self.value_counts or self.counts_truncated):
                feature.custom_stats.add(name=UNIQUE_STAT, num=float(self.unique_count()))
                top = feature.custom_stats.add(name=TOP_VALUES_STAT)
                for rank, (value, count) in enumerate(self._ranked()[:TOP_K]):
                    top.rank_histogram.buckets.add(low_rank=rank, high_rank=rank, label=str(value),
                                                   sample_count=count)
        return feature

    def _ranked(self) -> list:
        return sorted(self.value_counts.items(), key=lambda item: (-item[1], item[0]))

    def _fill_num_stats(self, stats) -> None:
        if self.count == 0:
            return
        stats.mean = self.mean
        stats.std_dev = math.sqrt(self.m2 / self.count)
        stats.min, stats.max = self.min, self.max
        stats.num_zeros = self.num_zeros
        if self.sketch.count == 0:
            return
        fractions = np.linspace(0.0, 1.0, NUM_QUANTILE_BUCKETS + 1)
        edges = self.sketch.quantiles(fractions)
        stats.median = float(self.sketch.quantiles([0.5])[0])
        quantiles = stats.histograms.add(type=statistics_pb2.Histogram.QUANTILES)
        per_bucket = self.sketch.count / NUM_QUANTILE_BUCKETS
        for low, high in zip(edges[:-1], edges[1:]):
            quantiles.buckets.add(low_value=float(low), high_value=float(high), sample_count=per_bucket)
        standard = stats.histograms.add(type=statistics_pb2.Histogram.STANDARD)
        low, high = float(edges[0]), float(edges[-1])
        bounds = np.linspace(low, high, NUM_STANDARD_BUCKETS + 1) if high > low else np.array([low, high])
        cdf = self.sketch.rank_fraction(bounds) * self.sketch.count
        cdf[0] = 0.0
        for (a, b), count in zip(zip(bounds[:-1], bounds[1:]), np.diff(cdf)):
            standard.buckets.add(low_value=float(a), high_value=float(b), sample_count=float(count))
        standard.num_nan = self.num_nan
        quantiles.num_nan = self.num_nan

    def _fill_string_stats(self, stats) -> None:
        stats.unique = self.unique_count()
        ranked = self._ranked()
        stats.avg_length = self.total_length / self.tot_num_values if self.tot_num_values else 0.0
        for rank, (value, count) in enumerate(ranked[:TOP_K]):
            text = value.decode("utf-8", errors="replace")
            stats.top_values.add(value=text, frequency=count)
            stats.rank_histogram.buckets.add(low_rank=rank, high_rank=rank, label=text, sample_count=count)


class DatasetStatsAccumulator:
    """Statistics of one split: a :class:`FeatureStatsAccumulator` per feature, in schema order."""

    def __init__(self, split: str):
        self.split = split
        self.num_examples = 0
        self.features: dict[str, FeatureStatsAccumulator] = {}

    def add_batch(self, columns: Mapping[str, pa.Array], kinds: Mapping[str, str]) -> None:
        """Adds a batch of validated columns (every column has the same length)."""
        lengths = {len(array) for array in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of one batch differ in length: {sorted(lengths)}")
        self.num_examples += lengths.pop() if lengths else 0
        for name, array in columns.items():
            if name not in self.features:
                self.features[name] = FeatureStatsAccumulator(kinds[name])
            self.features[name].add(array)

    def merge(self, other: "DatasetStatsAccumulator") -> "DatasetStatsAccumulator":
        """Adds ``other`` (same split) into this accumulator; returns self."""
        self.num_examples += other.num_examples
        for name, feature in other.features.items():
            if name in self.features:
                self.features[name].merge(feature)
            else:
                self.features[name] = feature
        return self

    def to_proto(self, feature_order=None) -> statistics_pb2.DatasetFeatureStatistics:
        """The split's ``DatasetFeatureStatistics`` (features in ``feature_order`` if given)."""
        dataset = statistics_pb2.DatasetFeatureStatistics(name=self.split, num_examples=self.num_examples)
        for name in feature_order or list(self.features):
            if name in self.features:
                dataset.features.append(self.features[name].to_proto(name))
        return dataset


def int_top_values(stats: statistics_pb2.FeatureNameStatistics) -> tuple[list[tuple[int, int]], int] | None:
    """``([(value, frequency), ...] most frequent first, distinct count)`` of an integer feature, or ``None`` when
    its statistics have no value counts (not an integer feature, or written before they were kept)."""
    custom = {c.name: c for c in stats.custom_stats}
    if TOP_VALUES_STAT not in custom:
        return None
    top = [(int(b.label), int(b.sample_count)) for b in custom[TOP_VALUES_STAT].rank_histogram.buckets]
    unique = int(custom[UNIQUE_STAT].num) if UNIQUE_STAT in custom else len(top)
    return top, unique
