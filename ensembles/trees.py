"""Gradient-boosted trees compiled to plain TensorFlow ops: XGBoost's JSON model → node arrays → a Keras layer.

Why hand-written: no maintained converter emits plain TF ops for trees (TF-Decision-Forests is pinned to TF 2.19
and YDF serves through the ``ydf-tf`` custom op; onnx-tf has no tree ops; Hummingbird has no TF backend), and the
SavedModel must load with TensorFlow alone.

**Arrays** (:class:`CompiledTrees`, built by :func:`compile_boosters`): every node of every tree of one or more
boosters in flat arrays — split feature, threshold, left/right child (a leaf points to itself), default
direction for missing values, and for categorical splits an offset into one flat boolean table of "goes right"
categories. **Evaluation** (:func:`tree_margins`, :class:`TreeEnsembleLayer`): the exit leaf of every tree,
by default from per-feature leaf bit masks (:mod:`tfpipe.ensembles.tree_masks`: one row gather per feature,
3–8× faster at batch 1024), else — when the mask tables would exceed 256 MiB — by walking all trees at once, one step per depth
level (:func:`traverse_leaves`): ``node → (feature, threshold, children) by gather → x[feature] by gather →
compare → next node``. The leaf values are then summed per (model, class) in XGBoost's own order — the base score
first, then tree by tree in float32 (a ``cumsum`` over the rounds) — so the margins equal
``Booster.predict(..., output_margin=True)`` to float32 rounding.

Semantics reproduced (XGBoost's CPU predictor, ``common::Decision``): NaN → the node's default child; numeric:
``x < threshold`` → left; categorical: the category ``int(x)`` in the node's set → right, otherwise (including
negative, ``>= 2**24`` and categories beyond the set's largest, e.g. never seen in training) → left.

Example::

    >>> import numpy as np, xgboost as xgb
    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]], "float32"); y = np.array([0, 0, 1, 1])
    >>> booster = xgb.train({"max_depth": 1, "objective": "binary:logistic"}, xgb.DMatrix(x, y), 2)
    >>> layer = TreeEnsembleLayer(compile_boosters([booster]))
    >>> margins = layer(x).numpy()[:, 0, 0]                       # [batch, models, units]
    >>> bool(np.allclose(margins, booster.predict(xgb.DMatrix(x), output_margin=True), atol=1e-6))
    True
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math

import keras
import numpy as np

from tfpipe.ensembles.tree_masks import build_leaf_masks, captured_constant, exit_leaf_values

# How XGBoost stores the intercept (``learner_model_param.base_score``) per objective → margin space.
_BASE_TO_MARGIN = {
    "binary:logistic": lambda p: math.log(p / (1.0 - p)),
    "reg:logistic": lambda p: math.log(p / (1.0 - p)),
    "binary:logitraw": lambda v: v,
    "multi:softprob": lambda v: v,
    "multi:softmax": lambda v: v,
    "reg:squarederror": lambda v: v,
    "reg:pseudohubererror": lambda v: v,
    "reg:absoluteerror": lambda v: v,
    "count:poisson": math.log,
    "reg:gamma": math.log,
    "reg:tweedie": math.log,
}
SUPPORTED_OBJECTIVES = tuple(sorted(_BASE_TO_MARGIN))
MAX_CATEGORY = 1 << 24   # XGBoost treats category values >= 2**24 (and < 0) as invalid: they go left


@dataclasses.dataclass(frozen=True, eq=False)
class CompiledTrees:
    """Flat node arrays of ``n_models`` boosters with ``units`` outputs each (see the module docstring).

    ``layout[m, u, r]`` is the tree index added ``r``-th to output ``u`` of model ``m`` (``-1`` = none: models
    may have different numbers of trees); ``base_margin[m, u]`` is the margin before any tree.
    """

    feature: np.ndarray        # int32 [nodes]
    threshold: np.ndarray      # float32 [nodes]
    left: np.ndarray           # int32 [nodes], leaves point to themselves
    right: np.ndarray          # int32 [nodes]
    default_left: np.ndarray   # bool [nodes]
    categorical: np.ndarray    # bool [nodes]
    cat_offset: np.ndarray     # int32 [nodes], into cat_table
    cat_size: np.ndarray       # int32 [nodes], categories >= size go left
    cat_table: np.ndarray      # bool [sum sizes], True = goes right
    leaf_value: np.ndarray     # float32 [nodes] (0 for internal nodes)
    roots: np.ndarray          # int32 [trees]
    layout: np.ndarray         # int32 [models, units, rounds]
    base_margin: np.ndarray    # float32 [models, units]
    depth: int                 # longest root-to-leaf path (edges)
    num_features: int
    sum_dtype: str = "float32"  # leaves summed in XGBoost's float32 order, or in float64 (LightGBM)

    @property
    def n_models(self) -> int:
        return int(self.layout.shape[0])

    @property
    def units(self) -> int:
        return int(self.layout.shape[1])

    @property
    def n_trees(self) -> int:
        return int(self.roots.shape[0])

    @functools.cached_property
    def leaf_masks(self):
        """:class:`~tfpipe.ensembles.tree_masks.LeafMasks` of these trees, or ``None`` if too large (built once)."""
        return build_leaf_masks(self)


def _base_margin(learner: dict, units: int) -> np.ndarray:
    objective = learner["objective"]["name"]
    if objective not in _BASE_TO_MARGIN:
        raise ValueError(f"XGBoost objective {objective!r} cannot be compiled; supported: {SUPPORTED_OBJECTIVES}")
    raw = learner["learner_model_param"]["base_score"]
    values = [float(v) for v in raw.strip("[]").split(",")] if raw.startswith("[") else [float(raw)]
    if len(values) == 1:
        values = values * units
    if len(values) != units:
        raise ValueError(f"base_score {raw!r} does not match {units} outputs")
    return np.asarray([_BASE_TO_MARGIN[objective](v) for v in values], "float64").astype("float32")


def _tree_depth(left: list, right: list) -> int:
    depth, frontier = 0, [0]
    while True:
        children = [c for n in frontier for c in (left[n], right[n]) if c >= 0]
        if not children:
            return depth
        depth, frontier = depth + 1, children


def booster_json(booster) -> dict:
    """The booster's JSON model as a dict (``xgboost.Booster``, a JSON string/bytes, or the dict itself)."""
    if isinstance(booster, dict):
        return booster
    if isinstance(booster, (str, bytes, bytearray)):
        return json.loads(booster)
    return json.loads(bytes(booster.save_raw("json")))


def compile_boosters(boosters, include_base: bool = True) -> CompiledTrees:
    """Flattens XGBoost ``gbtree`` boosters (all with the same objective and outputs) into :class:`CompiledTrees`.

    ``include_base=False`` leaves the intercept out (the trees only: for a booster trained on top of a given
    ``base_margin``). Raises ``ValueError`` for what cannot be compiled (dart/linear boosters, multi-target
    trees, category re-coding, an unsupported objective).
    """
    models = [booster_json(b) for b in boosters]
    if not models:
        raise ValueError("no boosters to compile")
    arrays = {k: [] for k in ("feature", "threshold", "left", "right", "default_left", "categorical",
                              "cat_offset", "cat_size", "leaf_value")}
    cat_table, roots, per_output, bases = [], [], [], []
    units = num_features = None
    depth = offset = cat_offset = 0
    for model in models:
        learner = model["learner"]
        booster = learner["gradient_booster"]
        if booster.get("name") != "gbtree":
            raise ValueError(f"only gbtree boosters can be compiled, got {booster.get('name')!r}")
        param = learner["learner_model_param"]
        if int(param.get("num_target", "1")) > 1:
            raise ValueError("multi-target trees cannot be compiled")
        model_units = max(int(param.get("num_class", "0")), 1)
        if units not in (None, model_units):
            raise ValueError("all boosters must have the same number of outputs")
        units = model_units
        num_features = max(num_features or 0, int(param["num_feature"]))
        cats = booster["model"].get("cats") or {}
        if cats.get("enc"):
            raise ValueError("boosters trained on re-coded categories (pandas/arrow categoricals) cannot be "
                             "compiled: train on integer codes")
        base = _base_margin(learner, units)
        bases.append(base if include_base else np.zeros_like(base))
        by_output = [[] for _ in range(units)]
        for tree, output in zip(booster["model"]["trees"], booster["model"]["tree_info"]):
            left, right = tree["left_children"], tree["right_children"]
            n = len(left)
            is_leaf = np.asarray(left) < 0
            node = np.arange(n)
            arrays["left"].append(np.where(is_leaf, node, left) + offset)
            arrays["right"].append(np.where(is_leaf, node, right) + offset)
            arrays["feature"].append(np.where(is_leaf, 0, tree["split_indices"]))
            conditions = np.asarray(tree["split_conditions"], "float32")
            arrays["threshold"].append(np.where(is_leaf, np.float32(0), conditions))
            arrays["leaf_value"].append(np.where(is_leaf, conditions, np.float32(0)))
            arrays["default_left"].append(np.asarray(tree["default_left"], bool) & ~is_leaf)
            split_type = np.asarray(tree.get("split_type", [0] * n))
            arrays["categorical"].append((split_type == 1) & ~is_leaf)
            sizes, offsets = np.zeros(n, "int64"), np.zeros(n, "int64")
            segments, cat_sizes = tree.get("categories_segments", []), tree.get("categories_sizes", [])
            for i, nid in enumerate(tree.get("categories_nodes", [])):
                chosen = tree["categories"][segments[i]:segments[i] + cat_sizes[i]]
                size = (max(chosen) + 1) if chosen else 0
                bits = np.zeros(size, bool)
                bits[np.asarray(chosen, "int64")] = True
                offsets[nid], sizes[nid] = cat_offset, size
                cat_table.append(bits)
                cat_offset += size
            arrays["cat_offset"].append(offsets)
            arrays["cat_size"].append(sizes)
            by_output[int(output)].append(len(roots))
            roots.append(offset)
            depth = max(depth, _tree_depth(left, right))
            offset += n
        per_output.append(by_output)
    return assemble(arrays, cat_table, roots, per_output, np.stack(bases), depth, num_features)


def assemble(arrays: dict, cat_table: list, roots: list, per_output: list, base_margin, depth: int,
             num_features: int, sum_dtype: str = "float32") -> CompiledTrees:
    """:class:`CompiledTrees` from per-tree node array pieces (``arrays[name]``: one array per tree),
    ``cat_table`` pieces, tree ``roots`` and ``per_output[model][unit]`` = that output's tree indices in order
    (shared by the XGBoost and LightGBM compilers)."""
    rounds = max(1, max(len(trees) for by_output in per_output for trees in by_output))
    layout = np.full((len(per_output), len(per_output[0]), rounds), -1, "int32")
    for m, by_output in enumerate(per_output):
        for u, trees in enumerate(by_output):
            layout[m, u, :len(trees)] = trees
    dtypes = {"feature": "int32", "threshold": "float32", "left": "int32", "right": "int32",
              "default_left": bool, "categorical": bool, "cat_offset": "int32", "cat_size": "int32",
              "leaf_value": "float32"}
    flat = {k: np.concatenate(v).astype(dtypes[k]) for k, v in arrays.items()}
    table = np.concatenate(cat_table) if cat_table else np.zeros(1, bool)
    return CompiledTrees(**flat, cat_table=table, roots=np.asarray(roots, "int32"), layout=layout,
                         base_margin=np.asarray(base_margin, "float32"), depth=depth,
                         num_features=int(num_features), sum_dtype=sum_dtype)


def traverse_leaves(trees: CompiledTrees, x):
    """Leaf values float32 [B, n_trees] reached by ``x`` float32 [B, features], walking all trees one depth
    level at a time (plain TF ops; the general method: any depth, any table size)."""
    import tensorflow as tf

    t = trees
    x = tf.cast(x, tf.float32)
    batch = tf.shape(x)[0]
    const = captured_constant
    feature, threshold = const(t.feature), const(t.threshold)
    left, right, default_left = const(t.left), const(t.right), const(t.default_left)
    node = tf.tile(const(t.roots)[None, :], [batch, 1])                               # [B, T]
    has_cats = bool(t.categorical.any())
    if has_cats:
        categorical, cat_offset = const(t.categorical), const(t.cat_offset)
        cat_size, cat_table = const(t.cat_size), const(t.cat_table)
    for _ in range(t.depth):
        value = tf.gather(x, tf.gather(feature, node), batch_dims=1)                     # [B, T]
        go_left = value < tf.gather(threshold, node)
        if has_cats:
            size = tf.gather(cat_size, node)
            valid = (value >= 0.0) & (value < float(MAX_CATEGORY))
            code = tf.cast(tf.where(valid, value, 0.0), tf.int32)
            in_set = valid & (code < size) & tf.gather(
                cat_table, tf.gather(cat_offset, node) + tf.minimum(code, tf.maximum(size - 1, 0)))
            go_left = tf.where(tf.gather(categorical, node), tf.logical_not(in_set), go_left)
        go_left = tf.where(tf.math.is_nan(value), tf.gather(default_left, node), go_left)
        node = tf.where(go_left, tf.gather(left, node), tf.gather(right, node))
    return tf.gather(const(t.leaf_value), node)


def tree_margins(trees: CompiledTrees, x, method: str = "auto"):
    """Margins float32 [B, n_models, units] of compiled ``trees`` for ``x`` float32 [B, features] (plain TF ops).

    ``method``: ``"masks"`` (:mod:`tfpipe.ensembles.tree_masks`, fast, tables must fit), ``"walk"``
    (:func:`traverse_leaves`), or ``"auto"`` (masks when their tables fit, else the walk).
    """
    import tensorflow as tf

    if method not in ("auto", "masks", "walk"):
        raise ValueError(f"method must be auto, masks or walk, got {method!r}")
    masks = None if method == "walk" else trees.leaf_masks
    if method == "masks" and masks is None:
        raise ValueError("the leaf mask tables of these trees do not fit; use method='walk'")
    t = trees
    leaves = traverse_leaves(t, x) if masks is None else exit_leaf_values(masks, x)   # [B, T]
    batch = tf.shape(leaves)[0]
    const = captured_constant
    # XGBoost's order: base margin, then each tree of an output in turn (float32 running sum).
    padded = tf.concat([leaves, tf.zeros([batch, 1], tf.float32)], axis=1)
    layout = np.where(t.layout < 0, t.n_trees, t.layout)
    per_round = tf.gather(padded, const(layout.reshape(-1)), axis=1)
    per_round = tf.reshape(per_round, [batch, t.n_models, t.units, t.layout.shape[2]])
    base = tf.broadcast_to(const(t.base_margin)[None, :, :, None], [batch, t.n_models, t.units, 1])
    if t.sum_dtype == "float64":       # LightGBM: a double sum, order immaterial at float32 output precision
        total = tf.reduce_sum(tf.cast(per_round, tf.float64), axis=-1) + tf.cast(base[..., 0], tf.float64)
        return tf.cast(total, tf.float32)
    return tf.cumsum(tf.concat([base, per_round], axis=-1), axis=-1)[..., -1]


class TreeEnsembleLayer(keras.layers.Layer):
    """``x`` float32 [B, features] (NaN = missing) → margins float32 [B, n_models, units] of compiled trees.

    Holds the node arrays as constants (no variables, nothing trainable); evaluation is plain TF ops. Under a
    mixed-precision policy it still computes in float32 (the thresholds are float32 values).
    """

    def __init__(self, trees: CompiledTrees, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(trainable=False, **kwargs)
        self.trees = trees

    def call(self, x):
        return tree_margins(self.trees, x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.trees.n_models, self.trees.units)
