"""Integration on the real preprocessed UCI Adult data (session fixture ``adult_dir`` runs tfpipe preprocess)."""
from __future__ import annotations

import numpy as np
import pytest

from tfpipe import features as tff


def adult_definitions():
    """The hand-written Adult features shipped as an example (``examples/adult_features.pbtxt``)."""
    from importlib import resources

    return list(tff.load_config(resources.files("tfpipe.examples") / "adult_features.pbtxt"))


@pytest.fixture(scope="module")
def adult_compiled(adult_dir):
    fitted = tff.fit(adult_definitions(), adult_dir)
    return fitted, tff.compile_features(fitted)


def test_adult_definitions_fit_from_statistics_and_produce_batches(adult_dir, adult_compiled, tmp_path):
    fitted, compiled = adult_compiled
    by_name = {d.name: d for d in fitted}
    assert "Bachelors" in by_name["education_indicator"].categorical.vocabulary
    assert len(by_name["age_bucketized"].boundaries) >= 8
    assert 35 < by_name["age"].mean < 42 and by_name["age"].std > 10
    assert by_name["capital-gain"].mean > 0  # log moments from the quantiles
    assert tff.load_config(tff.save_config(fitted, tmp_path / "adult.pbtxt")) == fitted
    label = tff.fit_label(adult_dir, adult_dir, "income")
    assert label.task == "binary" and label.classes == ("<=50K", ">50K")
    ds = tff.make_dataset(adult_dir, "train", compiled, 512, label=label, read=tff.ReadOptions(shuffle=True, seed=3))
    inputs, y = next(iter(ds))
    assert inputs["dense"].shape == (512, compiled.dense_width) and inputs["wide"].shape == (512, compiled.wide_width)
    assert set(inputs["embedding_ids"]) == {"occupation_embedding", "native-country_embedding"}
    assert np.all(np.isfinite(inputs["dense"].numpy()))
    assert 0.1 < y.numpy().mean() < 0.4  # ~24% earn >50K
    total = sum(int(b[1].shape[0]) for b in tff.make_dataset(adult_dir, "train", compiled, 4096, label=label))
    assert total == 32561
    embedded = compiled.new_embedding_block()(inputs["embedding_ids"])
    assert embedded.shape == (512, compiled.embedding_width)


def test_features_init_on_adult_trains_without_edits(adult_dir, tmp_path):
    from test_init_config import train_briefly
    from tfpipe.features import cli as features_cli
    import argparse

    parser = argparse.ArgumentParser(prog="tfpipe")
    features_cli.register(parser.add_subparsers(dest="command"))
    output = tmp_path / "features.pbtxt"
    args = parser.parse_args(["features", "init", "--data", adult_dir, "--output", str(output)])
    assert args.handler(args) == 0
    defs = tff.load_config(output)
    assert "income" not in {k for d in defs for k in d.raw_keys}
    # 6 numbers (value + buckets + periodic embedding), 8 categoricals (one-hot + embedding), education-num
    # (16 integer codes) also categorical
    assert len(defs) == 6 * 3 + 8 * 2 + 2
    loss = train_briefly(adult_dir, output, steps=60)
    # 0.55 is the log loss of always predicting the base rate (24% >50K): the model must do better.
    assert np.all(np.isfinite(loss)) and loss[-1] < 0.5, loss
