"""periodic_column: the ``periodic`` block carries the source's normalized value and its specs; invalid columns are
refused (the members' embedding itself: tests/ensembles/test_members.py)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfpipe import features as tff


def test_block_holds_normalized_values_and_specs(tiny_dir):
    age = tff.numeric_column("age", normalizer="zscore")
    hours = tff.numeric_column("hours-per-week", normalizer="zscore")
    fitted = tff.fit([age, tff.periodic_column(age, n_frequencies=4, sigma=0.5, dimension=3),
                      tff.periodic_column(hours, n_frequencies=6, dimension=2)], tiny_dir)
    compiled = tff.compile_features(fitted)
    assert list(compiled.periodic_specs) == ["age_periodic", "hours-per-week_periodic"]
    assert compiled.periodic_specs["age_periodic"].index == 0 and compiled.periodic_specs["age_periodic"].sigma == 0.5
    inputs, _ = next(iter(tff.make_dataset(tiny_dir, "train", compiled, 400, label="label",
                                           read=tff.ReadOptions(deterministic=True))))
    tree = inputs["tree"].numpy()
    source = fitted[2].source
    expected = np.where(np.isnan(tree[:, 1]), source.default_value, tree[:, 1])
    np.testing.assert_allclose(inputs["periodic"].numpy()[:, 1], (expected - source.mean) / source.std, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(inputs["periodic"].numpy()[:, 0], inputs["dense"].numpy()[:, 0], rtol=1e-6)
    assert tff.compile_features(tff.fit([age], tiny_dir)).preprocessor(
        {"age": tf.constant([[30]], tf.int64)})["periodic"].shape == (1, 0)


def test_invalid_periodic_columns_are_refused():
    source = tff.numeric_column("a")
    for make in (lambda: tff.periodic_column(source, n_frequencies=0),
                 lambda: tff.periodic_column(source, sigma=0.0),
                 lambda: tff.periodic_column(source, dimension=2.5),
                 lambda: tff.periodic_column(tff.categorical_column_with_identity("a", 3))):
        with pytest.raises(ValueError):
            make()
