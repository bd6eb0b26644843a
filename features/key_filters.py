"""Key filters: which rows of a split a reader keeps, decided by a hash of each row's ``example_key`` alone.

The eval carve-out (``carve = {"fraction", "seed"}``: when the data has no ``eval`` split, training holds out the
rows with ``is_holdout(key, fraction, seed)`` as ``eval`` and trains on the rest), key-hash samples of a split (the
train metrics, :func:`sample_filter`) and the per-member randomness of :mod:`tfpipe.ensembles.bootstrap` all come
from one counter-based hash (SplitMix64 finaliser) of ``(example_key, member, seed, stream)``: the same row is
chosen the same way in every epoch, on every worker and in every input order. The features stage owns them because
its readers apply them, before batching (``ReadOptions(keep=...)`` of ``make_dataset`` / ``record_batches``); the
ensembles decide which filter a split gets, serving reuses them to score the same rows.

Example::

    >>> import tensorflow as tf
    >>> keys = tf.range(10_000, dtype=tf.int64)
    >>> held = is_holdout(keys, 0.1, seed=0)
    >>> round(float(tf.reduce_mean(tf.cast(held, tf.float32))), 2)
    0.1
    >>> keep = carve_filter("keep", {"fraction": 0.1, "seed": 0})
    >>> bool(tf.reduce_all(keep(keys) == tf.logical_not(held)))
    True
"""
from __future__ import annotations

_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_MASK = (1 << 64) - 1


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


def is_holdout(keys, fraction: float, seed: int):
    """Boolean [B]: True for the ``fraction`` of examples carved out as the eval split (by key hash)."""
    import tensorflow as tf

    u = hash_uniform(keys, 1, seed, stream=3)[:, 0]
    return u < tf.constant(float(fraction), tf.float64)


def source_split(split: str, data_dir: str, carve: dict | None) -> tuple[str, str | None]:
    """(split to read, filter) for a requested split: ``eval`` may be carved from ``train``."""
    from tfpipe.features.artifacts import available_splits

    if carve and split in ("train", "eval") and "eval" not in available_splits(data_dir):
        return "train", ("holdout" if split == "eval" else "keep")
    return split, None


def split_filter(keys, mode: str | None, carve: dict | None):
    """Boolean mask [B] selecting the ``keep`` (train) or ``holdout`` (eval) part; all True for None."""
    import tensorflow as tf

    if mode is None:
        return tf.ones_like(keys, dtype=tf.bool)
    hold = is_holdout(keys, carve["fraction"], carve["seed"])
    return hold if mode == "holdout" else tf.logical_not(hold)


def carve_filter(mode: str | None, carve: dict | None):
    """The ``keep`` argument of ``make_dataset`` / ``record_batches`` for a carve ``mode`` (None: every row)."""
    if mode is None:
        return None
    return lambda keys: split_filter(keys, mode, carve)


SAMPLE_SEED = 0x5A3D1E     # the key-hash seed of metric samples (independent of the eval carve-out's)


def sample_filter(keep, fraction: float | None):
    """``keep`` (a key filter or None) and, for ``fraction`` < 1, a key-hash sample of that fraction: the same rows
    on every run and every worker."""
    if fraction is None or fraction >= 1:
        return keep
    if not fraction > 0:
        raise ValueError(f"sample fraction must be in (0, 1], got {fraction!r}")
    import tensorflow as tf

    def sampled(keys):
        chosen = is_holdout(keys, fraction, SAMPLE_SEED)
        return chosen if keep is None else tf.logical_and(keep(keys), chosen)

    return sampled


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
