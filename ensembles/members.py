"""Member models over the compiled features, vectorized over a leading member axis.

A :class:`MemberStack` holds ``n`` independent members of one kind in ONE layer: dense weights have shape
``[n, in, out]`` and are applied with ``einsum``; embeddings come from a :class:`VectorizedEmbedding` (one
table ``[buckets, n * dim]`` per id feature, built from ``compiled.embedding_specs``) or, when only a factory
is given, from ``n`` fresh blocks of ``compiled.new_embedding_block``. Kinds:

- ``linear`` (wide): one affine map of ``wide`` (+ ``dense``) columns;
- ``dnn``: MLP over ``dense``, the member's embeddings and the ``wide`` multi-hot columns;
- ``wide_deep``: the sum of both (the linear part memorizes single columns and crosses, the MLP generalizes).

Inputs are the preprocessor's dict ``{"dense": f32[B, Dd], "wide": f32[B, Dw], "embedding_ids": {...}}``
(missing parts are skipped). The output is float32 logits ``[B, n, units]``; the last layer is float32 under
mixed precision. ``feature_fraction < 1`` gives every member a fixed random subset of the input columns.

Example::

    >>> import numpy as np
    >>> stack = MemberStack("wide_deep", n_members=4, units=1, hidden=(16,),
    ...                     embedding_specs={"c": (10, 4, "mean")})     # id feature c: 10 buckets, 4 wide
    >>> x = {"dense": np.zeros((2, 3), "float32"), "wide": np.zeros((2, 5), "float32"),
    ...      "embedding_ids": {"c": np.array([[1], [2]])}}
    >>> stack(x).shape
    TensorShape([2, 4, 1])
"""
from __future__ import annotations

import math
from typing import Callable

import keras
import numpy as np
from keras import ops

from tfpipe.ensembles.member_kinds import KERAS_KINDS, LIBRARY_OF_KIND, is_tree_kind
from tfpipe.ensembles.tree_members import TreeMembers


def make_member(kind: str, n_models: int, units: int, *, name: str, seed: int = 0, gbdt_config=None,
                include_base: bool = True, **keras_options):
    """``n_models`` members of ``kind`` in one layer: :class:`~tfpipe.ensembles.tree_members.TreeMembers` for a
    tree kind (``gbdt_config``, ``include_base``), else a :class:`MemberStack` (``keras_options``: ``hidden``,
    ``embedding_factory``, ``embedding_specs``, ``feature_fraction``). Every ensemble makes its members here.

    >>> [type(make_member(k, 2, 1, name=k, hidden=(8,))).__name__ for k in ("lgbm", "dnn")]
    ['TreeMembers', 'MemberStack']
    """
    if is_tree_kind(kind):
        return TreeMembers(n_models, units, gbdt_config, seed=seed, include_base=include_base,
                           library=LIBRARY_OF_KIND[kind], name=name)
    return MemberStack(kind, n_models, units, seed=seed, name=name, **keras_options)


class VectorizedDense(keras.layers.Layer):
    """``n`` dense layers at once: x [B, in] (shared) or [B, n, in] -> [B, n, out], kernel [n, in, out].

    ``mask`` ([n, in], 0/1) zeroes input columns per member (random feature subsets).
    """

    def __init__(self, n_members: int, units: int, activation=None, mask=None, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = kernel_initializer or keras.initializers.VarianceScaling(1.0, "fan_avg", "uniform")
        self.n_members = int(n_members)
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.mask = None if mask is None else np.asarray(mask, dtype="float32")

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=(self.n_members, fan_in, self.units), initializer=self.kernel_initializer)
        self.bias = self.add_weight(name="bias", shape=(self.n_members, self.units), initializer="zeros")

    def call(self, x):
        kernel = ops.cast(self.kernel, self.compute_dtype)
        if self.mask is not None:
            kernel = kernel * ops.cast(self.mask[:, :, None], self.compute_dtype)
        x = ops.cast(x, self.compute_dtype)
        if len(x.shape) == 2:
            y = ops.einsum("bi,kio->bko", x, kernel)
        else:
            y = ops.einsum("bki,kio->bko", x, kernel)
        y = y + ops.cast(self.bias, self.compute_dtype)[None]
        return self.activation(y) if self.activation is not None else y


class VectorizedEmbedding(keras.layers.Layer):
    """Embeddings of ``n`` members in one table per id feature: [buckets, n * dim] -> [B, n, sum dims].

    ``specs``: ``{name: (num_buckets, dimension, combiner)}`` (``compiled.embedding_specs`` works: objects with
    those attributes). Ids are int [B] or [B, L] with ``-1`` for padding/missing (masked out), combined with
    ``mean`` / ``sum`` / ``sqrtn`` like ``tf.feature_column``. One gather per feature serves all members, which
    is what makes K members in one pass cheap.
    """

    def __init__(self, specs: dict, n_members: int, **kwargs):
        super().__init__(**kwargs)
        self.n_members = int(n_members)
        self.specs = {}
        for name, spec in specs.items():
            if isinstance(spec, (tuple, list)):
                buckets, dim, combiner = (tuple(spec) + ("mean",))[:3]
            else:
                buckets, dim, combiner = spec.num_buckets, spec.dimension, getattr(spec, "combiner", "mean")
            self.specs[name] = (int(buckets), int(dim), combiner)
        self.tables = {}

    def build(self, input_shape=None):
        for i, (name, (buckets, dim, _)) in enumerate(self.specs.items()):
            self.tables[name] = self.add_weight(
                name=f"table_{i}", shape=(buckets, self.n_members * dim),
                initializer=keras.initializers.RandomUniform(-0.05, 0.05))
        self.built = True

    @property
    def width(self) -> int:
        return sum(dim for _, dim, _ in self.specs.values())

    def call(self, ids):
        import tensorflow as tf

        parts = []
        for name, (buckets, dim, combiner) in self.specs.items():
            x = tf.cast(ids[name], tf.int32)
            if x.shape.rank == 1:
                x = x[:, None]
            valid = tf.cast(x >= 0, self.compute_dtype)[..., None]                      # [B, L, 1]
            table = tf.cast(self.tables[name], self.compute_dtype)
            emb = tf.gather(table, tf.clip_by_value(x, 0, buckets - 1)) * valid          # [B, L, n*dim]
            total = tf.reduce_sum(emb, axis=1)
            count = tf.reduce_sum(valid, axis=1)
            if combiner == "mean":
                total = total / tf.maximum(count, 1.0)
            elif combiner == "sqrtn":
                total = total / tf.sqrt(tf.maximum(count, 1.0))
            parts.append(tf.reshape(total, [-1, self.n_members, dim]))
        return tf.concat(parts, axis=-1)


class _ScaledNormal(keras.initializers.Initializer):
    """N(0, scale²) with one scale per leading index (each periodic column's ``sigma``)."""

    def __init__(self, scales, seed=None):
        self.scales, self.seed = [float(v) for v in scales], seed

    def __call__(self, shape, dtype=None):
        scales = ops.reshape(ops.convert_to_tensor(self.scales, dtype or "float32"), (-1,) + (1,) * (len(shape) - 1))
        return keras.random.normal(shape, seed=self.seed, dtype=dtype) * scales

    def get_config(self):
        return {"scales": self.scales, "seed": self.seed}


class VectorizedPeriodic(keras.layers.Layer):
    """Periodic embeddings ("PLR", Gorishniy et al. 2022) of the ``periodic`` block for ``n`` members at once:
    x float32 [B, P] → [B, n, sum of dimensions].

    Per column ``p`` and member ``m``: ``ReLU(W[p, m] [cos 2π c[p, m] x_p, sin 2π c[p, m] x_p] + b[p, m])``,
    frequencies ``c`` initialized from N(0, sigma²) and learned. ``specs``: ``{name: PeriodicSpec(index,
    n_frequencies, sigma, dimension)}`` (``compiled.periodic_specs``); columns with the same ``(n_frequencies,
    dimension)`` share one batched einsum. Computes in float32 under any policy (``cos`` of large arguments).
    """

    def __init__(self, specs: dict, n_members: int, seed: int = 0, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.n_members, self.seed = int(n_members), int(seed)
        groups: dict = {}
        for spec in sorted(specs.values(), key=lambda sp: sp.index):
            groups.setdefault((int(spec.n_frequencies), int(spec.dimension)), []).append(spec)
        self.groups = [(k, d, [sp.index for sp in group], [sp.sigma for sp in group])
                       for (k, d), group in groups.items()]
        self.weights_by_group = []

    def build(self, input_shape=None):
        n = self.n_members
        for g, (k, d, indices, sigmas) in enumerate(self.groups):
            p, bound = len(indices), 1.0 / math.sqrt(2 * k)
            self.weights_by_group.append((
                self.add_weight(name=f"frequencies_{g}", shape=(p, n, k),
                                initializer=_ScaledNormal(sigmas, seed=self.seed * 7919 + g)),
                self.add_weight(name=f"kernel_{g}", shape=(p, n, 2 * k, d),
                                initializer=keras.initializers.RandomUniform(-bound, bound, seed=self.seed + g)),
                self.add_weight(name=f"bias_{g}", shape=(p, n, d),
                                initializer=keras.initializers.RandomUniform(-bound, bound, seed=self.seed + g + 1))))
        self.built = True

    @property
    def width(self) -> int:
        return sum(d * len(indices) for _, d, indices, _ in self.groups)

    def call(self, x):
        x = ops.cast(x, "float32")
        parts = []
        for (k, d, indices, _), (frequencies, kernel, bias) in zip(self.groups, self.weights_by_group):
            values = ops.take(x, indices, axis=1)                                        # [B, P]
            angle = (2.0 * math.pi) * values[:, :, None, None] * frequencies[None]      # [B, P, n, k]
            features = ops.concatenate([ops.cos(angle), ops.sin(angle)], axis=-1)      # [B, P, n, 2k]
            out = ops.relu(ops.einsum("bpni,pnid->bnpd", features, kernel)
                           + ops.transpose(bias, (1, 0, 2))[None])                      # [B, n, P, d]
            parts.append(ops.reshape(out, (-1, self.n_members, len(indices) * d)))
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)


def feature_masks(n_members: int, width: int, fraction: float, seed: int) -> np.ndarray | None:
    """Fixed random 0/1 masks [n, width] keeping ``ceil(fraction*width)`` columns per member (None if 1)."""
    if fraction >= 1.0 or width == 0:
        return None
    keep = max(1, int(np.ceil(fraction * width)))
    rng = np.random.default_rng([int(seed), 7919, width])
    masks = np.zeros((n_members, width), "float32")
    for k in range(n_members):
        masks[k, rng.choice(width, keep, replace=False)] = 1.0
    return masks


class MemberStack(keras.layers.Layer):
    """``n_members`` members of one kind, vectorized; call(inputs) -> float32 logits [B, n_members, units]."""

    def __init__(self, kind: str, n_members: int, units: int, hidden=(64, 32),
                 embedding_factory: Callable | None = None, feature_fraction: float = 1.0, seed: int = 0,
                 embedding_specs: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if kind not in KERAS_KINDS:
            raise ValueError(f"member kind must be one of {KERAS_KINDS}, got {kind!r}")
        self.kind, self.n_members, self.units = kind, int(n_members), int(units)
        self.hidden = tuple(int(h) for h in hidden)
        self.feature_fraction, self.seed = float(feature_fraction), int(seed)
        self.embedding_blocks = []
        self.vectorized_embedding = self.periodic = None
        specs = dict(embedding_specs or {})
        periodic = {name: spec for name, spec in specs.items() if hasattr(spec, "n_frequencies")}
        id_specs = {name: spec for name, spec in specs.items() if name not in periodic}
        if kind != "linear" and periodic:
            self.periodic = VectorizedPeriodic(periodic, self.n_members, seed=seed, name="periodic")
        if kind != "linear" and id_specs:
            self.vectorized_embedding = VectorizedEmbedding(id_specs, self.n_members, name="embeddings")
        elif kind != "linear" and embedding_factory is not None and not specs:
            self.embedding_blocks = [embedding_factory(f"{self.name}_embedding_{k}") for k in range(self.n_members)]

    def build(self, input_shape):
        dense_w = int(input_shape["dense"][-1]) if "dense" in input_shape else 0
        wide_w = int(input_shape["wide"][-1]) if "wide" in input_shape else 0
        self._has_dense, self._has_wide = dense_w > 0, wide_w > 0
        n = self.n_members
        if self.kind in ("linear", "wide_deep"):
            if self.kind == "linear":
                self._lin_parts = tuple(p for p, w in (("wide", wide_w), ("dense", dense_w)) if w)
            else:
                self._lin_parts = ("wide",) if wide_w else ("dense",)
            lin_w = sum(w for p, w in (("wide", wide_w), ("dense", dense_w)) if p in self._lin_parts)
            mask = feature_masks(n, lin_w, self.feature_fraction, self.seed * 31 + 1)
            self.linear_out = VectorizedDense(n, self.units, mask=mask, dtype="float32",
                                              kernel_initializer="zeros", name="linear_out")
        if self.kind in ("dnn", "wide_deep"):
            self.hidden_layers = []
            for i, h in enumerate(self.hidden):
                self.hidden_layers.append(VectorizedDense(n, h, activation="relu", name=f"hidden_{i}"))
            self.deep_out = VectorizedDense(n, self.units, dtype="float32", name="deep_out")
        self.built = True

    def _deep_input(self, inputs):
        """[B, n, in]: dense and wide (shared) concatenated with each member's embeddings."""
        parts = []
        if self._has_dense:
            dense = ops.cast(inputs["dense"], self.compute_dtype)
            parts.append(ops.repeat(dense[:, None, :], self.n_members, axis=1))
        has_ids = "embedding_ids" in inputs and bool(inputs["embedding_ids"])
        if self.vectorized_embedding is not None and has_ids:
            parts.append(ops.cast(self.vectorized_embedding(inputs["embedding_ids"]), self.compute_dtype))
        elif self.embedding_blocks and has_ids:
            embs = [ops.cast(block(inputs["embedding_ids"]), self.compute_dtype) for block in self.embedding_blocks]
            parts.append(ops.stack(embs, axis=1))
        if self.periodic is not None and "periodic" in inputs:
            parts.append(ops.cast(self.periodic(inputs["periodic"]), self.compute_dtype))
        if self._has_wide:  # the one-hot / multi-hot (indicator, bucketized, crossed) columns too
            wide = ops.cast(inputs["wide"], self.compute_dtype)
            parts.append(ops.repeat(wide[:, None, :], self.n_members, axis=1))
        if not parts:
            raise ValueError("a dnn member needs dense columns or embeddings")
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)

    def call(self, inputs, training=False):
        out = None
        if self.kind in ("linear", "wide_deep"):
            lin_in = [ops.cast(inputs[p], "float32") for p in self._lin_parts]
            lin_x = lin_in[0] if len(lin_in) == 1 else ops.concatenate(lin_in, axis=-1)
            out = self.linear_out(lin_x)
        if self.kind in ("dnn", "wide_deep"):
            x = self._deep_input(inputs)
            if self.feature_fraction < 1.0:
                if not hasattr(self, "_deep_mask"):
                    self._deep_mask = feature_masks(self.n_members, int(x.shape[-1]), self.feature_fraction,
                                                    self.seed * 31 + 2)
                x = x * ops.cast(self._deep_mask[None], x.dtype)
            for layer in self.hidden_layers:
                x = layer(x)
            deep = self.deep_out(x)
            out = deep if out is None else out + deep
        return ops.cast(out, "float32")


class MixedMembers(keras.layers.Layer):
    """Members of several kinds in the given order → float32 logits [B, len(kinds), units].

    Keras kinds are vectorized per kind (one :class:`MemberStack` each); the members of a tree kind are one
    :class:`~tfpipe.ensembles.tree_members.TreeMembers` (trained by their library before the Keras pass, see
    :meth:`fit_gbdt`).
    While the Keras members train (``training=True``) the trees are skipped (their logits are zeros): they have
    nothing to learn there and would only cost time.
    """

    def __init__(self, kinds, units: int, hidden=(64, 32), embedding_factory=None, feature_fraction: float = 1.0,
                 seed: int = 0, embedding_specs: dict | None = None, gbdt_config=None, **kwargs):
        super().__init__(**kwargs)
        self.autocast = False   # the tree block reaches gbdt members in float32 under mixed precision
        self.kinds, self.units = tuple(kinds), int(units)
        positions = {}
        for index, kind in enumerate(self.kinds):
            positions.setdefault(kind, []).append(index)
        self.groups = []
        self.tree_groups = []      # (member indices, TreeMembers) per tree kind
        for kind, indices in positions.items():
            name = kind if is_tree_kind(kind) else "members" if len(positions) == 1 else f"members_{kind}"
            layer = make_member(kind, len(indices), units, name=name, seed=seed, gbdt_config=gbdt_config,
                                hidden=hidden, embedding_factory=embedding_factory,
                                feature_fraction=feature_fraction, embedding_specs=embedding_specs)
            if is_tree_kind(kind):
                self.tree_groups.append((tuple(indices), layer))
            self.groups.append((kind, tuple(indices), layer))
        concatenated = [i for _, indices, _ in self.groups for i in indices]
        self.order = None if concatenated == list(range(len(self.kinds))) else np.argsort(concatenated)

    @property
    def has_tree_members(self) -> bool:
        return bool(self.tree_groups)

    @property
    def has_keras_members(self) -> bool:
        return any(not is_tree_kind(kind) for kind in self.kinds)

    def call(self, inputs, training=False):
        import tensorflow as tf

        parts = []
        for kind, indices, layer in self.groups:
            if is_tree_kind(kind) and training:
                parts.append(tf.zeros([tf.shape(inputs["tree"])[0], len(indices), self.units], tf.float32))
            elif is_tree_kind(kind):
                parts.append(layer(inputs))
            else:
                parts.append(layer(inputs, training=training))
        out = parts[0] if len(parts) == 1 else tf.concat(parts, axis=1)
        return out if self.order is None else tf.gather(out, self.order, axis=1)

    def fit_gbdt(self, train_ds, eval_ds, task, tree_features, weights_fn=None) -> list[dict]:
        """Trains the tree members (``weights_fn(keys) -> [N, K]`` over ALL members; each kind picks its own)."""
        histories = []
        for indices, layer in self.tree_groups:
            picked = None
            if weights_fn is not None:
                picked = lambda keys, c=np.asarray(indices): np.asarray(weights_fn(keys))[:, c]  # noqa: E731
            histories.append(layer.fit(train_ds, eval_ds, task, tree_features, weights_fn=picked))
        return histories
