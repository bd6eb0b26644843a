"""Key filters (features/key_filters.py): the key hash, the eval carve-out and key-hash samples."""
import numpy as np
import pytest
import tensorflow as tf

from tfpipe.features.key_filters import carve_filter, hash_uniform, hash_uniform_np, is_holdout, sample_filter


def test_hash_matches_reference_and_is_order_independent():
    keys = np.array([0, 1, 7, -3, 2 ** 61 + 5, 123456789], np.int64)
    u = hash_uniform(tf.constant(keys), 3, seed=5, stream=1).numpy()
    ref = np.array([[hash_uniform_np(int(k), m, 5, 1) for m in range(3)] for k in keys])
    np.testing.assert_allclose(u, ref, rtol=0, atol=1e-15)
    perm = np.array([3, 0, 5, 1, 4, 2])
    u2 = hash_uniform(tf.constant(keys[perm]), 3, seed=5, stream=1).numpy()
    np.testing.assert_array_equal(u2, u[perm])


def test_holdout_keep_and_sample_filters():
    keys = tf.range(50_000, dtype=tf.int64)
    hold = is_holdout(keys, 0.1, seed=0).numpy()
    assert abs(hold.mean() - 0.1) < 0.01
    np.testing.assert_array_equal(hold, is_holdout(keys, 0.1, seed=0).numpy())
    carve = {"fraction": 0.1, "seed": 0}
    np.testing.assert_array_equal(carve_filter("holdout", carve)(keys).numpy(), hold)
    np.testing.assert_array_equal(carve_filter("keep", carve)(keys).numpy(), ~hold)
    assert carve_filter(None, carve) is None
    sampled = sample_filter(carve_filter("keep", carve), 0.3)(keys).numpy()
    assert not (sampled & hold).any() and abs(sampled.mean() - 0.27) < 0.01     # independent of the carve-out
    assert sample_filter(None, 1.0) is None
    with pytest.raises(ValueError, match="sample fraction must be in"):
        sample_filter(None, 0.0)
