"""Our Keras 3 preprocessing gives the same values as ``tf.compat.v1.feature_column.input_layer``.

Same serialized examples (with OOV values, out-of-range ids and missing values), same vocabularies,
boundaries and embedding weights; each column compared separately (hashes, crosses and bucket edges included).
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from conftest import TINY_KINDS, _example, tiny_rows
from tfpipe import features as tff

fc = tf.compat.v1.feature_column


@pytest.fixture(scope="module")
def serialized() -> list[bytes]:
    rows = tiny_rows(200, 7)
    rng = np.random.default_rng(3)
    for i, row in enumerate(rows):
        if i % 7 == 0:
            row["color"] = ["purple", "orange", "teal"][i % 3]      # OOV
        if i % 11 == 0:
            row["color"] = None                                     # missing string
        if i % 13 == 0:
            row["code"] = int(rng.choice([-3, 10, 12]))             # out of range for identity(10)
        if i % 17 == 0:
            row["age"] = None                                       # missing number
        if i % 5 == 0:
            row["tags"] = ["a", "zz"] if i % 2 else None            # OOV in a list / missing list
    rows[1]["age"], rows[2]["age"] = 30, 45                         # exactly on bucket boundaries
    return [_example(r, TINY_KINDS) for r in rows]


def reference(columns, serialized_examples, initializers=()) -> list[np.ndarray]:
    """input_layer output of each column (in the given order) on the serialized examples."""
    with tf.Graph().as_default():
        outputs = []
        for column in columns:  # parsed separately: TF cannot read one key as numeric and as categorical
            spec = fc.make_parse_example_spec([column])
            features = tf.io.parse_example(tf.constant(serialized_examples), spec)
            outputs.append(fc.input_layer(dict(features), [column]))
        with tf.compat.v1.Session() as session:
            session.run([tf.compat.v1.global_variables_initializer(), tf.compat.v1.tables_initializer()])
            return session.run(outputs)


def ours(definitions, serialized_examples):
    compiled = tff.compile_features(definitions)
    parsed = tf.io.parse_example(tf.constant(serialized_examples), compiled.parse_spec)
    return compiled, compiled.preprocessor(parsed)


def test_numeric_bucketized_categorical_and_crossed_match_feature_columns(tiny_dir, serialized):
    age = tff.numeric_column("age", normalizer="zscore", default_value=50)  # int: TF needs an int default
    hours = tff.numeric_column("hours-per-week", normalizer="minmax")
    color = tff.categorical_column_with_vocabulary_list("color", num_oov_buckets=2)
    defs = tff.fit([
        age, hours,
        tff.bucketized_column(age, boundaries=[25, 30, 45, 60]),
        tff.indicator_column(color),
        tff.indicator_column(tff.categorical_column_with_vocabulary_list("tags", num_oov_buckets=0)),
        tff.indicator_column(tff.categorical_column_with_identity("code", 10, default_value=0)),
        tff.categorical_column_with_hash_bucket("tags", 7),  # bare categorical: wide multi-hot
        tff.indicator_column(tff.categorical_column_with_hash_bucket("age", 5)),
        tff.crossed_column(["color", tff.bucketized_column(age, boundaries=[25, 30, 45, 60])], 50),
        tff.crossed_column([color, tff.categorical_column_with_identity("code", 10, default_value=3)], 40),
    ], tiny_dir)
    a, h, bucket, color_ind, tags_ind, code_ind, tags_hash, age_hash, cross1, cross2 = defs
    vocab = list(a for a in color_ind.categorical.vocabulary)
    age_ref = fc.numeric_column("age", dtype=tf.int64, default_value=50,
                                normalizer_fn=lambda x: (tf.cast(x, tf.float32) - a.mean) / a.std)
    hours_ref = fc.numeric_column("hours-per-week", default_value=h.default_value,
                                  normalizer_fn=lambda x: (x - h.min) / (h.max - h.min))
    bucket_ref = fc.bucketized_column(fc.numeric_column("age", dtype=tf.int64, default_value=50), [25, 30, 45, 60])
    color_ref = fc.categorical_column_with_vocabulary_list("color", vocab, num_oov_buckets=2)
    refs = [
        age_ref, hours_ref, bucket_ref,
        fc.indicator_column(color_ref),
        fc.indicator_column(fc.categorical_column_with_vocabulary_list("tags", list(tags_ind.categorical.vocabulary))),
        fc.indicator_column(fc.categorical_column_with_identity("code", 10, default_value=0)),
        fc.indicator_column(fc.categorical_column_with_hash_bucket("tags", 7)),
        fc.indicator_column(fc.categorical_column_with_hash_bucket("age", 5, dtype=tf.int64)),
        fc.indicator_column(fc.crossed_column(["color", bucket_ref], 50)),
        fc.indicator_column(fc.crossed_column([color_ref, fc.categorical_column_with_identity("code", 10, default_value=3)], 40)),
    ]
    expected = reference(refs, serialized)
    compiled, out = ours(defs, serialized)
    dense, wide = out["dense"].numpy(), out["wide"].numpy()
    for definition, want in zip(defs, expected):
        if definition.name in compiled.dense_slices:
            start, stop = compiled.dense_slices[definition.name]
            got = dense[:, start:stop]
        else:
            start, stop = compiled.wide_slices[definition.name]
            got = wide[:, start:stop]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=definition.name)
    # The test data really exercises OOV, missing and dropped values.
    color_slice = wide[:, slice(*compiled.wide_slices["color_indicator"])]
    assert color_slice[:, len(vocab):].sum() > 0 and (color_slice.sum(axis=1) == 0).any()
    assert wide[:, slice(*compiled.wide_slices["color_X_code"])].sum(axis=1).min() == 0


@pytest.mark.parametrize("combiner", ["mean", "sqrtn", "sum"])
def test_embeddings_match_feature_columns(tiny_dir, serialized, combiner):
    tags = tff.categorical_column_with_vocabulary_list("tags", num_oov_buckets=1)
    defs = tff.fit([tff.embedding_column(tags, 3, combiner=combiner),
                    tff.embedding_column(tff.categorical_column_with_hash_bucket("color", 6), 2, combiner=combiner)],
                   tiny_dir)
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(d.categorical.num_ids, d.dimension)).astype(np.float32) for d in defs]

    def initializer(matrix):
        return lambda shape, dtype=None, partition_info=None: tf.constant(matrix)

    refs = [
        fc.embedding_column(fc.categorical_column_with_vocabulary_list("tags", list(defs[0].categorical.vocabulary),
                                                                       num_oov_buckets=1),
                            3, combiner=combiner, initializer=initializer(weights[0])),
        fc.embedding_column(fc.categorical_column_with_hash_bucket("color", 6), 2, combiner=combiner,
                            initializer=initializer(weights[1])),
    ]
    expected = np.concatenate(reference(refs, serialized), axis=1)
    compiled, out = ours(defs, serialized)
    block = compiled.new_embedding_block()
    for definition, matrix in zip(defs, weights):
        block.embeddings[definition.name].set_weights([matrix])
    got = block(out["embedding_ids"]).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert (np.abs(got[:, :3]).sum(axis=1) == 0).any()  # rows with no tags embed to zeros, like TF
