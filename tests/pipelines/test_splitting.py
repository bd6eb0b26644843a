import numpy as np
import pyarrow as pa
import pytest

from tfpipe.pipelines.splitting import assign_shards, assign_splits, parse_split_spec, row_hashes
from tfpipe.pipelines.tfrecord import record_crcs


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
    crcs = record_crcs(pa.array([b"one", b"two"]))
    np.testing.assert_array_equal(row_hashes(a, ["id"], crcs), row_hashes(b, ["id"], crcs[::-1]))
    assert row_hashes(a, [], crcs)[0] != row_hashes(a, [], record_crcs(pa.array([b"other"])))[0]


def test_crc_based_hashes_split_evenly():
    records = pa.array([f"row {i}".encode() for i in range(100_000)])
    hashes = row_hashes({}, [], record_crcs(records))
    np.testing.assert_allclose(np.bincount(assign_splits(hashes, [("a", 0.5), ("b", 0.5)])) / 100_000, [0.5, 0.5],
                               atol=0.01)
    np.testing.assert_allclose(np.bincount(assign_shards(hashes, 4)) / 100_000, [0.25] * 4, atol=0.01)
