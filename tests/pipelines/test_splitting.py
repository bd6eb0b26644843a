import numpy as np
import pyarrow as pa
import pytest

from tfpipe.pipelines.splitting import assign_shards, assign_splits, parse_split_spec, row_hashes


def test_parse_split_spec_normalizes_and_validates():
    assert parse_split_spec("train=8,eval=2") == [("train", 0.8), ("eval", 0.2)]
    for bad in ("train", "train=0", "train=x", "train=1,train=2", "tr ain=1"):
        with pytest.raises(ValueError):
            parse_split_spec(bad)


def test_split_and_shard_proportions_follow_the_hash():
    hashes = np.random.default_rng(0).integers(0, 2**63, 200_000, dtype=np.uint64) * np.uint64(2)
    splits = assign_splits(hashes, [("train", 0.7), ("eval", 0.2), ("test", 0.1)])
    np.testing.assert_allclose(np.bincount(splits) / hashes.size, [0.7, 0.2, 0.1], atol=0.01)
    shards = assign_shards(hashes[splits == 0], 5)
    np.testing.assert_allclose(np.bincount(shards) / shards.size, [0.2] * 5, atol=0.01)


def test_key_hash_ignores_other_columns_and_is_stable():
    a = {"id": pa.array(["u1", "u2"]), "x": pa.array([1, 2])}
    b = {"id": pa.array(["u1", "u2"]), "x": pa.array([9, 9])}
    examples = pa.array([b"one", b"two"])
    np.testing.assert_array_equal(row_hashes(a, ["id"], examples), row_hashes(b, ["id"], pa.array([b"3", b"4"])))
    assert row_hashes(a, [], examples)[0] != row_hashes(a, [], pa.array([b"other", b"two"]))[0]
