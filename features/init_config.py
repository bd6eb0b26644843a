"""A sensible default feature config for a preprocessed dataset (``tfpipe features init``), for the user to edit.

Rules: numbers → ``numeric_column`` z-score (``log`` when ``min >= 0`` and ``max > 100 * max(median, 1)``,
i.e. heavy right tails such as money amounts) plus a ``bucketized_column`` of 10 quantile buckets (wide);
every non-constant number ALSO a ``periodic_column`` (learned periodic embedding, sigma 1, 16 frequencies, 8
outputs; ``numeric_embedding="none"`` or ``"piecewise_linear"`` instead — on Adult's binary, multi-class and
regression tasks periodic beat both for bagging, boosting and stacking, at about the same training time);
integers with 3 to 64 distinct values (``MAX_INT_CATEGORIES``; census-style recodes have up to ~50, ages and
hours ~70–100) are ALSO a vocabulary-list categorical (indicator + embedding), since codes and small counts look
alike in the statistics;
strings with ≤ 100 distinct values → vocabulary list → ``indicator_column`` (wide) and ``embedding_column``
(deep); larger string columns → hash bucket (2 × distinct, at most 100 000) + ``embedding_column``; embedding
widths ``min(32, round(6 * distinct ** 0.25))``; the label is left out.

Example (``adult``: a ``tfpipe preprocess`` output directory of Adult rows)::

    >>> from tfpipe.features.artifacts import load_schema, load_statistics
    >>> defs = default_config(load_schema(adult), load_statistics(adult), label="income")
    >>> defs[0]
    NumericColumn(key='age', normalizer='zscore', ...)
"""
from __future__ import annotations

from tfpipe.features.definitions import (
    bucketized_column, categorical_column_with_hash_bucket, categorical_column_with_vocabulary_list,
    embedding_column, indicator_column, numeric_column, periodic_column, piecewise_linear_column)

MAX_VOCABULARY = 100
MAX_INT_CATEGORIES = 64
NUMERIC_EMBEDDINGS = ("none", "periodic", "piecewise_linear")
DEFAULT_NUMERIC_EMBEDDING = "periodic"   # measured: benchmarks/numeric_embeddings.py (issue 13 note)
PERIODIC_SIGMA = 1.0
PIECEWISE_BINS = 16
NUM_BUCKETS = 10
MAX_HASH_BUCKETS = 100_000


def default_definitions(key: str, dtype: str, stats, numeric_embedding: str = DEFAULT_NUMERIC_EMBEDDING) -> list:
    """The default definitions of one feature (none when it has no statistics to fit from).

    A number gives its normalized value (dense) and its quantile buckets (wide), so that linear members see
    non-linear effects; a small categorical gives its one-hot (wide) and an embedding (deep); a large one an
    embedding of its hash buckets.
    """
    if numeric_embedding not in NUMERIC_EMBEDDINGS:
        raise ValueError(f"numeric_embedding must be one of {NUMERIC_EMBEDDINGS}, got {numeric_embedding!r}")
    if stats is None:
        return []
    if dtype in ("int64", "float32"):
        num = stats.num_stats
        log = num.min >= 0 and num.max > 100 * max(num.median, 1.0)
        numeric = numeric_column(key, normalizer="log" if log else "zscore")
        definitions = [numeric, bucketized_column(numeric, num_buckets=NUM_BUCKETS)]
        if numeric_embedding == "periodic" and num.max > num.min:
            definitions.append(periodic_column(numeric, n_frequencies=16, sigma=PERIODIC_SIGMA, dimension=8))
        elif numeric_embedding == "piecewise_linear" and num.max > num.min:
            definitions.append(piecewise_linear_column(numeric, num_bins=PIECEWISE_BINS))
        from tfpipe.pipelines.statistics import int_top_values

        counted = int_top_values(stats) if dtype == "int64" else None
        if counted is not None and 2 < counted[1] <= MAX_INT_CATEGORIES:
            # Few distinct integers: codes (industry, store, region...) or a small count; nothing in the data tells
            # which, so the members get both the number and the category.
            categorical = categorical_column_with_vocabulary_list(key, num_oov_buckets=1)
            definitions += [indicator_column(categorical), embedding_column(categorical, _dimension(counted[1] + 1))]
        return definitions
    unique = stats.string_stats.unique or len(stats.string_stats.top_values)
    if unique <= MAX_VOCABULARY:
        categorical = categorical_column_with_vocabulary_list(key, num_oov_buckets=1)
        return [indicator_column(categorical), embedding_column(categorical, _dimension(unique + 1))]
    buckets = min(MAX_HASH_BUCKETS, 2 * unique)
    return [embedding_column(categorical_column_with_hash_bucket(key, buckets), _dimension(unique))]


def _dimension(unique: int) -> int:
    """The usual rule of thumb for an embedding's width: about 6 * (number of values) ** 0.25."""
    return min(32, max(2, round(6 * unique ** 0.25)))


def default_config(schema, statistics, label: str | None = None, split: str | None = "train",
                   numeric_embedding: str = DEFAULT_NUMERIC_EMBEDDING) -> tuple:
    """Unfitted default definitions of every schema feature but ``label``, in schema order.

    ``numeric_embedding`` adds to every non-constant number a ``periodic_column`` (sigma ``PERIODIC_SIGMA``, 16
    frequencies, 8 outputs), a ``piecewise_linear_column`` (``PIECEWISE_BINS`` bins) or nothing (``"none"``).

    ``schema``/``statistics``: messages or a preprocessed DIR. Example::

        >>> [d.name for d in default_config(adult, adult, label="income")][:3]
        ['age', 'age_bucketized', 'age_periodic']
    """
    from tfpipe.features import artifacts

    schema = artifacts.load_schema(schema)
    dataset = artifacts.split_statistics(artifacts.load_statistics(statistics), split)
    definitions = []
    for feature in schema.feature:
        if feature.name == label:
            continue
        try:
            stats = artifacts.feature_statistics(dataset, feature.name)
        except KeyError:
            stats = None
        definitions += default_definitions(feature.name, artifacts.feature_dtype(feature.name, schema, stats), stats,
                                           numeric_embedding)
    return tuple(definitions)
