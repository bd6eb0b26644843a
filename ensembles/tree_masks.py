"""Exit leaves of many trees at once by leaf bit masks (QuickScorer, Lucchese et al. 2015) in plain TF ops.

Why: walking all trees level by level (:func:`tfpipe.ensembles.trees.traverse_leaves`) costs about ten
``[batch, trees]`` gathers per depth level; TensorFlow's CPU gather runs at ~8 ns an element, so 300 depth-6
trees served ~11k examples/s at batch 1024 on 2 cores. Masks need one gather of contiguous rows per *feature*
instead: at batch 1024 on 2 cores, 300 depth-6 trees 16 ms vs 134 ms walking; the 774 trees the default Adult
stacking model serves 54 ms vs 176 ms (``benchmarks/serving_benchmark.py`` measures the whole SavedModel).

**Idea.** Number each tree's leaves left to right. A split that sends an example right rules out exactly the
leaves of its left subtree, a contiguous range of that numbering; the exit leaf is the leftmost leaf that no
split ruled out (every leaf left of it lies in the left subtree of a split on its path that went right). Whether
a split on feature ``f`` goes right depends on ``x[f]`` alone, so for every feature the AND of the masks of its
splits that go right is a step function of ``x[f]``, tabulated once:

- numeric splits (``x < t`` goes left): one row per interval between the feature's sorted distinct thresholds
  (``tf.searchsorted``): row ``k`` = splits whose threshold is among the ``k`` smallest go right;
- categorical splits (category in the node's set goes right): one row per category code, one for invalid or
  out-of-range codes (all go left), as in :mod:`tfpipe.ensembles.trees`;
- one row for NaN: the splits whose default direction is right.

Serving is then ``rows = f(x)`` → for each feature ``mask &= table[rows[:, f]]`` (uint64 words, 64 leaves each)
→ exit leaf = lowest set bit (``popcount(~m & (m - 1))``) → leaf value. The result equals the level-by-level walk
exactly (same float32 comparisons). Table size is ``sum over features of (distinct thresholds + 2) × trees ×
words × 8`` bytes; :func:`build_leaf_masks` returns ``None`` above ``max_bytes`` and the caller walks the trees.

Example::

    >>> import numpy as np, xgboost as xgb
    >>> from tfpipe.ensembles.trees import compile_boosters, traverse_leaves
    >>> x = np.array([[0.0, 1.0], [1.0, np.nan], [2.0, 0.0], [3.0, 2.0]], "float32"); y = np.array([0, 0, 1, 1])
    >>> trees = compile_boosters([xgb.train({"max_depth": 2}, xgb.DMatrix(x, y), 3)])
    >>> masks = build_leaf_masks(trees)
    >>> bool(np.array_equal(exit_leaf_values(masks, x).numpy(), traverse_leaves(trees, x).numpy()))
    True
"""
from __future__ import annotations

import dataclasses

import numpy as np

WORD_BITS = 64
DEFAULT_MAX_BYTES = 256 << 20
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclasses.dataclass(frozen=True, eq=False)
class LeafMasks:
    """Per-feature tables of leaf masks for ``n_trees`` trees (see the module docstring)."""

    features: np.ndarray       # int32 [F]: the columns of x the trees split on
    boundaries: np.ndarray     # float32 [F, K]: sorted distinct thresholds of numeric columns, +inf padded
    last_row: np.ndarray       # int32 [F]: numeric: number of thresholds (rows 0..last); categorical: unused
    is_categorical: np.ndarray  # bool [F]
    cat_limit: np.ndarray      # float32 [F]: categorical codes in [0, limit) have rows of their own
    invalid_row: np.ndarray    # int32 [F]: categorical: the row of invalid / out-of-range codes
    nan_row: np.ndarray        # int32 [F]
    offsets: np.ndarray        # int32 [F]: first row of each feature in ``table``
    table: np.ndarray          # uint64 [rows, n_trees * words]
    leaf_values: np.ndarray    # float32 [n_trees * words * 64]: tree t's leaf j at t * words * 64 + j
    n_trees: int
    words: int

    @property
    def nbytes(self) -> int:
        return int(self.table.nbytes + self.leaf_values.nbytes + self.boundaries.nbytes)


def _leaf_ranges(left: np.ndarray, right: np.ndarray, roots: np.ndarray):
    """Left-to-right leaf numbers per tree: (leaf number of each leaf node, [lo, hi) of each node's subtree)."""
    n = len(left)
    lo, hi = np.zeros(n, "int64"), np.zeros(n, "int64")
    leaves_per_tree = np.zeros(len(roots), "int64")
    for t, root in enumerate(roots):
        order, stack = [], [int(root)]
        while stack:                                   # pre-order, left child first: leaves come left to right
            node = stack.pop()
            order.append(node)
            if left[node] != node:
                stack.append(int(right[node]))
                stack.append(int(left[node]))
        count = 0
        for node in order:
            if left[node] == node:
                lo[node], hi[node] = count, count + 1
                count += 1
        for node in reversed(order):                   # children before parents
            if left[node] != node:
                lo[node], hi[node] = lo[left[node]], hi[right[node]]
        leaves_per_tree[t] = count
    return lo, hi, leaves_per_tree


def _clear_masks(lo: np.ndarray, hi: np.ndarray, words: int) -> np.ndarray:
    """uint64 [n, words]: all bits set except those of leaves [lo, hi)."""
    out = np.empty((len(lo), words), "uint64")
    for w in range(words):
        a = np.clip(lo - w * WORD_BITS, 0, WORD_BITS).astype("uint64")
        b = np.clip(hi - w * WORD_BITS, 0, WORD_BITS).astype("uint64")
        below = lambda k: np.where(k >= WORD_BITS, _ALL, (np.uint64(1) << np.minimum(k, 63)) - np.uint64(1))  # noqa: E731
        out[:, w] = ~(below(b) ^ below(a))
    return out


def build_leaf_masks(trees, max_bytes: int = DEFAULT_MAX_BYTES) -> LeafMasks | None:
    """Mask tables of :class:`~tfpipe.ensembles.trees.CompiledTrees`; ``None`` if they would exceed ``max_bytes``
    or a column has both numeric and categorical splits."""
    left, right, roots = trees.left, trees.right, trees.roots
    n_nodes, n_trees = len(left), len(roots)
    lo, hi, leaves_per_tree = _leaf_ranges(left, right, roots)
    words = max(1, -(-int(leaves_per_tree.max()) // WORD_BITS))
    tree_of = np.repeat(np.arange(n_trees), np.diff(np.append(roots, n_nodes)))
    internal = left != np.arange(n_nodes)
    used = np.unique(trees.feature[internal]).astype("int32")
    thresholds, categorical = {}, {}
    for f in used:
        on_f = internal & (trees.feature == f)
        kinds = set(trees.categorical[on_f].tolist())
        if len(kinds) > 1:
            return None
        if kinds == {True}:
            categorical[int(f)] = int(trees.cat_size[on_f].max())
        else:
            thresholds[int(f)] = np.unique(trees.threshold[on_f])
    rows = sum(len(v) + 2 for v in thresholds.values()) + sum(c + 2 for c in categorical.values())
    if rows * n_trees * words * 8 > max_bytes:
        return None
    masks = _clear_masks(lo[left], hi[left], words)    # row n: what going right at node n rules out
    tables, offsets, last_row, invalid_row, nan_row, cat_limit = [], [], [], [], [], []
    offset = 0
    for f in used:
        on_f = np.flatnonzero(internal & (trees.feature == f))
        if int(f) in categorical:
            limit = categorical[int(f)]
            data = np.full((limit + 2, n_trees, words), _ALL)          # codes, invalid, NaN
            sizes, starts = trees.cat_size[on_f], trees.cat_offset[on_f]
            for node, size, start in zip(on_f, sizes, starts):
                codes = np.flatnonzero(trees.cat_table[start:start + size])
                data[codes, tree_of[node]] &= masks[node]
            last_row.append(0), invalid_row.append(limit), cat_limit.append(limit)
        else:
            u = thresholds[int(f)]
            data = np.full((len(u) + 2, n_trees, words), _ALL)         # intervals 0..K, NaN
            rank = np.searchsorted(u, trees.threshold[on_f], side="left") + 1
            np.bitwise_and.at(data, (rank, tree_of[on_f]), masks[on_f])
            data[:len(u) + 1] = np.bitwise_and.accumulate(data[:len(u) + 1], axis=0)
            last_row.append(len(u)), invalid_row.append(0), cat_limit.append(0)
        right_on_nan = on_f[~trees.default_left[on_f]]
        np.bitwise_and.at(data[-1], tree_of[right_on_nan], masks[right_on_nan])
        nan_row.append(len(data) - 1)
        offsets.append(offset)
        offset += len(data)
        tables.append(data.reshape(len(data), n_trees * words))
    width = max([len(v) for v in thresholds.values()] + [1])
    boundaries = np.full((len(used), width), np.inf, "float32")
    for i, f in enumerate(used):
        if int(f) in thresholds:
            boundaries[i, :len(thresholds[int(f)])] = thresholds[int(f)]
    leaf_values = np.zeros((n_trees, words * WORD_BITS), "float32")
    leaves = ~internal
    leaf_values[tree_of[leaves], lo[leaves]] = trees.leaf_value[leaves]
    i32 = lambda v: np.asarray(v, "int32")  # noqa: E731
    table = np.concatenate(tables) if tables else np.full((1, n_trees * words), _ALL)
    return LeafMasks(features=used, boundaries=boundaries, last_row=i32(last_row),
                     is_categorical=np.asarray([int(f) in categorical for f in used], bool),
                     cat_limit=np.asarray(cat_limit, "float32"), invalid_row=i32(invalid_row),
                     nan_row=i32(nan_row), offsets=i32(offsets), table=table, leaf_values=leaf_values.reshape(-1),
                     n_trees=n_trees, words=words)


def captured_constant(value):
    """``tf.constant(value)`` made in the eager context even while a ``tf.function`` is traced: the function then
    captures it by reference instead of holding it as a graph constant (a SavedModel still stores it as one).
    Why: Grappler's constant folding over the node tables as graph constants took 1.3-1.6 GB of RSS, lasting,
    for 1,200 compiled trees (6 XGBoost + 6 LightGBM boosters of 100 rounds, 15 MB of tables); captured: 0.36 GB.

    >>> import tensorflow as tf
    >>> float(tf.function(lambda i: tf.gather(captured_constant([1.0, 2.0, 3.0]), i))(tf.constant(2)))
    3.0
    """
    import tensorflow as tf

    with tf.init_scope():
        return tf.constant(value)


def exit_leaf_values(masks: LeafMasks, x):
    """Leaf values float32 [B, n_trees] that ``x`` float32 [B, features] (NaN = missing) reaches (plain TF ops)."""
    import tensorflow as tf

    m, const = masks, captured_constant
    x = tf.cast(x, tf.float32)
    batch = tf.shape(x)[0]
    span = m.words * WORD_BITS
    if len(m.features) == 0:                           # stumps only: leaf 0 of every tree
        return tf.tile(const(m.leaf_values[::span])[None, :], [batch, 1])
    v = tf.gather(x, const(m.features), axis=1)                                       # [B, F]
    numeric = tf.transpose(tf.searchsorted(const(m.boundaries), tf.transpose(v), side="right"))
    numeric = tf.minimum(numeric, const(m.last_row))
    valid = (v >= 0.0) & (v < const(m.cat_limit))
    code = tf.cast(tf.where(valid, v, 0.0), tf.int32)
    categorical = tf.where(valid, code, const(m.invalid_row))
    row = tf.where(const(m.is_categorical), categorical, numeric)
    row = tf.where(tf.math.is_nan(v), const(m.nan_row), row) + const(m.offsets)
    table = const(m.table)
    alive = tf.gather(table, row[:, 0])                                               # [B, trees * words]
    for j in range(1, len(m.features)):
        alive = tf.bitwise.bitwise_and(alive, tf.gather(table, row[:, j]))
    alive = tf.reshape(alive, [batch, m.n_trees, m.words])
    lowest = tf.raw_ops.PopulationCount(
        x=tf.bitwise.bitwise_and(tf.bitwise.invert(alive), alive - const(np.uint64(1))))  # 64 where no bit
    if m.words == 1:
        leaf = tf.cast(lowest[..., 0], tf.int32)                                     # [B, trees]
    else:                                                                            # first word with a bit
        leaf = tf.cast(lowest, tf.int32) + const(np.arange(m.words, dtype="int32") * WORD_BITS)
        leaf = tf.reduce_min(tf.where(lowest < WORD_BITS, leaf, span), axis=-1)
    return tf.gather(const(m.leaf_values), leaf + const(np.arange(m.n_trees, dtype="int32") * span))
