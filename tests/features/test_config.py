"""The whole set of definitions, fitted or not, round-trips through the text-format FeatureConfig."""
from __future__ import annotations

import pytest

from tfpipe import features as tff
from tfpipe.proto import feature_config_pb2 as pb


def every_kind():
    age = tff.numeric_column("age", normalizer="zscore", missing_indicator=True)
    color = tff.categorical_column_with_vocabulary_list("color", top_k=3, min_count=2, num_oov_buckets=2)
    return [
        age,
        tff.numeric_column("hours-per-week", normalizer="log", default_value=0.5),
        tff.bucketized_column(age, num_buckets=5),
        tff.piecewise_linear_column(age, num_bins=6),
        tff.periodic_column(age, n_frequencies=12, sigma=0.5, dimension=6),
        tff.piecewise_linear_column(tff.numeric_column("hours-per-week"), boundaries=[0, 10, 20.5, 99]),
        tff.bucketized_column(tff.numeric_column("hours-per-week"), boundaries=[10, 20.5]),
        tff.indicator_column(color),
        tff.categorical_column_with_vocabulary_list("code", [3, 1, 2], num_oov_buckets=0),
        tff.embedding_column(tff.categorical_column_with_vocabulary_list("tags"), 3, combiner="sqrtn"),
        tff.categorical_column_with_hash_bucket("tags", 9),
        tff.indicator_column(tff.categorical_column_with_identity("code", 10, default_value=0)),
        tff.crossed_column(["color", tff.bucketized_column(age, boundaries=[30])], 20),
        tff.crossed_column([color, tff.categorical_column_with_identity("code", 10)], 40),
    ]


def test_unfitted_and_fitted_sets_round_trip(tiny_dir, tmp_path):
    defs = tuple(every_kind())
    fitted = tff.fit(defs, tiny_dir)
    for definitions in (defs, fitted):
        assert tff.from_proto(tff.to_proto(definitions)) == definitions
        path = tff.save_config(definitions, tmp_path / "features.pbtxt", label="label")
        assert tff.load_config(path) == definitions
    assert "normalizer: ZSCORE" in open(path).read()


def test_vocabulary_file_round_trips(tmp_path):
    (tmp_path / "v.txt").write_text("x\ny\n")
    defs = (tff.categorical_column_with_vocabulary_file("s", str(tmp_path / "v.txt"), vocabulary_size=2),)
    assert tff.from_proto(tff.to_proto(defs)) == defs


def test_hand_written_config_parses_and_is_validated(tmp_path):
    path = tmp_path / "hand.pbtxt"
    path.write_text("""
        columns { numeric { key: "age" normalizer: MINMAX } }
        columns { embedding { categorical { hash_bucket { key: "occupation" hash_bucket_size: 100 } }
                              dimension: 8 combiner: SUM } }
        columns { crossed { keys { raw: "a" } keys { raw: "b" } hash_bucket_size: 10 } }
    """)
    defs = tff.load_config(path)
    assert defs == (tff.numeric_column("age", normalizer="minmax"),
                    tff.embedding_column(tff.categorical_column_with_hash_bucket("occupation", 100), 8, "sum"),
                    tff.crossed_column(["a", "b"], 10))
    path.write_text('columns { embedding { categorical { hash_bucket { key: "x" hash_bucket_size: 0 } } } }')
    with pytest.raises(ValueError):
        tff.load_config(path)
    with pytest.raises(ValueError, match="without a kind"):
        tff.from_proto(pb.FeatureConfig(columns=[pb.FeatureColumn()]))


def test_every_definition_kind_and_every_proto_kind_have_one_codec():
    import dataclasses

    from tfpipe.features import config, definitions

    kinds = {cls for cls in vars(definitions).values()
             if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__name__.endswith("Column")}
    fields = {field.name for field in pb.FeatureColumn.DESCRIPTOR.oneofs_by_name["kind"].fields}
    assert set(config.CODECS) == kinds                        # a new definition class needs its codec
    assert {codec.field for codec in config.CODECS.values()} == fields   # and a new proto kind too
    with pytest.raises(TypeError, match="not a feature definition"):
        config.column_to_proto("age")
    with pytest.raises(ValueError, match="FeatureColumn without a kind"):
        config.column_from_proto(pb.FeatureColumn())
