import numpy as np
import pytest
import tensorflow as tf

from tfpipe.ensembles.members import MemberStack, VectorizedDense, VectorizedPeriodic, feature_masks
from tfpipe.features.layers import EmbeddingBlock


def _embedding_factory(name):
    """What ``compiled.new_embedding_block`` makes for one id feature ``c`` of 10 buckets, 4 wide."""
    return EmbeddingBlock({"c": {"num_buckets": 10, "dimension": 4, "combiner": "mean", "layer_name": "c"}}, name=name)


def test_vectorized_dense_equals_separate_layers():
    layer = VectorizedDense(3, 4)
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32")
    y = layer(x).numpy()
    w, b = layer.kernel.numpy(), layer.bias.numpy()
    for k in range(3):
        np.testing.assert_allclose(y[:, k], x @ w[k] + b[k], rtol=1e-5, atol=1e-5)
    x3 = np.random.default_rng(1).normal(size=(5, 3, 6)).astype("float32")
    y3 = layer(x3).numpy()
    for k in range(3):
        np.testing.assert_allclose(y3[:, k], x3[:, k] @ w[k] + b[k], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["linear", "dnn", "wide_deep"])
def test_member_stack_shapes_and_independence(kind):
    stack = MemberStack(kind, 4, 3, hidden=(8,), embedding_factory=_embedding_factory)
    x = {"dense": tf.random.normal([6, 3]), "wide": tf.random.normal([6, 5]),
         "embedding_ids": {"c": tf.constant([[0], [1], [2], [3], [4], [5]], tf.int64)}}
    with tf.GradientTape() as tape:
        out = stack(x)
        loss = tf.reduce_sum(out[:, 1])          # depends on member 1 only
    assert out.shape == (6, 4, 3) and out.dtype == tf.float32
    grads = tape.gradient(loss, stack.trainable_weights)
    for var, g in zip(stack.trainable_weights, grads):
        if g is None:   # other members' embedding blocks
            continue
        g = tf.convert_to_tensor(g).numpy()
        if var.shape[0] == 4 and len(var.shape) >= 2:   # vectorized weights: only member 1 gets a gradient
            assert np.abs(g[[0, 2, 3]]).sum() == 0


def test_feature_masks():
    m = feature_masks(5, 10, 0.5, seed=3)
    assert m.shape == (5, 10) and np.all(m.sum(1) == 5)
    np.testing.assert_array_equal(m, feature_masks(5, 10, 0.5, seed=3))
    assert feature_masks(5, 10, 1.0, seed=3) is None
    stack = MemberStack("linear", 5, 1, feature_fraction=0.5, seed=3)
    x = {"dense": tf.zeros([2, 4]), "wide": tf.zeros([2, 6])}
    stack(x)
    mask = stack.linear_out.mask
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(stack({"dense": tf.ones([2, 4]), "wide": tf.ones([2, 6])}))
    g = tape.gradient(loss, stack.linear_out.kernel).numpy()[..., 0]
    assert np.all(g[mask == 0] == 0) and np.all(g[mask == 1] != 0)


def test_vectorized_embedding_masks_padding_and_combines():
    from tfpipe.ensembles.members import VectorizedEmbedding

    layer = VectorizedEmbedding({"a": (5, 2, "mean"), "b": (4, 3, "sum")}, n_members=3)
    ids = {"a": tf.constant([[1, -1], [2, 3]], tf.int64), "b": tf.constant([0, 3], tf.int64)}
    out = layer(ids).numpy()
    assert out.shape == (2, 3, 5)
    ta, tb = layer.tables["a"].numpy().reshape(5, 3, 2), layer.tables["b"].numpy().reshape(4, 3, 3)
    np.testing.assert_allclose(out[0, :, :2], ta[1], rtol=1e-6)                      # -1 padding ignored
    np.testing.assert_allclose(out[1, :, :2], (ta[2] + ta[3]) / 2, rtol=1e-6)        # mean combiner
    np.testing.assert_allclose(out[1, :, 2:], tb[3], rtol=1e-6)
    stack = MemberStack("dnn", 3, 1, hidden=(4,), embedding_specs={"a": (5, 2, "mean")})
    y = stack({"dense": tf.zeros([2, 1]), "embedding_ids": {"a": tf.constant([[1], [2]], tf.int64)}})
    assert y.shape == (2, 3, 1) and stack.vectorized_embedding is not None and not stack.embedding_blocks


def test_vectorized_embedding_equals_numpy_reference():
    from tfpipe.features.compile import PeriodicSpec

    specs = {"a": PeriodicSpec(0, 5, 0.3, 4), "b": PeriodicSpec(1, 3, 2.0, 2), "c": PeriodicSpec(2, 5, 0.1, 4)}
    layer = VectorizedPeriodic(specs, n_members=3, seed=1)
    x = np.random.default_rng(0).normal(size=(7, 3)).astype("float32")
    out = layer(x).numpy()
    assert out.shape == (7, 3, 4 + 4 + 2)
    groups = {}
    for (k, d, indices, _), weights in zip(layer.groups, layer.weights_by_group):
        groups[(k, d)] = (indices, [w.numpy() for w in weights])
    parts = []
    for (k, d), (indices, (c, w, b)) in groups.items():
        angle = 2 * np.pi * x[:, indices, None, None] * c[None]                        # [B, P, n, k]
        h = np.concatenate([np.cos(angle), np.sin(angle)], axis=-1)
        e = np.maximum(np.einsum("bpni,pnid->bnpd", h, w) + b.transpose(1, 0, 2)[None], 0)
        parts.append(e.reshape(7, 3, -1))
    np.testing.assert_allclose(out, np.concatenate(parts, axis=-1), rtol=1e-4, atol=1e-5)
    # Frequencies start from N(0, sigma^2) per column.
    c = groups[(5, 4)][1][0]
    assert 0.15 < c[0].std() < 0.5 and c[1].std() < 0.2


def test_member_trains_its_frequencies_under_mixed_precision():
    from tfpipe.features.compile import PeriodicSpec

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 1)).astype("float32")
    y = (np.sin(4 * x[:, 0]) > 0).astype("float32")
    keras = pytest.importorskip("keras")
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        stack = MemberStack("dnn", 2, 1, hidden=(16,), embedding_specs={"x": PeriodicSpec(0, 8, 1.0, 4)})
        inputs = keras.Input(shape=(1,), dtype="float32")
        model = keras.Model(inputs, keras.ops.cast(stack({"periodic": inputs})[:, :, 0], "float32"))
        model.compile(keras.optimizers.Adam(1e-2), loss=keras.losses.BinaryCrossentropy(from_logits=True))
        before = stack.periodic.weights_by_group[0][0].numpy().copy()
        assert stack.periodic.weights_by_group[0][0].dtype == "float32"
        history = model.fit(x, np.stack([y, y], 1), epochs=15, batch_size=64, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert not np.allclose(stack.periodic.weights_by_group[0][0].numpy(), before)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
