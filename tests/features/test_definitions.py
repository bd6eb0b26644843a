"""Definitions are immutable, validated and named like tf.feature_column."""
from __future__ import annotations

import dataclasses

import pytest

from tfpipe import features as tff


def test_names_follow_feature_column_conventions():
    age = tff.numeric_column("age")
    edu = tff.categorical_column_with_vocabulary_list("education")
    occ = tff.categorical_column_with_hash_bucket("occupation", 100)
    assert tff.bucketized_column(age, boundaries=[30, 50]).name == "age_bucketized"
    assert tff.crossed_column([edu, occ], 1000).name == "education_X_occupation"
    assert tff.crossed_column(["a", tff.bucketized_column(age, [1])], 10).name == "a_X_age_bucketized"
    assert tff.embedding_column(edu, 8).name == "education_embedding"
    assert tff.indicator_column(occ).name == "occupation_indicator"
    assert tff.crossed_column([edu, "x"], 10).raw_keys == ("education", "x")


def test_definitions_are_immutable_and_comparable():
    a = tff.numeric_column("age", normalizer="zscore")
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.key = "other"
    assert a == tff.numeric_column("age", normalizer="zscore")
    assert hash(tff.categorical_column_with_vocabulary_list("s", ["a", "b"])) is not None


@pytest.mark.parametrize("make", [
    lambda: tff.numeric_column("age", normalizer="robust"),
    lambda: tff.numeric_column(""),
    lambda: tff.bucketized_column(tff.numeric_column("a"), boundaries=[3, 2]),
    lambda: tff.bucketized_column(tff.numeric_column("a"), num_buckets=1),
    lambda: tff.bucketized_column(tff.categorical_column_with_identity("a", 3), boundaries=[1]),
    lambda: tff.categorical_column_with_vocabulary_list("a", ["x", "x"]),
    lambda: tff.categorical_column_with_vocabulary_list("a", ["x", ""]),
    lambda: tff.categorical_column_with_vocabulary_list("a", ["x", 1]),
    lambda: tff.categorical_column_with_vocabulary_list("a", num_oov_buckets=-1),
    lambda: tff.categorical_column_with_identity("a", 0),
    lambda: tff.categorical_column_with_identity("a", 3, default_value=3),
    lambda: tff.categorical_column_with_hash_bucket("a", 0),
    lambda: tff.crossed_column(["a"], 10),
    lambda: tff.crossed_column(["a", tff.numeric_column("b")], 10),
    lambda: tff.embedding_column(tff.numeric_column("a"), 4),
    lambda: tff.embedding_column(tff.categorical_column_with_identity("a", 3), 0),
    lambda: tff.embedding_column(tff.categorical_column_with_identity("a", 3), 2, combiner="max"),
    lambda: tff.indicator_column(tff.numeric_column("a")),
])
def test_invalid_definitions_are_rejected(make):
    with pytest.raises(ValueError):
        make()


def test_duplicate_names_are_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        tff.validate_definitions([tff.numeric_column("a"), tff.categorical_column_with_identity("a", 3)])


def test_is_fitted():
    assert not tff.numeric_column("a", normalizer="zscore").is_fitted
    assert tff.NumericColumn("a", "zscore", default_value=0, dtype="float32", mean=1, std=2).is_fitted
    assert not tff.categorical_column_with_vocabulary_list("a", ["x"]).is_fitted  # dtype/multivalent unknown
    assert tff.VocabularyListColumn("a", ("x",), dtype="string", multivalent=False).is_fitted
