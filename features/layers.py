"""Small Keras 3 layers that glue the built-in preprocessing layers into FeatureColumn semantics.

Ids follow ``tf.feature_column`` numbering (vocabulary first, then OOV buckets) and ``-1`` marks "no id"
(missing value, padding of a multi-valued input, dropped OOV). Missing raw values arrive as the sentinels of
:mod:`tfpipe.features.missing`. Every float layer computes in float32 whatever the global dtype policy.

Example::

    >>> ids = VocabularyIds(["a", "b"], num_oov_buckets=1, dtype="string")(tf.constant([["b"], ["z"], [""]]))
    >>> ids.numpy().ravel().tolist()
    [1, 2, -1]
"""
from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfpipe.features.missing import MISSING_INT, MISSING_STRING

_PACKAGE = "tfpipe"


def is_missing(values: tf.Tensor) -> tf.Tensor:
    """Boolean mask of the missing sentinels (NaN, ``MISSING_INT``, ``""``) of a raw parsed tensor."""
    if values.dtype == tf.string:
        return tf.equal(values, MISSING_STRING)
    if values.dtype.is_integer:
        return tf.equal(values, tf.constant(MISSING_INT, values.dtype))
    return tf.math.is_nan(values)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class NumericInput(keras.layers.Layer):
    """Raw number [B, 1] → (value float32 [B, 1] with missing → ``default_value``, optionally log1p(max(x, 0)),
    missing float32 [B, 1] 0/1)."""

    def __init__(self, default_value: float, log: bool = False, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.default_value = float(default_value)
        self.log = bool(log)

    def call(self, raw):
        missing = is_missing(raw)
        values = tf.where(missing, tf.constant(self.default_value, tf.float32), tf.cast(raw, tf.float32))
        if self.log:
            values = tf.math.log1p(tf.maximum(values, 0.0))
        return values, tf.cast(missing, tf.float32)

    def get_config(self):
        return {**super().get_config(), "default_value": self.default_value, "log": self.log}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class VocabularyIds(keras.layers.Layer):
    """Raw strings/ints [B, L] → int64 ids [B, L]: vocabulary ``0..n-1``, OOV ``n..n+k-1`` (hashed like
    ``tf.feature_column``: ``to_hash_bucket_fast(as_string(x), k)``), ``-1`` for missing (and OOV when k = 0).
    Uses ``keras.layers.StringLookup`` / ``IntegerLookup``."""

    def __init__(self, vocabulary, num_oov_buckets: int, dtype: str, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary = list(vocabulary)
        self.num_oov_buckets = int(num_oov_buckets)
        self.value_dtype = dtype
        oov = max(self.num_oov_buckets, 1)
        if dtype == "string":
            self.lookup = keras.layers.StringLookup(vocabulary=self.vocabulary, num_oov_indices=oov,
                                                    mask_token=None, output_mode="int")
        else:
            self.lookup = keras.layers.IntegerLookup(vocabulary=self.vocabulary, num_oov_indices=oov,
                                                     mask_token=None, output_mode="int", oov_method="farmhash",
                                                     vocabulary_dtype="int64")

    def call(self, raw):
        keras_ids = tf.cast(self.lookup(raw), tf.int64)  # OOV first: [0, oov) then the vocabulary
        n, oov = len(self.vocabulary), max(self.num_oov_buckets, 1)
        if self.num_oov_buckets == 0:
            ids = tf.where(keras_ids < oov, tf.constant(-1, tf.int64), keras_ids - oov)
        else:
            ids = tf.where(keras_ids < oov, keras_ids + n, keras_ids - oov)
        return tf.where(is_missing(raw), tf.constant(-1, tf.int64), ids)

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary, "num_oov_buckets": self.num_oov_buckets,
                "dtype": self.value_dtype}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class IdentityIds(keras.layers.Layer):
    """Raw ints [B, L] → ids; values outside ``[0, num_buckets)`` → ``default_value`` (or ``-1`` when None)."""

    def __init__(self, num_buckets: int, default_value: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_buckets = int(num_buckets)
        self.default_value = default_value

    def call(self, raw):
        raw = tf.cast(raw, tf.int64)
        valid = (raw >= 0) & (raw < self.num_buckets)
        fallback = -1 if self.default_value is None else int(self.default_value)
        ids = tf.where(valid, raw, tf.constant(fallback, tf.int64))
        return tf.where(is_missing(raw), tf.constant(-1, tf.int64), ids)

    def get_config(self):
        return {**super().get_config(), "num_buckets": self.num_buckets, "default_value": self.default_value}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class HashIds(keras.layers.Layer):
    """Raw strings/ints [B, L] → ``keras.layers.Hashing`` ids (= ``to_hash_bucket_fast(as_string(x))``), -1 missing."""

    def __init__(self, num_bins: int, **kwargs):
        super().__init__(**kwargs)
        self.num_bins = int(num_bins)
        self.hashing = keras.layers.Hashing(num_bins=self.num_bins)

    def call(self, raw):
        ids = tf.cast(self.hashing(raw), tf.int64)
        return tf.where(is_missing(raw), tf.constant(-1, tf.int64), ids)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class BucketIds(keras.layers.Layer):
    """Raw number [B, 1] → ``keras.layers.Discretization`` bucket ids (missing → bucket of ``default_value``)."""

    def __init__(self, boundaries, default_value: float, **kwargs):
        super().__init__(**kwargs)
        self.boundaries = [float(b) for b in boundaries]
        self.default_value = float(default_value)
        self.discretization = keras.layers.Discretization(bin_boundaries=self.boundaries, output_mode="int",
                                                          dtype="float32")

    def call(self, raw):
        values = tf.where(is_missing(raw), tf.constant(self.default_value, tf.float32), tf.cast(raw, tf.float32))
        return tf.cast(self.discretization(values), tf.int64)

    def get_config(self):
        return {**super().get_config(), "boundaries": self.boundaries, "default_value": self.default_value}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PiecewiseLinearEncoding(keras.layers.Layer):
    """Raw number [B, 1] → float32 [B, T] piecewise-linear encoding over the bins of ``edges`` (T + 1 edges;
    missing → encoding of ``default_value``); see :func:`tfpipe.features.piecewise_linear_column`.

    Example::

        >>> layer = PiecewiseLinearEncoding([0.0, 1.0, 3.0], default_value=0.5)
        >>> layer(tf.constant([[-1.0], [2.0], [9.0], [float("nan")]])).numpy().tolist()
        [[-1.0, 0.0], [1.0, 0.5], [1.0, 4.0], [0.5, 0.0]]
    """

    def __init__(self, edges, default_value: float, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.edges = [float(e) for e in edges]
        self.default_value = float(default_value)

    def call(self, raw):
        x = tf.where(is_missing(raw), tf.constant(self.default_value, tf.float32), tf.cast(raw, tf.float32))
        edges = tf.constant(self.edges, tf.float32)
        ratio = (x - edges[:-1]) / (edges[1:] - edges[:-1])                               # [B, T]
        bins = len(self.edges) - 1
        if bins == 1:
            return ratio
        low = tf.constant([-math.inf] + [0.0] * (bins - 1), tf.float32)
        high = tf.constant([1.0] * (bins - 1) + [math.inf], tf.float32)
        return tf.minimum(tf.maximum(ratio, low), high)

    def get_config(self):
        return {**super().get_config(), "edges": self.edges, "default_value": self.default_value}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CrossIds(keras.layers.Layer):
    """Single-valued inputs [B, 1] (ids, or raw strings/ints) → ``keras.layers.HashedCrossing`` ids [B, 1];
    ``-1`` when any input is missing (negative id or missing sentinel)."""

    def __init__(self, num_bins: int, input_kinds, **kwargs):
        super().__init__(**kwargs)
        self.num_bins = int(num_bins)
        self.input_kinds = list(input_kinds)  # "ids" (column ids, -1 = none) or "raw" (parsed raw values)
        self.crossing = keras.layers.HashedCrossing(num_bins=self.num_bins, output_mode="int")

    def call(self, inputs):
        missing = None
        for values, kind in zip(inputs, self.input_kinds):
            m = values < 0 if kind == "ids" else is_missing(values)
            missing = m if missing is None else missing | m
        ids = tf.cast(self.crossing(tuple(inputs)), tf.int64)
        ids = tf.reshape(ids, tf.shape(missing))
        return tf.where(missing, tf.constant(-1, tf.int64), ids)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "input_kinds": self.input_kinds}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class WideEncoding(keras.layers.Layer):
    """Ids of several columns ([B, L_i], ``-1`` = none) → one float32 [B, sum(num_ids)] block of counts via a
    single ``keras.layers.CategoryEncoding`` (column i's ids shifted by the widths before it): one-hot for
    single values, multi-hot for lists (a count > 1 only when ids repeat in one list, e.g. hash collisions,
    exactly like ``tf.feature_column.indicator_column``)."""

    def __init__(self, num_ids, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.num_ids = [int(n) for n in num_ids]
        self.offsets = [sum(self.num_ids[:i]) for i in range(len(self.num_ids))]
        self.width = sum(self.num_ids)
        self.encoding = keras.layers.CategoryEncoding(num_tokens=max(self.width, 1), output_mode="count",
                                                      dtype="float32")

    def call(self, ids_list):
        shifted = [tf.where(ids >= 0, ids + offset, tf.constant(-1, tf.int64))
                   for ids, offset in zip(ids_list, self.offsets)]
        ids = tf.concat(shifted, axis=1) if len(shifted) > 1 else shifted[0]
        weights = tf.cast(ids >= 0, tf.float32)
        return self.encoding(tf.maximum(ids, 0), count_weights=weights)

    def compute_output_shape(self, input_shape):
        return (None, self.width)

    def get_config(self):
        return {**super().get_config(), "num_ids": self.num_ids}


def combine(embedded: tf.Tensor, ids: tf.Tensor, combiner: str) -> tf.Tensor:
    """Reduces embeddings [B, L, D] of ids [B, L] (``-1`` masked) with mean / sum / sqrtn; no id → zeros."""
    weights = tf.cast(ids >= 0, embedded.dtype)[:, :, None]
    total = tf.reduce_sum(embedded * weights, axis=1)
    if combiner == "sum":
        return total
    count = tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)
    return total / (count if combiner == "mean" else tf.sqrt(count))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class EmbeddingBlock(keras.layers.Layer):
    """Trainable: ``{name: ids [B, L]}`` → float32 [B, sum of dimensions]; one ``keras.layers.Embedding`` per
    column (initialized like ``tf.feature_column.embedding_column``: truncated normal, stddev 1/sqrt(dim)),
    ``-1`` ids masked, ``combiner`` applied, concatenated in ``specs`` order."""

    def __init__(self, specs: dict, seed: int | None = None, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.specs = {name: dict(spec) for name, spec in specs.items()}
        self.seed = seed
        self.embeddings = {}
        for i, (name, spec) in enumerate(self.specs.items()):
            initializer = keras.initializers.TruncatedNormal(
                stddev=1.0 / math.sqrt(spec["dimension"]), seed=None if seed is None else seed + i)
            self.embeddings[name] = keras.layers.Embedding(
                spec["num_buckets"], spec["dimension"], embeddings_initializer=initializer, dtype="float32",
                name=spec.get("layer_name"))
        self.width = sum(spec["dimension"] for spec in self.specs.values())
        self.build()  # weights exist right away (set_weights, counting parameters) and are fresh per block

    def build(self, input_shape=None):
        for name, layer in self.embeddings.items():
            if not layer.built:
                layer.build((None, None))
        self.built = True

    def call(self, embedding_ids):
        batch_source = embedding_ids
        if "embedding_ids" in embedding_ids:  # the whole preprocessor output was passed
            batch_source, embedding_ids = embedding_ids.get("dense"), embedding_ids["embedding_ids"]
        parts = []
        for name, spec in self.specs.items():
            ids = tf.cast(embedding_ids[name], tf.int64)
            embedded = self.embeddings[name](tf.maximum(ids, 0))
            parts.append(combine(tf.cast(embedded, tf.float32), ids, spec["combiner"]))
        if not parts:
            batch = _batch_size(batch_source)
            return tf.zeros([batch, 0], tf.float32)
        return tf.concat(parts, axis=1) if len(parts) > 1 else parts[0]

    def compute_output_shape(self, input_shape):
        return (None, self.width)

    def get_config(self):
        return {**super().get_config(), "specs": self.specs, "seed": self.seed}


def _batch_size(tensors) -> tf.Tensor | int:
    flat = tf.nest.flatten(tensors)
    return tf.shape(flat[0])[0] if flat else 0
