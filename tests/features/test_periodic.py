"""periodic_column: the ``periodic`` block carries the source's normalized value, the members' periodic embedding
equals a NumPy reference, its frequencies are trained, and the config round-trips."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfpipe import features as tff
from tfpipe.ensembles.members import MemberStack, VectorizedPeriodic


def test_block_holds_normalized_values_and_specs(tiny_dir):
    age = tff.numeric_column("age", normalizer="zscore")
    hours = tff.numeric_column("hours-per-week", normalizer="zscore")
    fitted = tff.fit([age, tff.periodic_column(age, n_frequencies=4, sigma=0.5, dimension=3),
                      tff.periodic_column(hours, n_frequencies=6, dimension=2)], tiny_dir)
    compiled = tff.compile_features(fitted)
    assert list(compiled.periodic_specs) == ["age_periodic", "hours-per-week_periodic"]
    assert compiled.periodic_specs["age_periodic"].index == 0 and compiled.periodic_specs["age_periodic"].sigma == 0.5
    inputs, _ = next(iter(tff.make_dataset(tiny_dir, "train", compiled, 400, label="label", deterministic=True)))
    tree = inputs["tree"].numpy()
    source = fitted[2].source
    expected = np.where(np.isnan(tree[:, 1]), source.default_value, tree[:, 1])
    np.testing.assert_allclose(inputs["periodic"].numpy()[:, 1], (expected - source.mean) / source.std, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(inputs["periodic"].numpy()[:, 0], inputs["dense"].numpy()[:, 0], rtol=1e-6)
    assert tff.compile_features(tff.fit([age], tiny_dir)).preprocessor(
        {"age": tf.constant([[30]], tf.int64)})["periodic"].shape == (1, 0)


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


def test_invalid_periodic_columns_are_refused():
    source = tff.numeric_column("a")
    for make in (lambda: tff.periodic_column(source, n_frequencies=0),
                 lambda: tff.periodic_column(source, sigma=0.0),
                 lambda: tff.periodic_column(source, dimension=2.5),
                 lambda: tff.periodic_column(tff.categorical_column_with_identity("a", 3))):
        with pytest.raises(ValueError):
            make()
