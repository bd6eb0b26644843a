"""Round-trips feature definitions through the text-format ``tfpipe.proto.FeatureConfig`` (proto/feature_config.proto).

Example::

    >>> from tfpipe import features as tff
    >>> defs = (tff.numeric_column("age", normalizer="zscore"),)
    >>> tff.from_proto(tff.to_proto(defs)) == defs
    True
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable, Sequence

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


def _write_bucketized(c: BucketizedColumn, m: pb.BucketizedColumn) -> None:
    _numeric_to_proto(c.source, m.source)
    m.boundaries.extend(c.boundaries or ())
    m.num_buckets = c.num_buckets or 0


def _read_bucketized(m: pb.BucketizedColumn) -> BucketizedColumn:
    return BucketizedColumn(_numeric_from_proto(m.source), tuple(m.boundaries) or None, m.num_buckets or None)


def _write_piecewise_linear(c: PiecewiseLinearColumn, m: pb.PiecewiseLinearColumn) -> None:
    _numeric_to_proto(c.source, m.source)
    m.boundaries.extend(c.boundaries or ())
    m.num_bins = c.num_bins or 0


def _read_piecewise_linear(m: pb.PiecewiseLinearColumn) -> PiecewiseLinearColumn:
    return PiecewiseLinearColumn(_numeric_from_proto(m.source), tuple(m.boundaries) or None, m.num_bins or None)


def _write_periodic(c: PeriodicColumn, m: pb.PeriodicColumn) -> None:
    _numeric_to_proto(c.source, m.source)
    m.n_frequencies, m.sigma, m.dimension = c.n_frequencies, c.sigma, c.dimension


def _read_periodic(m: pb.PeriodicColumn) -> PeriodicColumn:
    return PeriodicColumn(_numeric_from_proto(m.source), int(m.n_frequencies), float(m.sigma), int(m.dimension))


def _write_vocabulary_list(c: VocabularyListColumn, v: pb.VocabularyListColumn) -> None:
    v.key, v.num_oov_buckets, v.min_count, v.dtype = c.key, c.num_oov_buckets, c.min_count, _DTYPE_TO_PROTO[c.dtype]
    _set_vocabulary(v, c.vocabulary)
    _set_optional(v, "top_k", c.top_k)
    _set_optional(v, "multivalent", c.multivalent)


def _read_vocabulary_list(v: pb.VocabularyListColumn) -> VocabularyListColumn:
    return VocabularyListColumn(v.key, vocabulary=_vocabulary(v), num_oov_buckets=v.num_oov_buckets,
                                top_k=_optional(v, "top_k"), min_count=v.min_count,
                                dtype=_DTYPE_FROM_PROTO[v.dtype], multivalent=_optional(v, "multivalent"))


def _write_vocabulary_file(c: VocabularyFileColumn, v: pb.VocabularyFileColumn) -> None:
    v.key, v.vocabulary_file, v.num_oov_buckets, v.dtype = (c.key, c.vocabulary_file, c.num_oov_buckets,
                                                            _DTYPE_TO_PROTO[c.dtype])
    _set_vocabulary(v, c.vocabulary)
    _set_optional(v, "vocabulary_size", c.vocabulary_size)
    _set_optional(v, "multivalent", c.multivalent)


def _read_vocabulary_file(v: pb.VocabularyFileColumn) -> VocabularyFileColumn:
    return VocabularyFileColumn(v.key, v.vocabulary_file, vocabulary_size=_optional(v, "vocabulary_size"),
                                num_oov_buckets=v.num_oov_buckets, dtype=_DTYPE_FROM_PROTO[v.dtype],
                                multivalent=_optional(v, "multivalent"), vocabulary=_vocabulary(v))


def _write_identity(c: IdentityColumn, m: pb.IdentityColumn) -> None:
    m.key, m.num_buckets = c.key, c.num_buckets
    _set_optional(m, "default_value", c.default_value)
    _set_optional(m, "multivalent", c.multivalent)


def _read_identity(m: pb.IdentityColumn) -> IdentityColumn:
    return IdentityColumn(m.key, int(m.num_buckets), default_value=_optional(m, "default_value"),
                          multivalent=_optional(m, "multivalent"))


def _write_hash_bucket(c: HashBucketColumn, h: pb.HashBucketColumn) -> None:
    h.key, h.hash_bucket_size, h.dtype = c.key, c.hash_bucket_size, _DTYPE_TO_PROTO[c.dtype]
    _set_optional(h, "multivalent", c.multivalent)


def _read_hash_bucket(h: pb.HashBucketColumn) -> HashBucketColumn:
    return HashBucketColumn(h.key, int(h.hash_bucket_size), dtype=_DTYPE_FROM_PROTO[h.dtype],
                            multivalent=_optional(h, "multivalent"))


def _write_crossed(c: CrossedColumn, m: pb.CrossedColumn) -> None:
    m.hash_bucket_size = c.hash_bucket_size
    dtypes = c.key_dtypes or (None,) * len(c.keys)
    for key, dtype in zip(c.keys, dtypes):
        k = m.keys.add()
        if isinstance(key, str):
            k.raw = key
            k.raw_dtype = _DTYPE_TO_PROTO[dtype]
        else:
            k.column.CopyFrom(column_to_proto(key))


def _read_crossed(m: pb.CrossedColumn) -> CrossedColumn:
    keys, dtypes = [], []
    for k in m.keys:
        if k.WhichOneof("kind") == "raw":
            keys.append(k.raw)
            dtypes.append(_DTYPE_FROM_PROTO[k.raw_dtype])
        elif k.WhichOneof("kind") == "column":
            keys.append(column_from_proto(k.column))
            dtypes.append(None)
        else:
            raise ValueError("crossed key without raw or column")
    return CrossedColumn(tuple(keys), int(m.hash_bucket_size), key_dtypes=tuple(dtypes))


def _write_embedding(c: EmbeddingColumn, m: pb.EmbeddingColumn) -> None:
    m.categorical.CopyFrom(column_to_proto(c.categorical))
    m.dimension = c.dimension
    m.combiner = _COMBINERS[c.combiner]


def _read_embedding(m: pb.EmbeddingColumn) -> EmbeddingColumn:
    return EmbeddingColumn(column_from_proto(m.categorical), m.dimension, _invert(_COMBINERS)[m.combiner])


def _write_indicator(c: IndicatorColumn, m: pb.IndicatorColumn) -> None:
    m.categorical.CopyFrom(column_to_proto(c.categorical))


def _read_indicator(m: pb.IndicatorColumn) -> IndicatorColumn:
    return IndicatorColumn(column_from_proto(m.categorical))


@dataclasses.dataclass(frozen=True)
class _Codec:
    """How one definition kind is written to and read from its field of ``FeatureColumn``'s ``kind`` oneof."""

    field: str
    write: Callable
    read: Callable


# One entry per definition kind: a new kind is a class in definitions.py, a message in the proto and a line here
# (tests/features/test_config.py checks that the three cover each other).
CODECS = {
    NumericColumn: _Codec("numeric", _numeric_to_proto, _numeric_from_proto),
    BucketizedColumn: _Codec("bucketized", _write_bucketized, _read_bucketized),
    PiecewiseLinearColumn: _Codec("piecewise_linear", _write_piecewise_linear, _read_piecewise_linear),
    PeriodicColumn: _Codec("periodic", _write_periodic, _read_periodic),
    VocabularyListColumn: _Codec("vocabulary_list", _write_vocabulary_list, _read_vocabulary_list),
    VocabularyFileColumn: _Codec("vocabulary_file", _write_vocabulary_file, _read_vocabulary_file),
    IdentityColumn: _Codec("identity", _write_identity, _read_identity),
    HashBucketColumn: _Codec("hash_bucket", _write_hash_bucket, _read_hash_bucket),
    CrossedColumn: _Codec("crossed", _write_crossed, _read_crossed),
    EmbeddingColumn: _Codec("embedding", _write_embedding, _read_embedding),
    IndicatorColumn: _Codec("indicator", _write_indicator, _read_indicator),
}
_CODEC_OF_FIELD = {codec.field: codec for codec in CODECS.values()}


def column_to_proto(c: Definition) -> pb.FeatureColumn:
    """One definition as a ``FeatureColumn`` message."""
    codec = CODECS.get(type(c))
    if codec is None:
        raise TypeError(f"not a feature definition: {c!r}")
    m = pb.FeatureColumn()
    codec.write(c, getattr(m, codec.field))
    return m


def column_from_proto(m: pb.FeatureColumn) -> Definition:
    """The definition of a ``FeatureColumn`` message (validated)."""
    kind = m.WhichOneof("kind")
    if kind is None:
        raise ValueError("FeatureColumn without a kind")
    return _CODEC_OF_FIELD[kind].read(getattr(m, kind))


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
