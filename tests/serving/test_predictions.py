"""Serialized records of a preprocessed split (serving/predictions.py) on real Adult rows: the eval carve-out and
key-hash samples (features/key_filters.py)."""
import pytest

from tfpipe.features.artifacts import available_splits, split_rows
from tfpipe.serving.predictions import serialized_dataset


def _rows(ds) -> list:
    return [bytes(s) for batch in ds for s in batch.numpy()]


def test_a_sample_is_a_stable_key_hash_fraction_of_the_split_and_of_its_carved_part(adult_small_dir):
    every = _rows(serialized_dataset(adult_small_dir, "train", 512))
    assert len(every) == split_rows(adult_small_dir, "train")
    sample = _rows(serialized_dataset(adult_small_dir, "train", 512, sample=0.3))
    assert sample == _rows(serialized_dataset(adult_small_dir, "train", 512, sample=0.3))     # same rows each run
    assert set(sample) <= set(every) and abs(len(sample) / len(every) - 0.3) < 0.05
    assert "eval" not in available_splits(adult_small_dir)       # so train is carved
    carve = {"fraction": 0.5, "seed": 0}
    kept = set(_rows(serialized_dataset(adult_small_dir, "train", 512, carve=carve)))
    assert abs(len(kept) / len(every) - 0.5) < 0.05
    kept_sample = _rows(serialized_dataset(adult_small_dir, "train", 512, carve=carve, sample=0.3))
    assert set(kept_sample) <= kept and set(kept_sample) <= set(sample)      # both filters, independent hashes
    assert abs(len(kept_sample) / len(every) - 0.15) < 0.04
    with pytest.raises(ValueError):
        _rows(serialized_dataset(adult_small_dir, "train", 512, sample=0.0))
    assert len(_rows(serialized_dataset(adult_small_dir, "train", 512, sample=1.0))) == len(every)
