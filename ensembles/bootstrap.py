"""Deterministic per-example randomness from the stable ``example_key``: Poisson(1) bootstrap weights and folds.

Everything is a counter-based hash (SplitMix64 finaliser) of ``(example_key, member, seed)``: the same example
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

_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_MASK = (1 << 64) - 1
# CDF of Poisson(1) for k = 0..11 (P(X > 11) < 1e-9).
POISSON1_CDF = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(12)])


def _mix_tf(x):
    import tensorflow as tf

    rs = tf.bitwise.right_shift
    xor = tf.bitwise.bitwise_xor
    x = xor(x, rs(x, tf.constant(30, tf.uint64))) * tf.constant(_M1, tf.uint64)
    x = xor(x, rs(x, tf.constant(27, tf.uint64))) * tf.constant(_M2, tf.uint64)
    return xor(x, rs(x, tf.constant(31, tf.uint64)))


def hash_uniform(keys, n_members: int, seed: int, stream: int = 0):
    """Uniform floats in [0, 1), float64 [B, n_members], a pure function of (key, member, seed, stream)."""
    import tensorflow as tf

    keys = tf.bitcast(tf.cast(tf.reshape(keys, [-1]), tf.int64), tf.uint64)
    members = tf.range(n_members, dtype=tf.int64)
    salt = (int(seed) * 0x632BE59BD9B4E019 + int(stream) * 0x85EBCA77C2B2AE63 + 0x27D4EB2F165667C5) & _MASK
    salt_t = tf.constant(salt, tf.uint64)
    member_t = tf.bitcast(members, tf.uint64) * tf.constant(_GOLDEN, tf.uint64)
    x = _mix_tf(keys[:, None] + salt_t)
    x = _mix_tf(tf.bitwise.bitwise_xor(x, member_t[None, :]) + tf.constant(_GOLDEN, tf.uint64))
    top53 = tf.bitwise.right_shift(x, tf.constant(11, tf.uint64))
    return tf.cast(top53, tf.float64) / float(1 << 53)


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


def is_holdout(keys, fraction: float, seed: int):
    """Boolean [B]: True for the ``fraction`` of examples carved out as the eval split (by key hash)."""
    import tensorflow as tf

    u = hash_uniform(keys, 1, seed, stream=3)[:, 0]
    return u < tf.constant(float(fraction), tf.float64)


# ---- numpy reference (used by tests and the benchmarks) ------------------------------------------------
def _mix_np(x: int) -> int:
    x = ((x ^ (x >> 30)) * _M1) & _MASK
    x = ((x ^ (x >> 27)) * _M2) & _MASK
    return x ^ (x >> 31)


def hash_uniform_np(key: int, member: int, seed: int, stream: int = 0) -> float:
    """Pure-Python reference of :func:`hash_uniform` for one (key, member)."""
    salt = (int(seed) * 0x632BE59BD9B4E019 + int(stream) * 0x85EBCA77C2B2AE63 + 0x27D4EB2F165667C5) & _MASK
    x = _mix_np((int(key) & _MASK) + salt & _MASK)
    x = _mix_np(((x ^ ((member * _GOLDEN) & _MASK)) + _GOLDEN) & _MASK)
    return (x >> 11) / float(1 << 53)
