"""FeatureColumn definitions fitted from ``tfpipe preprocess`` statistics, compiled to Keras 3 preprocessing.

See features/README.md for the exact API. Heavy modules (TensorFlow/Keras) load on first use of a name that
needs them, so ``import tfpipe.features`` stays cheap for the CLI.

Example (``adult``: a ``tfpipe preprocess`` output directory of Adult rows)::

    >>> from tfpipe import features as tff
    >>> defs = [tff.numeric_column("age", normalizer="zscore")]
    >>> compiled = tff.compile_features(tff.fit(defs, adult))
    >>> compiled.dense_width
    1
"""
from __future__ import annotations

import importlib

from tfpipe.features.definitions import (  # noqa: F401  (light: no TensorFlow)
    BucketizedColumn, CrossedColumn, EmbeddingColumn, HashBucketColumn, IdentityColumn, IndicatorColumn,
    NumericColumn, PeriodicColumn, PiecewiseLinearColumn, VocabularyFileColumn, VocabularyListColumn, bucketized_column,
    categorical_column_with_hash_bucket, categorical_column_with_identity, categorical_column_with_vocabulary_file,
    categorical_column_with_vocabulary_list, crossed_column, embedding_column, indicator_column, is_fitted,
    numeric_column, periodic_column, piecewise_linear_column, validate_definitions)

_LAZY = {
    "fit": "tfpipe.features.fitting",
    "load_config": "tfpipe.features.config",
    "save_config": "tfpipe.features.config",
    "to_proto": "tfpipe.features.config",
    "from_proto": "tfpipe.features.config",
    "default_config": "tfpipe.features.init_config",
    "parse_spec": "tfpipe.features.compile",
    "compile_features": "tfpipe.features.compile",
    "CompiledFeatures": "tfpipe.features.compile",
    "EmbeddingSpec": "tfpipe.features.compile",
    "make_dataset": "tfpipe.features.dataset",
    "ReadOptions": "tfpipe.features.dataset",
    "example_key": "tfpipe.features.dataset",
    "LabelSpec": "tfpipe.features.label",
    "fit_label": "tfpipe.features.label",
}

__all__ = sorted(list(_LAZY) + [
    "BucketizedColumn", "CrossedColumn", "EmbeddingColumn", "HashBucketColumn", "IdentityColumn", "IndicatorColumn",
    "NumericColumn", "PeriodicColumn", "PiecewiseLinearColumn", "VocabularyFileColumn", "VocabularyListColumn", "bucketized_column",
    "categorical_column_with_hash_bucket", "categorical_column_with_identity",
    "categorical_column_with_vocabulary_file", "categorical_column_with_vocabulary_list", "crossed_column",
    "embedding_column", "indicator_column", "is_fitted", "numeric_column", "periodic_column", "piecewise_linear_column",
    "validate_definitions"])


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfpipe.features' has no attribute {name!r}")
