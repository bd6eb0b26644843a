"""Deterministic per-example randomness from the stable ``example_key``: Poisson(1) bootstrap weights and folds.

Everything is the counter-based key hash of :mod:`tfpipe.features.key_filters` (SplitMix64 finaliser) of
``(example_key, member, seed)``: the same example
gets the same weight for a member in every epoch, on every worker and in every input order, so bagging in one
pass sees a fixed bootstrap sample per member. The Poisson(1) draw is the inverse CDF of the hashed uniform.

Example::

    >>> import tensorflow as tf
    >>> w = poisson_weights(tf.constant([1, 2, 3], tf.int64), n_members=4, seed=0)
    >>> w.shape, w.dtype
    (TensorShape([3, 4]), tf.float32)
"""
from __future__ import annotations

import math

import numpy as np

from tfpipe.features.key_filters import hash_uniform, hash_uniform_np, is_holdout  # noqa: F401 (re-exported)

# CDF of Poisson(1) for k = 0..11 (P(X > 11) < 1e-9).
POISSON1_CDF = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(12)])


def poisson_weights(keys, n_members: int, seed: int):
    """Poisson(1) bootstrap counts as float32 [B, n_members] from int64 example keys [B]."""
    import tensorflow as tf

    u = hash_uniform(keys, n_members, seed, stream=1)
    cdf = tf.constant(POISSON1_CDF, tf.float64)
    counts = tf.reduce_sum(tf.cast(u[..., None] >= cdf, tf.float32), axis=-1)
    return counts


def fold_ids(keys, n_folds: int, seed: int):
    """Fold index in [0, n_folds) as int32 [B] (deterministic K-fold by key hash)."""
    import tensorflow as tf

    u = hash_uniform(keys, 1, seed, stream=2)[:, 0]
    return tf.minimum(tf.cast(tf.floor(u * n_folds), tf.int32), n_folds - 1)
