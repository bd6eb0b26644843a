"""Compilation: parse spec, the float32 preprocessor and fresh embedding blocks."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import TINY_KINDS, _example, tiny_rows
from tfpipe import features as tff
from tfpipe.features.missing import MISSING_INT


def _defs(tiny_dir):
    age = tff.numeric_column("age", normalizer="zscore", missing_indicator=True)
    return tff.fit([
        age,
        tff.numeric_column("hours-per-week", normalizer="log", missing_indicator=True),
        tff.bucketized_column(age, num_buckets=4),
        tff.indicator_column(tff.categorical_column_with_vocabulary_list("color")),
        tff.embedding_column(tff.categorical_column_with_vocabulary_list("tags"), 3),
        tff.embedding_column(tff.categorical_column_with_identity("code", 10), 2, combiner="sum"),
        tff.crossed_column(["color", tff.bucketized_column(age, [40])], 16),
    ], tiny_dir)


def _parsed(compiled, rows):
    serialized = tf.constant([_example(r, TINY_KINDS) for r in rows])
    return tf.io.parse_example(serialized, compiled.parse_spec)


def test_parse_spec_and_block_layout(tiny_dir):
    compiled = tff.compile_features(_defs(tiny_dir))
    spec = compiled.parse_spec
    assert set(spec) == {"age", "hours-per-week", "color", "tags", "code"}  # label excluded, one entry per key
    assert spec["age"] == tf.io.FixedLenFeature([1], tf.int64, default_value=MISSING_INT)
    assert isinstance(spec["tags"], tf.io.FixedLenSequenceFeature)
    assert compiled.dense_width == 4 and compiled.embedding_width == 5
    assert compiled.wide_width == 4 + (5 + 1) + 16
    assert compiled.wide_slices["color_X_age_bucketized"] == (10, 26)
    assert tff.parse_spec(compiled.definitions) == spec
    out = compiled.preprocessor(_parsed(compiled, tiny_rows(6, 2)))
    assert set(out) == {"dense", "wide", "embedding_ids", "periodic", "tree"}
    assert out["dense"].shape == (6, 4) and out["dense"].dtype == tf.float32
    assert out["wide"].shape == (6, compiled.wide_width)
    assert out["embedding_ids"]["tags_embedding"].dtype == tf.int64
    assert out["embedding_ids"]["code_embedding"].shape == (6, 1)
    # Each single-valued wide column is one-hot.
    for name in ("age_bucketized", "color_indicator", "color_X_age_bucketized"):
        assert np.all(out["wide"].numpy()[:, slice(*compiled.wide_slices[name])].sum(axis=1) == 1)
    assert not compiled.preprocessor.trainable and not compiled.preprocessor.trainable_weights
    names = [layer.name for layer in compiled.preprocessor.id_layers + compiled.preprocessor.numeric_layers]
    assert all(n.replace("_", "").isalnum() for n in names) and "hours_per_week_input" in names


def test_tree_block_holds_raw_numbers_and_category_ids(tiny_dir):
    compiled = tff.compile_features(_defs(tiny_dir))
    # one column per raw number, one per single-valued categorical; the list column and the cross are left out
    assert [(f.name, f.num_categories) for f in compiled.tree_features] == [
        ("age", 0), ("hours-per-week", 0), ("color", 6), ("code", 10)]
    rows = tiny_rows(6, 2) + [{"age": None, "hours-per-week": None, "color": None, "tags": None, "code": None}]
    out = compiled.preprocessor(_parsed(compiled, rows))
    tree = out["tree"].numpy()
    assert tree.shape == (7, 4) and tree.dtype == np.float32
    np.testing.assert_array_equal(tree[:6, 0], [r["age"] for r in rows[:6]])             # not normalized
    np.testing.assert_array_equal(tree[:6, 3], [r["code"] for r in rows[:6]])
    color = out["wide"].numpy()[:6, slice(*compiled.wide_slices["color_indicator"])]
    np.testing.assert_array_equal(tree[:6, 2], color.argmax(axis=1))                  # same ids as the one-hot
    assert np.isnan(tree[6]).all()                                                    # missing -> NaN


def test_missing_values_are_explicit(tiny_dir):
    compiled = tff.compile_features(_defs(tiny_dir))
    age, hours = compiled.definitions[:2]
    out = compiled.preprocessor(_parsed(compiled, [{"age": None, "hours-per-week": None, "color": None,
                                                    "tags": None, "code": None}]))
    dense = out["dense"].numpy()[0]
    assert dense[0] == pytest.approx(0.0, abs=1e-6)          # default = mean → z-score 0
    assert dense[2:].tolist() == [1.0, 1.0]                  # missing indicators
    wide = out["wide"].numpy()[0]
    assert wide[slice(*compiled.wide_slices["color_indicator"])].sum() == 0   # no id, like tf.feature_column
    assert wide[slice(*compiled.wide_slices["color_X_age_bucketized"])].sum() == 0
    assert out["embedding_ids"]["tags_embedding"].shape == (1, 0)              # no list value in the batch
    embedded = compiled.new_embedding_block()(out["embedding_ids"]).numpy()
    assert embedded.shape == (1, 5) and np.all(embedded == 0)


def test_embedding_blocks_are_fresh_and_trainable(tiny_dir):
    compiled = tff.compile_features(_defs(tiny_dir))
    first, second = compiled.new_embedding_block("m0", seed=1), compiled.new_embedding_block("m1", seed=2)
    assert len(first.trainable_weights) == 2
    assert first.trainable_weights[0].shape == (len(compiled.definitions[4].categorical.vocabulary) + 1, 3)
    assert not np.array_equal(first.trainable_weights[0].numpy(), second.trainable_weights[0].numpy())
    out = compiled.preprocessor(_parsed(compiled, tiny_rows(4, 3)))
    assert first(out["embedding_ids"]).shape == (4, 5)
    np.testing.assert_allclose(first(out).numpy(), first(out["embedding_ids"]).numpy())  # whole dict accepted


def test_empty_blocks_keep_their_keys(tiny_dir):
    compiled = tff.compile_features(tff.fit([tff.numeric_column("age")], tiny_dir))
    out = compiled.preprocessor(_parsed(compiled, tiny_rows(3, 4)))
    assert out["wide"].shape == (3, 0) and out["embedding_ids"] == {}
    assert compiled.wide_width == 0 and compiled.embedding_width == 0
    assert compiled.new_embedding_block()(out).shape == (3, 0)
    only_wide = tff.compile_features(tff.fit([tff.categorical_column_with_hash_bucket("color", 3)], tiny_dir))
    assert only_wide.preprocessor(_parsed(only_wide, tiny_rows(3, 4)))["dense"].shape == (3, 0)


def test_unfitted_definitions_are_refused():
    with pytest.raises(ValueError, match="not fitted"):
        tff.compile_features([tff.numeric_column("age", normalizer="zscore")])


def test_preprocessing_stays_float32_under_mixed_float16(tiny_dir):
    big = tff.NumericColumn("big", "zscore", default_value=0.0, dtype="float32", mean=1.9e5, std=1.05e5)
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        compiled = tff.compile_features(_defs(tiny_dir) + (big,))
        block = compiled.new_embedding_block()
        parsed = dict(_parsed(compiled, tiny_rows(5, 5)))
        parsed["big"] = tf.constant([[1.0e5], [2.0e5], [3.0e5], [np.nan], [1.2e6]], tf.float32)
        out = compiled.preprocessor(parsed)
        embedded = block(out["embedding_ids"])
    finally:
        keras.config.set_dtype_policy(policy)
    assert out["dense"].dtype == tf.float32 and out["wide"].dtype == tf.float32 and embedded.dtype == tf.float32
    dense = out["dense"].numpy()
    assert np.all(np.isfinite(dense))
    big_column = dense[:, compiled.dense_slices["big"][0]]
    np.testing.assert_allclose(big_column, (np.array([1e5, 2e5, 3e5, 0.0, 1.2e6]) - 1.9e5) / 1.05e5, rtol=1e-5)
