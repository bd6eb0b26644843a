import numpy as np
import tensorflow as tf

from tfpipe.ensembles.bootstrap import fold_ids, poisson_weights


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


def test_folds():
    keys = tf.range(50_000, dtype=tf.int64)
    folds = fold_ids(keys, 5, seed=0).numpy()
    assert set(folds) == set(range(5))
    np.testing.assert_allclose(np.bincount(folds) / len(folds), 0.2, atol=0.01)
