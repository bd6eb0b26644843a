"""Round-trips feature definitions through the text-format ``tfpipe.proto.FeatureConfig`` (proto/feature_config.proto).

Example::

    >>> from tfpipe import features as tff
    >>> defs = (tff.numeric_column("age", normalizer="zscore"),)
    >>> tff.from_proto(tff.to_proto(defs)) == defs
    True
"""
from __future__ import annotations

import os
from typing import Sequence

from google.protobuf import text_format

from tfpipe.features.definitions import (
    BucketizedColumn, CrossedColumn, Definition, EmbeddingColumn, HashBucketColumn, IdentityColumn,
    IndicatorColumn, NumericColumn, PeriodicColumn, PiecewiseLinearColumn, VocabularyFileColumn, VocabularyListColumn,
    validate_definitions)
from tfpipe.pipelines import storage
from tfpipe.proto import feature_config_pb2 as pb

_DTYPE_TO_PROTO = {None: pb.VALUE_TYPE_UNSPECIFIED, "string": pb.VALUE_TYPE_STRING, "int64": pb.VALUE_TYPE_INT64,
                   "float32": pb.VALUE_TYPE_FLOAT32}
_DTYPE_FROM_PROTO = {v: k for k, v in _DTYPE_TO_PROTO.items()}
_NORMALIZERS = {"none": pb.NumericColumn.NONE, "zscore": pb.NumericColumn.ZSCORE,
                "minmax": pb.NumericColumn.MINMAX, "log": pb.NumericColumn.LOG}
_COMBINERS = {"mean": pb.EmbeddingColumn.MEAN, "sum": pb.EmbeddingColumn.SUM, "sqrtn": pb.EmbeddingColumn.SQRTN}


def _invert(mapping: dict) -> dict:
    return {v: k for k, v in mapping.items()}


def _set_optional(message, field: str, value) -> None:
    if value is not None:
        setattr(message, field, value)


def _optional(message, field: str):
    return getattr(message, field) if message.HasField(field) else None


def _set_vocabulary(message, vocabulary) -> None:
    if vocabulary is None:
        return
    if all(isinstance(v, str) for v in vocabulary):
        message.vocabulary.extend(vocabulary)
    else:
        message.int_vocabulary.extend(vocabulary)


def _vocabulary(message):
    if len(message.vocabulary) and len(message.int_vocabulary):
        raise ValueError("a column has both vocabulary and int_vocabulary")
    if len(message.vocabulary):
        return tuple(message.vocabulary)
    if len(message.int_vocabulary):
        return tuple(int(v) for v in message.int_vocabulary)
    return None


def _numeric_to_proto(c: NumericColumn, message: pb.NumericColumn) -> None:
    message.key = c.key
    message.normalizer = _NORMALIZERS[c.normalizer]
    message.missing_indicator = c.missing_indicator
    message.dtype = _DTYPE_TO_PROTO[c.dtype]
    for field in ("default_value", "mean", "std", "min", "max"):
        _set_optional(message, field, getattr(c, field))


def _numeric_from_proto(m: pb.NumericColumn) -> NumericColumn:
    return NumericColumn(m.key, normalizer=_invert(_NORMALIZERS)[m.normalizer],
                         default_value=_optional(m, "default_value"), missing_indicator=m.missing_indicator,
                         dtype=_DTYPE_FROM_PROTO[m.dtype], mean=_optional(m, "mean"), std=_optional(m, "std"),
                         min=_optional(m, "min"), max=_optional(m, "max"))


def column_to_proto(c: Definition) -> pb.FeatureColumn:
    """One definition as a ``FeatureColumn`` message."""
    m = pb.FeatureColumn()
    if isinstance(c, NumericColumn):
        _numeric_to_proto(c, m.numeric)
    elif isinstance(c, BucketizedColumn):
        _numeric_to_proto(c.source, m.bucketized.source)
        m.bucketized.boundaries.extend(c.boundaries or ())
        m.bucketized.num_buckets = c.num_buckets or 0
    elif isinstance(c, PiecewiseLinearColumn):
        _numeric_to_proto(c.source, m.piecewise_linear.source)
        m.piecewise_linear.boundaries.extend(c.boundaries or ())
        m.piecewise_linear.num_bins = c.num_bins or 0
    elif isinstance(c, PeriodicColumn):
        _numeric_to_proto(c.source, m.periodic.source)
        m.periodic.n_frequencies, m.periodic.sigma, m.periodic.dimension = c.n_frequencies, c.sigma, c.dimension
    elif isinstance(c, VocabularyListColumn):
        v = m.vocabulary_list
        v.key, v.num_oov_buckets, v.min_count, v.dtype = c.key, c.num_oov_buckets, c.min_count, _DTYPE_TO_PROTO[c.dtype]
        _set_vocabulary(v, c.vocabulary)
        _set_optional(v, "top_k", c.top_k)
        _set_optional(v, "multivalent", c.multivalent)
    elif isinstance(c, VocabularyFileColumn):
        v = m.vocabulary_file
        v.key, v.vocabulary_file, v.num_oov_buckets, v.dtype = (c.key, c.vocabulary_file, c.num_oov_buckets,
                                                                _DTYPE_TO_PROTO[c.dtype])
        _set_vocabulary(v, c.vocabulary)
        _set_optional(v, "vocabulary_size", c.vocabulary_size)
        _set_optional(v, "multivalent", c.multivalent)
    elif isinstance(c, IdentityColumn):
        m.identity.key, m.identity.num_buckets = c.key, c.num_buckets
        _set_optional(m.identity, "default_value", c.default_value)
        _set_optional(m.identity, "multivalent", c.multivalent)
    elif isinstance(c, HashBucketColumn):
        h = m.hash_bucket
        h.key, h.hash_bucket_size, h.dtype = c.key, c.hash_bucket_size, _DTYPE_TO_PROTO[c.dtype]
        _set_optional(h, "multivalent", c.multivalent)
    elif isinstance(c, CrossedColumn):
        m.crossed.hash_bucket_size = c.hash_bucket_size
        dtypes = c.key_dtypes or (None,) * len(c.keys)
        for key, dtype in zip(c.keys, dtypes):
            k = m.crossed.keys.add()
            if isinstance(key, str):
                k.raw = key
                k.raw_dtype = _DTYPE_TO_PROTO[dtype]
            else:
                k.column.CopyFrom(column_to_proto(key))
    elif isinstance(c, EmbeddingColumn):
        m.embedding.categorical.CopyFrom(column_to_proto(c.categorical))
        m.embedding.dimension = c.dimension
        m.embedding.combiner = _COMBINERS[c.combiner]
    elif isinstance(c, IndicatorColumn):
        m.indicator.categorical.CopyFrom(column_to_proto(c.categorical))
    else:
        raise TypeError(f"not a feature definition: {c!r}")
    return m


def column_from_proto(m: pb.FeatureColumn) -> Definition:
    """The definition of a ``FeatureColumn`` message (validated)."""
    kind = m.WhichOneof("kind")
    if kind == "numeric":
        return _numeric_from_proto(m.numeric)
    if kind == "bucketized":
        b = m.bucketized
        return BucketizedColumn(_numeric_from_proto(b.source), tuple(b.boundaries) or None, b.num_buckets or None)
    if kind == "piecewise_linear":
        b = m.piecewise_linear
        return PiecewiseLinearColumn(_numeric_from_proto(b.source), tuple(b.boundaries) or None, b.num_bins or None)
    if kind == "periodic":
        r = m.periodic
        return PeriodicColumn(_numeric_from_proto(r.source), int(r.n_frequencies), float(r.sigma), int(r.dimension))
    if kind == "vocabulary_list":
        v = m.vocabulary_list
        return VocabularyListColumn(v.key, vocabulary=_vocabulary(v), num_oov_buckets=v.num_oov_buckets,
                                    top_k=_optional(v, "top_k"), min_count=v.min_count,
                                    dtype=_DTYPE_FROM_PROTO[v.dtype], multivalent=_optional(v, "multivalent"))
    if kind == "vocabulary_file":
        v = m.vocabulary_file
        return VocabularyFileColumn(v.key, v.vocabulary_file, vocabulary_size=_optional(v, "vocabulary_size"),
                                    num_oov_buckets=v.num_oov_buckets, dtype=_DTYPE_FROM_PROTO[v.dtype],
                                    multivalent=_optional(v, "multivalent"), vocabulary=_vocabulary(v))
    if kind == "identity":
        i = m.identity
        return IdentityColumn(i.key, int(i.num_buckets), default_value=_optional(i, "default_value"),
                              multivalent=_optional(i, "multivalent"))
    if kind == "hash_bucket":
        h = m.hash_bucket
        return HashBucketColumn(h.key, int(h.hash_bucket_size), dtype=_DTYPE_FROM_PROTO[h.dtype],
                                multivalent=_optional(h, "multivalent"))
    if kind == "crossed":
        keys, dtypes = [], []
        for k in m.crossed.keys:
            if k.WhichOneof("kind") == "raw":
                keys.append(k.raw)
                dtypes.append(_DTYPE_FROM_PROTO[k.raw_dtype])
            elif k.WhichOneof("kind") == "column":
                keys.append(column_from_proto(k.column))
                dtypes.append(None)
            else:
                raise ValueError("crossed key without raw or column")
        return CrossedColumn(tuple(keys), int(m.crossed.hash_bucket_size), key_dtypes=tuple(dtypes))
    if kind == "embedding":
        e = m.embedding
        return EmbeddingColumn(column_from_proto(e.categorical), e.dimension, _invert(_COMBINERS)[e.combiner])
    if kind == "indicator":
        return IndicatorColumn(column_from_proto(m.indicator.categorical))
    raise ValueError("FeatureColumn without a kind")


def to_proto(definitions: Sequence[Definition], label: str | None = None, fitted_split: str | None = None
             ) -> pb.FeatureConfig:
    """The ``FeatureConfig`` message of a set of definitions.

    Example::

        >>> from tfpipe.features import numeric_column
        >>> to_proto([numeric_column("age")]).columns[0].numeric.key
        'age'
    """
    config = pb.FeatureConfig(label=label or "", fitted_split=fitted_split or "")
    for d in validate_definitions(definitions):
        config.columns.append(column_to_proto(d))
    return config


def from_proto(config: pb.FeatureConfig) -> tuple[Definition, ...]:
    """The definitions of a ``FeatureConfig`` message (validated, names unique)."""
    return validate_definitions(column_from_proto(c) for c in config.columns)


FEATURES_FILE = "features.pbtxt"   # the name of a feature config beside a dataset or in a model directory


def save_config(definitions: Sequence[Definition], path: str | os.PathLike, label: str | None = None,
                fitted_split: str | None = None) -> str:
    """Writes the definitions as a text-format ``FeatureConfig``; returns the path.

    Example::

        >>> from tfpipe.features import numeric_column
        >>> save_config([numeric_column("age")], "features.pbtxt")
        'features.pbtxt'
    """
    path = os.fspath(path)
    text = "# tfpipe.proto.FeatureConfig (proto/feature_config.proto)\n" + text_format.MessageToString(
        to_proto(definitions, label=label, fitted_split=fitted_split))
    if not storage.is_local(path):   # one object, written whole by the store (never seen half-written)
        storage.write_text(path, text)
        return path
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def load_config_proto(path: str | os.PathLike) -> pb.FeatureConfig:
    """The ``FeatureConfig`` message of a text-format file (local or on a store)."""
    return text_format.Parse(storage.read_text(os.fspath(path)), pb.FeatureConfig())


def load_config(path: str | os.PathLike) -> tuple[Definition, ...]:
    """The definitions of a text-format ``FeatureConfig`` file.

    Example::

        >>> from tfpipe.features import numeric_column
        >>> load_config(save_config([numeric_column("age")], "features.pbtxt"))
        (NumericColumn(key='age', normalizer='none', ...),)
    """
    return from_proto(load_config_proto(path))
