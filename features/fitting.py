"""Fills the missing values of feature definitions from the Beam statistics, without a pass over the data.

Vocabularies come from ``string_stats.top_values`` (exact frequencies, at most 1000 values; for integer codes
the value counts ``tfpipe preprocess`` keeps in ``custom_stats``), quantile bucket
boundaries from the ``QUANTILES`` histogram, mean/std/min/max from ``num_stats``; dtypes and multi-valuedness
from the schema (else the statistics). Values already present in a definition are kept.

Example (``adult``: a ``tfpipe preprocess`` output directory of Adult rows)::

    >>> from tfpipe.features import numeric_column
    >>> from tfpipe.features.artifacts import load_statistics
    >>> fitted = fit([numeric_column("age", normalizer="zscore")], load_statistics(adult))
    >>> round(fitted[0].mean, 2), round(fitted[0].std, 2)
    (38.82, 13.57)
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
from tensorflow_metadata.proto.v0 import statistics_pb2

from tfpipe.features import artifacts
from tfpipe.pipelines.statistics import int_top_values
from tfpipe.features.definitions import (
    BucketizedColumn, CrossedColumn, Definition, EmbeddingColumn, HashBucketColumn, IdentityColumn,
    IndicatorColumn, NumericColumn, PeriodicColumn, PiecewiseLinearColumn, VocabularyFileColumn,
    validate_definitions)


class _Context:
    """The schema and the statistics of one split, with per-feature look-ups."""

    def __init__(self, statistics, schema, split):
        self.schema = artifacts.load_schema(schema)
        self.dataset = artifacts.split_statistics(artifacts.load_statistics(statistics), split)

    def stats(self, key: str) -> statistics_pb2.FeatureNameStatistics | None:
        try:
            return artifacts.feature_statistics(self.dataset, key)
        except KeyError:
            return None

    def require_stats(self, key: str, what: str) -> statistics_pb2.FeatureNameStatistics:
        stats = self.stats(key)
        if stats is None:
            raise ValueError(f"{key!r}: no statistics to fit {what} from (split {self.dataset.name!r})")
        return stats

    def dtype(self, key: str) -> str:
        return artifacts.feature_dtype(key, self.schema, self.stats(key))

    def multivalent(self, key: str) -> bool:
        return artifacts.is_multivalent(key, self.schema, self.stats(key))


def quantile_points(stats: statistics_pb2.FeatureNameStatistics) -> tuple[np.ndarray, np.ndarray]:
    """(values, cumulative fractions) of the QUANTILES histogram: piecewise-linear CDF of the feature."""
    for histogram in stats.num_stats.histograms:
        if histogram.type == statistics_pb2.Histogram.QUANTILES and len(histogram.buckets):
            buckets = histogram.buckets
            counts = np.array([b.sample_count for b in buckets], dtype=np.float64)
            total = counts.sum()
            if total <= 0:
                break
            values = np.array([buckets[0].low_value] + [b.high_value for b in buckets], dtype=np.float64)
            fractions = np.concatenate([[0.0], np.cumsum(counts) / total])
            return values, fractions
    raise ValueError(f"{stats.path.step or stats.name}: statistics have no QUANTILES histogram")


def quantile_boundaries(stats: statistics_pb2.FeatureNameStatistics, num_buckets: int) -> tuple[float, ...]:
    """Boundaries of ``num_buckets`` equal-count buckets (duplicates removed; when values repeat so much that
    fewer remain, the other distinct quantile edges fill in, so a mostly-zero column still gets buckets).

    Example::

        >>> from tfpipe.features.artifacts import feature_statistics, load_statistics
        >>> quantile_boundaries(feature_statistics(load_statistics(adult), "age", split="train"), 4)
        (28.0, 37.0, 48.0)
    """
    values, fractions = quantile_points(stats)
    targets = np.arange(1, num_buckets) / num_buckets
    # For each target fraction, the smallest value whose CDF reaches it (exact at histogram edges).
    bounds = []
    for q in targets:
        i = int(np.searchsorted(fractions, q - 1e-12, side="left"))
        i = min(max(i, 1), len(values) - 1)
        f0, f1, v0, v1 = fractions[i - 1], fractions[i], values[i - 1], values[i]
        bounds.append(v1 if f1 <= f0 else v0 + (v1 - v0) * (q - f0) / (f1 - f0))
    low, high = values[0], values[-1]
    unique = sorted({float(b) for b in bounds if low < b <= high})
    if len(unique) < num_buckets - 1:
        # Many equal values (e.g. a money column that is mostly 0) merge equal-count buckets; spread the
        # missing boundaries over the other distinct quantile edges, so the rest of the range keeps buckets.
        spare = sorted({float(v) for v in values if low < v <= high} - set(unique))
        wanted = num_buckets - 1 - len(unique)
        if spare:
            picks = np.unique(np.linspace(0, len(spare) - 1, min(wanted, len(spare))).round().astype(int))
            unique = sorted(set(unique) | {spare[i] for i in picks})
    return tuple(unique) if unique else (float(high if high > low else low),)


def piecewise_linear_edges(stats: statistics_pb2.FeatureNameStatistics, num_bins: int) -> tuple[float, ...]:
    """Bin edges for :func:`~tfpipe.features.piecewise_linear_column`: min, the ``num_bins`` equal-count quantile
    boundaries strictly inside (min, max), max. A constant column gets one bin ``[min, min + 1]``."""
    low, high = float(stats.num_stats.min), float(stats.num_stats.max)
    inner = quantile_boundaries(stats, num_bins) if num_bins > 1 else ()
    edges = sorted({low, high, *(float(b) for b in inner if low < b < high)})
    return tuple(edges) if len(edges) >= 2 else (low, low + 1.0)


def log_moments(stats: statistics_pb2.FeatureNameStatistics) -> tuple[float, float]:
    """Mean and std of ``log1p(max(x, 0))``, integrated over the QUANTILES histogram (uniform within buckets)."""
    values, fractions = quantile_points(stats)
    weights = np.diff(fractions)
    grid = np.linspace(0.0, 1.0, 9)
    low, high = values[:-1, None], values[1:, None]
    samples = np.log1p(np.maximum(low + (high - low) * grid[None, :], 0.0))
    first = (samples.mean(axis=1) * weights).sum()
    second = ((samples ** 2).mean(axis=1) * weights).sum()
    return float(first), float(math.sqrt(max(second - first * first, 0.0)))


def top_vocabulary(stats: statistics_pb2.FeatureNameStatistics, top_k: int | None, min_count: int,
                   dtype: str = "string") -> tuple:
    """Values by frequency (desc, then value) with ``frequency >= min_count``, at most ``top_k``: strings from
    ``string_stats.top_values``, integers from the value counts ``tfpipe preprocess`` keeps for them
    (:func:`tfpipe.pipelines.statistics.int_top_values`)."""
    if dtype == "int64":
        counted = int_top_values(stats)
        if counted is None:
            raise ValueError(f"{stats.path.step[-1] if stats.path.step else stats.name!r}: these statistics have no "
                             "value counts of this integer feature (made by an older tfpipe?); give vocabulary_list "
                             "or use categorical_column_with_identity")
        entries = [(-count, value) for value, count in counted[0] if count >= min_count]
    else:
        entries = [(-v.frequency, v.value) for v in stats.string_stats.top_values
                   if v.frequency >= min_count and v.value]
    vocabulary = tuple(value for _, value in sorted(entries))
    return vocabulary[:top_k] if top_k is not None else vocabulary


def read_vocabulary_file(path: str, size: int | None, dtype: str) -> tuple:
    """The first ``size`` non-empty lines of a vocabulary file (ints when ``dtype == "int64"``)."""
    import tensorflow as tf  # gfile reads local and remote paths

    with tf.io.gfile.GFile(path, "r") as f:
        tokens = [line.rstrip("\r\n") for line in f]
    tokens = [t for t in tokens if t != ""]
    if size is not None:
        if len(tokens) < size:
            raise ValueError(f"{path}: vocabulary_size {size} but the file has {len(tokens)} tokens")
        tokens = tokens[:size]
    return tuple(int(t) for t in tokens) if dtype == "int64" else tuple(tokens)


def _categorical_dtype(ctx: _Context, key: str, given: str | None) -> str:
    dtype = given or ctx.dtype(key)
    if dtype not in ("string", "int64"):
        raise ValueError(f"{key!r}: categorical columns need string or integer values, the schema says {dtype}")
    return dtype


def _fit_numeric(c: NumericColumn, ctx: _Context) -> NumericColumn:
    dtype = c.dtype or ctx.dtype(c.key)
    if dtype == "string":
        raise ValueError(f"{c.key!r}: numeric_column on a string feature")
    if ctx.stats(c.key) is not None and ctx.multivalent(c.key):
        raise ValueError(f"{c.key!r}: numeric_column needs a single-valued feature")
    changes = {"dtype": dtype}
    if c.is_fitted and c.dtype:
        return c
    stats = ctx.require_stats(c.key, "numeric statistics")
    num = stats.num_stats
    if c.normalizer == "zscore":
        changes.update(mean=c.mean if c.mean is not None else num.mean,
                       std=c.std if c.std is not None else num.std_dev)
    elif c.normalizer == "log":
        if c.mean is None or c.std is None:
            mean, std = log_moments(stats)
            changes.update(mean=c.mean if c.mean is not None else mean, std=c.std if c.std is not None else std)
    elif c.normalizer == "minmax":
        changes.update(min=c.min if c.min is not None else num.min, max=c.max if c.max is not None else num.max)
    if c.default_value is None:
        changes["default_value"] = num.mean
    return dataclasses.replace(c, **changes)


def _fit_categorical(c, ctx: _Context):
    if isinstance(c, BucketizedColumn):
        source = _fit_numeric(c.source, ctx)
        boundaries = c.boundaries
        if boundaries is None:
            boundaries = quantile_boundaries(ctx.require_stats(c.key, "quantile boundaries"), c.num_buckets)
        return dataclasses.replace(c, source=source, boundaries=boundaries)
    if isinstance(c, CrossedColumn):
        keys, dtypes = [], []
        for key in c.keys:
            if isinstance(key, str):
                keys.append(key)
                dtypes.append(_categorical_dtype(ctx, key, None))
                multivalent = ctx.multivalent(key)
            else:
                key = _fit_categorical(key, ctx)
                keys.append(key)
                dtypes.append(None)
                multivalent = key.multivalent
            if multivalent:
                raise ValueError(f"{c.name!r}: crossed_column inputs must be single-valued")
        return dataclasses.replace(c, keys=tuple(keys), key_dtypes=tuple(dtypes))
    multivalent = c.multivalent if c.multivalent is not None else ctx.multivalent(c.key)
    if isinstance(c, IdentityColumn):
        if c.multivalent is None and ctx.dtype(c.key) != "int64":
            raise ValueError(f"{c.key!r}: categorical_column_with_identity needs an integer feature")
        return dataclasses.replace(c, multivalent=multivalent)
    dtype = _categorical_dtype(ctx, c.key, c.dtype)
    if isinstance(c, HashBucketColumn):
        return dataclasses.replace(c, dtype=dtype, multivalent=multivalent)
    vocabulary = c.vocabulary
    if vocabulary is None and isinstance(c, VocabularyFileColumn):
        vocabulary = read_vocabulary_file(c.vocabulary_file, c.vocabulary_size, dtype)
    elif vocabulary is None:
        vocabulary = top_vocabulary(ctx.require_stats(c.key, "a vocabulary"), c.top_k, c.min_count, dtype)
        if not vocabulary:
            raise ValueError(f"{c.key!r}: no value has frequency >= min_count={c.min_count}")
    return dataclasses.replace(c, vocabulary=vocabulary, dtype=dtype, multivalent=multivalent)


def fit(definitions: Sequence[Definition], statistics, schema=None, split: str | None = "train"
        ) -> tuple[Definition, ...]:
    """Returns the definitions with every missing value filled from ``statistics`` (and ``schema``).

    ``statistics``: a ``DatasetFeatureStatisticsList``, a ``statistics.pbtxt`` path or a preprocessed DIR
    (then the schema is read from the DIR too when not given). ``split`` picks the statistics dataset.

    Example::

        >>> from tfpipe import features as tff
        >>> fitted = tff.fit([tff.categorical_column_with_vocabulary_list("sex")], adult)
        >>> fitted[0].vocabulary
        ('Male', 'Female')
    """
    import os

    definitions = validate_definitions(definitions)
    if schema is None and not isinstance(statistics, statistics_pb2.DatasetFeatureStatisticsList) \
            and os.path.isdir(os.fspath(statistics)):
        schema = statistics
    ctx = _Context(statistics, schema, split)
    fitted = []
    for d in definitions:
        if isinstance(d, NumericColumn):
            fitted.append(_fit_numeric(d, ctx))
        elif isinstance(d, PeriodicColumn):
            fitted.append(dataclasses.replace(d, source=_fit_numeric(d.source, ctx)))
        elif isinstance(d, PiecewiseLinearColumn):
            edges = d.boundaries or piecewise_linear_edges(ctx.require_stats(d.key, "piecewise-linear bins"),
                                                           d.num_bins)
            fitted.append(dataclasses.replace(d, source=_fit_numeric(d.source, ctx), boundaries=edges))
        elif isinstance(d, (EmbeddingColumn, IndicatorColumn)):
            fitted.append(dataclasses.replace(d, categorical=_fit_categorical(d.categorical, ctx)))
        else:
            fitted.append(_fit_categorical(d, ctx))
    return tuple(fitted)
