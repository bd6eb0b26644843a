"""Compiles fitted definitions to a ``tf.io.parse_example`` spec and a Keras 3 preprocessing model.

The preprocessor maps the parsed dict to ``{"dense": f32[B, Dd], "wide": f32[B, Dw] multi-hot,
"embedding_ids": {name: int64[B, L]}, "periodic": f32[B, P], "tree": f32[B, Dt]}``;
:meth:`CompiledFeatures.new_embedding_block` gives fresh trainable embedding layers for ``embedding_ids``, and
``periodic`` holds the normalized numbers that the members' periodic embeddings read (``periodic_specs``). ``tree`` is what decision trees read
(:attr:`CompiledFeatures.tree_features` names its columns): every number as its raw value (no normalization, NaN
when missing) and every single-valued categorical as its integer id from the fitted vocabulary / identity / hash
(NaN when missing), so a GBDT library can use native categorical splits. All preprocessing computes in float32,
whatever the global policy; the ids of a categorical column are computed once per batch however many blocks use
them.

Example (``adult``: a ``tfpipe preprocess`` output directory of Adult rows)::

    >>> from tfpipe import features as tff
    >>> from tfpipe.pipelines.artifacts import shard_paths
    >>> fitted = tff.fit([tff.numeric_column("age", normalizer="zscore"),
    ...                   tff.embedding_column(tff.categorical_column_with_vocabulary_list("education"), 4)], adult)
    >>> compiled = tff.compile_features(fitted)
    >>> serialized = next(iter(tf.data.TFRecordDataset(shard_paths(adult, "test")).batch(8)))
    >>> parsed = tf.io.parse_example(serialized, compiled.parse_spec)
    >>> out = compiled.preprocessor(parsed)
    >>> out["dense"].shape, out["tree"].shape
    (TensorShape([8, 1]), TensorShape([8, 2]))
    >>> compiled.new_embedding_block()(out["embedding_ids"]).shape
    TensorShape([8, 4])
"""
from __future__ import annotations

import dataclasses
import re
from typing import Sequence

import keras
import tensorflow as tf

from tfpipe.features.definitions import (
    BucketizedColumn, CrossedColumn, Definition, EmbeddingColumn, HashBucketColumn, IdentityColumn,
    IndicatorColumn, NumericColumn, PeriodicColumn, PiecewiseLinearColumn, VocabularyFileColumn, VocabularyListColumn,
    validate_definitions)
from tfpipe.features.layers import (
    BucketIds, CrossIds, EmbeddingBlock, HashIds, IdentityIds, NumericInput, PiecewiseLinearEncoding, VocabularyIds,
    WideEncoding, is_missing)
from tfpipe.features.missing import MISSING_BY_DTYPE

_TF_DTYPES = {"string": tf.string, "int64": tf.int64, "float32": tf.float32}


@dataclasses.dataclass(frozen=True)
class TreeFeature:
    """One column of the ``tree`` block: a raw number (``num_categories`` 0) or a categorical id in
    ``[0, num_categories)``; missing values are NaN in both."""

    name: str
    num_categories: int = 0

    @property
    def is_categorical(self) -> bool:
        return self.num_categories > 0


@dataclasses.dataclass(frozen=True)
class PeriodicSpec:
    """What a periodic embedding of column ``index`` of the ``periodic`` block needs (see ``periodic_column``)."""

    index: int
    n_frequencies: int
    sigma: float
    dimension: int


@dataclasses.dataclass(frozen=True)
class EmbeddingSpec:
    """What an embedding of ``embedding_ids[name]`` needs: ids in ``[0, num_buckets)``, width, combiner."""

    num_buckets: int
    dimension: int
    combiner: str


def sanitize(name: str) -> str:
    """A Keras/TF-safe layer name for a feature name (``native-country`` → ``native_country``)."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return cleaned if cleaned and cleaned[0].isalpha() else f"f_{cleaned}"


# ------------------------------------------------------------------------------------------------- parse spec


def _raw_needs(definition) -> list[tuple[str, str, bool]]:
    """(key, dtype, multivalent) of every raw feature a definition reads."""
    if isinstance(definition, NumericColumn):
        return [(definition.key, definition.dtype, False)]
    if isinstance(definition, (BucketizedColumn, PiecewiseLinearColumn, PeriodicColumn)):
        return _raw_needs(definition.source)
    if isinstance(definition, (EmbeddingColumn, IndicatorColumn)):
        return _raw_needs(definition.categorical)
    if isinstance(definition, CrossedColumn):
        needs = []
        dtypes = definition.key_dtypes or (None,) * len(definition.keys)
        for key, dtype in zip(definition.keys, dtypes):
            needs.extend([(key, dtype, False)] if isinstance(key, str) else _raw_needs(key))
        return needs
    return [(definition.key, definition.dtype, bool(definition.multivalent))]


def parse_spec(definitions: Sequence[Definition]) -> dict:
    """The ``tf.io.parse_example`` features dict of fitted definitions (one entry per raw feature).

    Single-valued: ``FixedLenFeature([1], dtype, MISSING)``; multi-valued: ``FixedLenSequenceFeature([], dtype,
    allow_missing=True, default_value=MISSING)`` (padded dense [B, L]); see :mod:`tfpipe.features.missing`.

    Example::

        >>> from tfpipe.features import fit, numeric_column
        >>> parse_spec(fit([numeric_column("age")], adult))
        {'age': FixedLenFeature(shape=[1], dtype=tf.int64, default_value=-9223372036854775808)}
    """
    needs: dict[str, tuple[str, bool]] = {}
    for definition in validate_definitions(definitions):
        for key, dtype, multivalent in _raw_needs(definition):
            if dtype is None:
                raise ValueError(f"{definition.name!r} is not fitted (dtype of {key!r} unknown)")
            if key in needs and needs[key] != (dtype, multivalent):
                raise ValueError(f"feature {key!r} is read as {needs[key]} and as {(dtype, multivalent)}")
            needs[key] = (dtype, multivalent)
    spec = {}
    for key, (dtype, multivalent) in needs.items():
        missing = MISSING_BY_DTYPE[dtype]
        if multivalent:
            spec[key] = tf.io.FixedLenSequenceFeature([], _TF_DTYPES[dtype], allow_missing=True,
                                                      default_value=missing)
        else:
            spec[key] = tf.io.FixedLenFeature([1], _TF_DTYPES[dtype], default_value=missing)
    return spec


# ---------------------------------------------------------------------------------------------- preprocessor


class _Names:
    def __init__(self):
        self.used: set[str] = set()

    def __call__(self, name: str) -> str:
        base, i = sanitize(name), 1
        candidate = base
        while candidate in self.used:
            i += 1
            candidate = f"{base}_{i}"
        self.used.add(candidate)
        return candidate


def _raw(features: dict, key: str) -> tf.Tensor:
    values = features[key]
    if isinstance(values, tf.SparseTensor):
        raise TypeError(f"{key!r}: parse with tfpipe.features.parse_spec (dense tensors), got a SparseTensor")
    return values[:, None] if values.shape.rank == 1 else values


class FeaturePreprocessor(keras.Model):
    """Non-trainable Keras model: parsed features → ``{"dense", "wide", "embedding_ids", "periodic", "tree"}``
    (see module doc)."""

    def __init__(self, definitions: Sequence[Definition], name: str = "feature_preprocessor", **kwargs):
        super().__init__(name=name, dtype="float32", **kwargs)
        self.definitions = validate_definitions(definitions)
        names = _Names()
        self.id_layers = []          # tracked by Keras
        self.numeric_layers = []
        self._numeric_plan = []      # (definition, NumericInput)
        self._piecewise_plan = []    # (definition, PiecewiseLinearEncoding)
        self._periodic_plan = []     # (definition, NumericInput): normalized values for periodic embeddings
        self.periodic_specs: dict[str, PeriodicSpec] = {}
        self._ids_fns = {}           # categorical column -> ids fn (each computed once per batch)
        self._wide_plan = []         # (name, categorical column, num_ids)
        self._embedding_plan = []    # (name, categorical column)
        self.embedding_specs: dict[str, EmbeddingSpec] = {}
        means, variances = [], []
        for d in self.definitions:
            if isinstance(d, NumericColumn):
                layer = NumericInput(d.default_value, log=d.normalizer == "log", name=names(f"{d.name}_input"))
                self.numeric_layers.append(layer)
                self._numeric_plan.append((d, layer))
                mean, variance = _normalization_moments(d)
                means.append(mean)
                variances.append(variance)
            elif isinstance(d, PeriodicColumn):
                layer = NumericInput(d.source.default_value, log=d.source.normalizer == "log",
                                     name=names(f"{d.name}_input"))
                self.numeric_layers.append(layer)
                self.periodic_specs[d.name] = PeriodicSpec(len(self._periodic_plan), d.n_frequencies, d.sigma,
                                                           d.dimension)
                self._periodic_plan.append((d, layer))
            elif isinstance(d, PiecewiseLinearColumn):
                layer = PiecewiseLinearEncoding(d.boundaries, d.source.default_value, name=names(f"{d.name}_encoding"))
                self.numeric_layers.append(layer)
                self._piecewise_plan.append((d, layer))
            elif isinstance(d, EmbeddingColumn):
                self._register_ids(d.categorical, names)
                self._embedding_plan.append((d.name, d.categorical))
                self.embedding_specs[d.name] = EmbeddingSpec(d.categorical.num_ids, d.dimension, d.combiner)
            else:
                categorical = d.categorical if isinstance(d, IndicatorColumn) else d
                self._register_ids(categorical, names)
                self._wide_plan.append((d.name, categorical, categorical.num_ids))
        self.tree_features, self._tree_plan = _tree_plan(self.definitions)
        self.wide_encoding = None
        if self._wide_plan:
            self.wide_encoding = WideEncoding([n for *_, n in self._wide_plan], name="wide_encoding")
        self.normalization = None
        if means:
            self.normalization = keras.layers.Normalization(axis=-1, mean=means, variance=variances,
                                                            dtype="float32", name="normalization")
            self.normalization.build((None, len(means)))
        self.periodic_normalization = None
        if self._periodic_plan:
            moments = [_normalization_moments(d.source) for d, _ in self._periodic_plan]
            self.periodic_normalization = keras.layers.Normalization(
                axis=-1, mean=[m for m, _ in moments], variance=[v for _, v in moments], dtype="float32",
                name="periodic_normalization")
            self.periodic_normalization.build((None, len(moments)))
        self.missing_names = [d.name for d, _ in self._numeric_plan if d.missing_indicator]
        self.trainable = False
        self.built = True  # every sublayer is built above or stateless; no symbolic build pass

    def build(self, input_shape=None):
        self.built = True

    def _register_ids(self, column, names: _Names) -> None:
        if column not in self._ids_fns:
            self._ids_fns[column] = self._ids_fn(column, names)

    def _ids_fn(self, column, names: _Names):
        """A function features → int64 ids [B, L] (-1 = none) for a categorical column; registers its layers."""
        if isinstance(column, CrossedColumn):
            parts, kinds = [], []
            dtypes = column.key_dtypes or (None,) * len(column.keys)
            for key, dtype in zip(column.keys, dtypes):
                if isinstance(key, str):
                    parts.append(lambda f, key=key: _raw(f, key))
                    kinds.append("raw")
                else:
                    parts.append(self._ids_fn(key, names))
                    kinds.append("ids")
            layer = CrossIds(column.hash_bucket_size, kinds, name=names(f"{column.name}_cross"))
            self.id_layers.append(layer)
            return lambda f: layer([part(f) for part in parts])
        if isinstance(column, BucketizedColumn):
            layer = BucketIds(column.boundaries, column.source.default_value, name=names(f"{column.name}_ids"))
        elif isinstance(column, (VocabularyListColumn, VocabularyFileColumn)):
            layer = VocabularyIds(column.vocabulary, column.num_oov_buckets, column.dtype,
                                  name=names(f"{column.name}_lookup"))
        elif isinstance(column, IdentityColumn):
            layer = IdentityIds(column.num_buckets, column.default_value, name=names(f"{column.name}_identity"))
        elif isinstance(column, HashBucketColumn):
            layer = HashIds(column.hash_bucket_size, name=names(f"{column.name}_hash"))
        else:
            raise TypeError(f"not a categorical column: {column!r}")
        self.id_layers.append(layer)
        return lambda f, key=column.key: layer(_raw(f, key))

    @property
    def dense_width(self) -> int:
        return len(self._numeric_plan) + sum(d.width for d, _ in self._piecewise_plan) + len(self.missing_names)

    @property
    def wide_width(self) -> int:
        return sum(num_ids for *_, num_ids in self._wide_plan)

    @property
    def tree_width(self) -> int:
        return len(self.tree_features)

    def call(self, features):
        batch = tf.shape(next(iter(features.values())))[0]
        values, missing = [], []
        for d, layer in self._numeric_plan:
            value, was_missing = layer(_raw(features, d.key))
            values.append(value)
            if d.missing_indicator:
                missing.append(was_missing)
        encoded = [layer(_raw(features, d.key)) for d, layer in self._piecewise_plan]
        dense_parts = ([self.normalization(tf.concat(values, axis=1))] if values else []) + encoded + missing
        dense = tf.concat(dense_parts, axis=1) if dense_parts else tf.zeros([batch, 0], tf.float32)
        ids = {column: ids_fn(features) for column, ids_fn in self._ids_fns.items()}
        if self._wide_plan:
            wide = self.wide_encoding([ids[column] for _, column, _ in self._wide_plan])
        else:
            wide = tf.zeros([batch, 0], tf.float32)
        embedding_ids = {name: ids[column] for name, column in self._embedding_plan}
        if self._periodic_plan:
            raw = tf.concat([layer(_raw(features, d.key))[0] for d, layer in self._periodic_plan], axis=1)
            periodic = self.periodic_normalization(raw)
        else:
            periodic = tf.zeros([batch, 0], tf.float32)
        return {"dense": dense, "wide": wide, "embedding_ids": embedding_ids, "periodic": periodic,
                "tree": self._tree_block(features, ids, batch)}

    def tree_block(self, features):
        """Only the ``tree`` block of :meth:`call` (what a GBDT reads), without computing the other blocks."""
        batch = tf.shape(next(iter(features.values())))[0]
        ids = {column: self._ids_fns[column](features) for _, column in self._tree_plan if column is not None}
        return self._tree_block(features, ids, batch)

    def _tree_block(self, features, ids, batch):
        """float32 [B, tree_width]: raw numbers and categorical ids, NaN where missing."""
        nan = tf.constant(float("nan"), tf.float32)
        columns = []
        for key, column in self._tree_plan:
            if column is None:
                raw = _raw(features, key)
                columns.append(tf.where(is_missing(raw), nan, tf.cast(raw, tf.float32)))
            else:
                columns.append(tf.where(ids[column] < 0, nan, tf.cast(ids[column], tf.float32)))
        return tf.concat(columns, axis=1) if columns else tf.zeros([batch, 0], tf.float32)


def _tree_plan(definitions) -> tuple[tuple, list]:
    """Columns of the ``tree`` block: (TreeFeature, ...) and [(raw key, None) | (key, categorical column)].

    Numbers (numeric and bucketized sources) once per raw key; single-valued categoricals (bare, or under an
    indicator / embedding) once per column; crossed columns and multi-valued inputs are left out (trees find
    interactions themselves; a list has no single code).
    """
    features, plan, seen = [], [], set()
    for d in definitions:
        if isinstance(d, (NumericColumn, BucketizedColumn, PiecewiseLinearColumn, PeriodicColumn)):
            key = d.key
            if ("numeric", key) not in seen:
                seen.add(("numeric", key))
                features.append(TreeFeature(key))
                plan.append((key, None))
            continue
        if isinstance(d, CrossedColumn):
            continue
        column = d.categorical if isinstance(d, (IndicatorColumn, EmbeddingColumn)) else d
        if isinstance(column, CrossedColumn) or column.multivalent or column in seen:
            continue
        seen.add(column)
        features.append(TreeFeature(column.name, int(column.num_ids)))
        plan.append((column.key, column))
    names = _Names()   # a key read both as a number and as a category gets two distinct column names
    return tuple(dataclasses.replace(f, name=names(f.name) if f.is_categorical else f.name) for f in features), plan


def _normalization_moments(d: NumericColumn) -> tuple[float, float]:
    if d.normalizer in ("zscore", "log"):
        return d.mean, (d.std ** 2 if d.std > 0 else 1.0)
    if d.normalizer == "minmax":
        return d.min, ((d.max - d.min) ** 2 if d.max > d.min else 1.0)
    return 0.0, 1.0


def _slices(widths: Sequence[tuple[str, int]]) -> dict[str, tuple[int, int]]:
    out, start = {}, 0
    for name, width in widths:
        out[name] = (start, start + width)
        start += width
    return out


def _dummy_batch(spec: dict) -> dict:
    return {key: tf.fill([1, 1], tf.constant(feature.default_value, feature.dtype)) for key, feature in spec.items()}


@dataclasses.dataclass
class CompiledFeatures:
    """The result of :func:`compile_features` (see features/README.md for the exact contract)."""

    definitions: tuple
    parse_spec: dict
    preprocessor: FeaturePreprocessor
    embedding_specs: dict
    dense_slices: dict
    wide_slices: dict
    label_spec: object = None
    tree_features: tuple = ()
    periodic_specs: dict = dataclasses.field(default_factory=dict)

    @property
    def tree_width(self) -> int:
        return len(self.tree_features)

    @property
    def dense_width(self) -> int:
        return self.preprocessor.dense_width

    @property
    def wide_width(self) -> int:
        return self.preprocessor.wide_width

    @property
    def embedding_width(self) -> int:
        return sum(spec.dimension for spec in self.embedding_specs.values())

    def new_embedding_block(self, name: str | None = None, seed: int | None = None) -> EmbeddingBlock:
        """A NEW trainable layer ``embedding_ids`` dict → float32 [B, embedding_width] (fresh weights each call).

        Also accepts the whole preprocessor output dict. Example (``adult``: a preprocessed DIR of Adult rows)::

            >>> from tfpipe import features as tff
            >>> compiled = compile_features(tff.fit(
            ...     [tff.embedding_column(tff.categorical_column_with_vocabulary_list("education"), 16)], adult))
            >>> parsed = {"education": tf.constant([[b"Bachelors"], [b"Doctorate"]])}
            >>> block = compiled.new_embedding_block("member_0")
            >>> block(compiled.preprocessor(parsed)).shape
            TensorShape([2, 16])
        """
        names = _Names()
        specs = {n: {"num_buckets": s.num_buckets, "dimension": s.dimension, "combiner": s.combiner,
                     "layer_name": names(n)} for n, s in self.embedding_specs.items()}
        return EmbeddingBlock(specs, seed=seed, name=name)


def compile_features(definitions: Sequence[Definition], label_spec=None) -> CompiledFeatures:
    """Parse spec + float32 Keras preprocessing model of fitted definitions (raises if any is not fitted).

    Example::

        >>> from tfpipe import features as tff
        >>> definitions = [tff.numeric_column("age"), tff.indicator_column(tff.categorical_column_with_vocabulary_list(
        ...     "sex")), tff.embedding_column(tff.categorical_column_with_vocabulary_list("education"), 8)]
        >>> compiled = compile_features(tff.fit(definitions, adult))
        >>> compiled.dense_width, compiled.wide_width, compiled.embedding_width
        (1, 3, 8)
    """
    definitions = validate_definitions(definitions)
    unfitted = [d.name for d in definitions if not d.is_fitted]
    if unfitted:
        raise ValueError(f"definitions are not fitted: {unfitted}; call tfpipe.features.fit first")
    spec = parse_spec(definitions)
    preprocessor = FeaturePreprocessor(definitions)
    preprocessor(_dummy_batch(spec))  # build every layer eagerly (no variable creation inside tf.data)
    numeric = [(d.name, 1) for d, _ in preprocessor._numeric_plan]
    piecewise = [(d.name, d.width) for d, _ in preprocessor._piecewise_plan]
    dense_slices = _slices(numeric + piecewise + [(f"{n}_missing", 1) for n in preprocessor.missing_names])
    wide_slices = _slices([(n, num_ids) for n, _, num_ids in preprocessor._wide_plan])
    return CompiledFeatures(definitions, spec, preprocessor, dict(preprocessor.embedding_specs), dense_slices,
                            wide_slices, label_spec, tuple(preprocessor.tree_features),
                            dict(preprocessor.periodic_specs))
