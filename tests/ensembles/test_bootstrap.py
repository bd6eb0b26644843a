import numpy as np
import tensorflow as tf

from tfpipe.ensembles.bootstrap import fold_ids, hash_uniform, hash_uniform_np, is_holdout, poisson_weights


def test_hash_matches_reference_and_is_order_independent():
    keys = np.array([0, 1, 7, -3, 2 ** 61 + 5, 123456789], np.int64)
    u = hash_uniform(tf.constant(keys), 3, seed=5, stream=1).numpy()
    ref = np.array([[hash_uniform_np(int(k), m, 5, 1) for m in range(3)] for k in keys])
    np.testing.assert_allclose(u, ref, rtol=0, atol=1e-15)
    perm = np.array([3, 0, 5, 1, 4, 2])
    u2 = hash_uniform(tf.constant(keys[perm]), 3, seed=5, stream=1).numpy()
    np.testing.assert_array_equal(u2, u[perm])


def test_poisson_weights_deterministic_and_poisson1():
    keys = tf.range(200_000, dtype=tf.int64) * 7919
    w = poisson_weights(keys, 4, seed=1).numpy()
    np.testing.assert_array_equal(w, poisson_weights(keys, 4, seed=1).numpy())   # every epoch the same sample
    assert not np.array_equal(w, poisson_weights(keys, 4, seed=2).numpy())        # the seed matters
    assert not np.array_equal(w[:, 0], w[:, 1])                                   # members differ
    assert w.dtype == np.float32 and w.min() == 0 and np.all(w == np.round(w))
    np.testing.assert_allclose(w.mean(0), 1.0, atol=0.01)
    np.testing.assert_allclose(w.var(0), 1.0, atol=0.02)
    np.testing.assert_allclose((w == 0).mean(0), np.exp(-1), atol=0.005)
    np.testing.assert_allclose((w == 2).mean(0), np.exp(-1) / 2, atol=0.005)


def test_folds_and_holdout():
    keys = tf.range(50_000, dtype=tf.int64)
    folds = fold_ids(keys, 5, seed=0).numpy()
    assert set(folds) == set(range(5))
    np.testing.assert_allclose(np.bincount(folds) / len(folds), 0.2, atol=0.01)
    hold = is_holdout(keys, 0.1, seed=0).numpy()
    assert abs(hold.mean() - 0.1) < 0.01
    np.testing.assert_array_equal(hold, is_holdout(keys, 0.1, seed=0).numpy())
