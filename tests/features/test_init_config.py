"""`tfpipe features init` writes a default config that fits, compiles and trains without edits."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from tfpipe import features as tff
from tfpipe.features import cli as features_cli
from tfpipe.features.init_config import default_definitions


def test_default_config_rules(tiny_dir):
    defs = tff.default_config(tiny_dir, tiny_dir, label="label")
    by_kind = {}
    for definition in defs:
        by_kind.setdefault(definition.raw_keys[0], []).append(type(definition).__name__)
    assert set(by_kind) == {"age", "hours-per-week", "color", "tags", "code"}  # label excluded
    assert by_kind["age"] == ["NumericColumn", "BucketizedColumn", "PeriodicColumn"]   # 73 distinct integers
    # 10 distinct integer codes: the number and the category both.
    assert by_kind["code"] == ["NumericColumn", "BucketizedColumn", "PeriodicColumn", "IndicatorColumn",
                               "EmbeddingColumn"]
    assert by_kind["color"] == ["IndicatorColumn", "EmbeddingColumn"]
    age = next(d for d in defs if d.raw_keys[0] == "age")
    assert age == tff.numeric_column("age", normalizer="zscore")
    tags = next(d for d in defs if d.raw_keys[0] == "tags")
    assert isinstance(tags.categorical, tff.VocabularyListColumn)


def test_large_and_skewed_columns():
    from tensorflow_metadata.proto.v0 import statistics_pb2

    stats = statistics_pb2.FeatureNameStatistics()
    stats.string_stats.unique = 5000
    [big] = default_definitions("city", "string", stats)
    assert isinstance(big, tff.EmbeddingColumn) and big.categorical.hash_bucket_size == 10000
    money = statistics_pb2.FeatureNameStatistics()
    money.num_stats.min, money.num_stats.max, money.num_stats.median = 0, 99999, 0
    numeric, buckets = default_definitions("capital-gain", "int64", money, numeric_embedding="none")
    assert numeric.normalizer == "log" and buckets.num_buckets == 10
    *_, periodic = default_definitions("capital-gain", "int64", money)
    assert periodic == tff.periodic_column(numeric, n_frequencies=16, sigma=1.0, dimension=8)


def train_briefly(data_dir, config_path, steps=20):
    """Fits the config, compiles it and trains a small wide & deep model; returns the loss history."""
    keras.utils.set_random_seed(0)
    compiled = tff.compile_features(tff.fit(tff.load_config(config_path), data_dir))
    ds = tff.make_dataset(data_dir, "train", compiled, 64, read=tff.ReadOptions(shuffle=True, repeat=True, seed=0))
    dense_in = keras.Input((compiled.dense_width,), name="dense_in")
    wide_in = keras.Input((compiled.wide_width,), name="wide_in")
    ids_in = {n: keras.Input((None,), dtype="int64", name=n.replace("-", "_")) for n in compiled.embedding_specs}
    parts = [dense_in, wide_in]
    if ids_in:
        parts.append(compiled.new_embedding_block()(ids_in))
    hidden = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()(parts))
    model = keras.Model({"dense": dense_in, "wide": wide_in, "embedding_ids": ids_in},
                        keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile("adam", "binary_crossentropy")
    features_only = ds.map(lambda x, y: ({k: x[k] for k in ("dense", "wide", "embedding_ids")}, y))
    return model.fit(features_only, steps_per_epoch=steps, epochs=2, verbose=0).history["loss"]


def test_cli_init_output_trains_without_edits(tiny_dir, tmp_path, capsys):
    import argparse

    parser = argparse.ArgumentParser(prog="tfpipe")
    features_cli.register(parser.add_subparsers(dest="command"))
    output = tmp_path / "features.pbtxt"
    args = parser.parse_args(["features", "init", "--data", tiny_dir, "--output", str(output)])
    assert args.handler(args) == 0 and "wrote 15" in capsys.readouterr().out  # 5 columns x 2, + 3 periodic, + 2 for the code
    assert "label" not in {d.raw_keys[0] for d in tff.load_config(output)}
    loss = train_briefly(tiny_dir, output)
    assert np.all(np.isfinite(loss))


def test_numeric_embedding_option_adds_one_encoding_per_number(tiny_dir):
    plain = tff.default_config(tiny_dir, tiny_dir, label="label", numeric_embedding="none")
    for embedding, kind in (("periodic", tff.PeriodicColumn), ("piecewise_linear", tff.PiecewiseLinearColumn)):
        defs = tff.default_config(tiny_dir, tiny_dir, label="label", numeric_embedding=embedding)
        added = [d for d in defs if d not in plain]
        assert [type(d) for d in added] == [kind] * 3 and {d.key for d in added} == {"age", "hours-per-week", "code"}
        compiled = tff.compile_features(tff.fit(defs, tiny_dir))
        assert bool(compiled.periodic_specs) == (embedding == "periodic")
    with pytest.raises(ValueError, match="numeric_embedding"):
        tff.default_config(tiny_dir, tiny_dir, label="label", numeric_embedding="fourier")
