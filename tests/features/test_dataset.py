"""make_dataset: batches of (inputs, label), stable example keys, reproducible order, dropped bad labels."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from conftest import TINY_KINDS, tiny_rows, write_dataset
from tfpipe import features as tff


def _defs():
    return [tff.numeric_column("age", normalizer="zscore"),
            tff.indicator_column(tff.categorical_column_with_vocabulary_list("color")),
            tff.embedding_column(tff.categorical_column_with_vocabulary_list("tags"), 2)]


def _keys(ds):
    return np.concatenate([x["example_key"].numpy() for x, _ in ds])


def test_batches_cover_the_split_with_encoded_labels(tiny_dir):
    compiled = tff.compile_features(tff.fit(_defs(), tiny_dir))
    ds = tff.make_dataset(tiny_dir, "train", compiled, batch_size=64)
    batches = list(ds)
    inputs, label = batches[0]
    assert set(inputs) == {"dense", "wide", "embedding_ids", "periodic", "tree", "example_key"}
    assert inputs["example_key"].dtype == tf.int64 and inputs["dense"].shape == (64, 1)
    assert label.dtype == tf.int64 and set(np.unique(label.numpy())) <= {0, 1}
    keys = _keys(batches)
    assert len(keys) == 400 and len(set(keys.tolist())) > 390  # keys identify examples
    assert len(tff.artifacts.shard_paths(tiny_dir, "train")) > 1     # yet one short batch: one shape for XLA
    assert [int(y.shape[0]) for _, y in tff.make_dataset(tiny_dir, "train", compiled, 64,
                                                         read=tff.ReadOptions(deterministic=True))] \
        == [64] * 6 + [16]
    labels = np.concatenate([y.numpy() for _, y in batches])
    yes = sum(r["label"] == "yes" for r in tiny_rows(400, 0))
    assert labels.sum() == yes


def test_example_keys_are_stable_and_order_is_reproducible(tiny_dir):
    defs = _defs()  # unfitted definitions are fitted from the data dir
    make = lambda seed: tff.make_dataset(tiny_dir, "train", defs, 50,
                                         read=tff.ReadOptions(shuffle=True, seed=seed, shuffle_buffer=400))
    first, again, other = _keys(make(1)), _keys(make(1)), _keys(make(2))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert sorted(first.tolist()) == sorted(other.tolist())
    plain = _keys(tff.make_dataset(tiny_dir, "train", defs, 50, read=tff.ReadOptions(deterministic=True, cache=True)))
    assert sorted(plain.tolist()) == sorted(first.tolist())
    expected = tf.strings.to_hash_bucket_fast(
        next(iter(tf.data.TFRecordDataset(tff.artifacts.shard_paths(tiny_dir, "train")[0]))), 2**62).numpy()
    assert expected in set(plain.tolist())


def test_repeat_and_no_label(tiny_dir):
    compiled = tff.compile_features(tff.fit(_defs(), tiny_dir))
    ds = tff.make_dataset(tiny_dir, "test", compiled, 64, label=None, read=tff.ReadOptions(repeat=True))
    batches = list(ds.take(4))
    assert isinstance(batches[0], dict) and sum(b["dense"].shape[0] for b in batches) > 100  # 100 rows
    exact = tff.make_dataset(tiny_dir, "test", compiled, 64, label=None,
                             read=tff.ReadOptions(repeat=True, drop_remainder=True))
    assert [b["dense"].shape[0] for b in exact.take(3)] == [64, 64, 64]


def test_unknown_and_missing_labels_are_dropped(tmp_path, tiny_dir):
    rows = tiny_rows(60, 9)
    for i, row in enumerate(rows):
        if i % 3 == 0:
            row["label"] = "unknown" if i % 2 else None
    bad_dir = write_dataset(str(tmp_path / "bad"), {"train": rows}, TINY_KINDS, "label", shards=1)
    spec = tff.fit_label(tiny_dir, tiny_dir, "label")  # classes of the clean data
    compiled = tff.compile_features(tff.fit(_defs(), tiny_dir))
    batches = list(tff.make_dataset(bad_dir, "train", compiled, 16, label=spec))
    sizes = [int(y.shape[0]) for _, y in batches]
    assert sum(sizes) == 40 and min(sizes) < 16
    assert all(x["dense"].shape[0] == y.shape[0] == x["example_key"].shape[0] for x, y in batches)


def test_worker_parts_are_disjoint_and_cover_the_split(tiny_dir):
    """shard=(i, n): by shard file when there are at least n files, else by example key."""
    compiled = tff.compile_features(tff.fit(_defs(), tiny_dir))
    whole = sorted(_keys(tff.make_dataset(tiny_dir, "train", compiled, 64)).tolist())
    for count in (2, 3):
        parts = [_keys(tff.make_dataset(tiny_dir, "train", compiled, 64,
                                        read=tff.ReadOptions(shard=(i, count)))) for i in range(count)]
        assert sorted(np.concatenate(parts).tolist()) == whole
        assert all(len(part) > len(whole) / count / 2 for part in parts)
        if len(tff.artifacts.shard_paths(tiny_dir, "train")) < count:
            assert all((part % count == i).all() for i, part in enumerate(parts))


def test_keep_chooses_rows_before_batching(tiny_dir):
    """keep=: exactly the rows the key filter keeps, in full batches (a batch size that changes from step to step
    makes XLA compile the training step again for every new size), on every feed (records, preprocessed cache)."""
    compiled = tff.compile_features(tff.fit(_defs(), tiny_dir))
    whole = _keys(tff.make_dataset(tiny_dir, "train", compiled, 64))
    expected = sorted(k for k in whole.tolist() if k % 3 != 0)
    keep = lambda keys: keys % 3 != 0   # noqa: E731
    for kwargs in ({}, {"shuffle": True, "seed": 4}, {"shuffle": True, "seed": 4, "cache": "preprocessed"},
                   {"shard": (1, 3)}):
        batches = list(tff.make_dataset(tiny_dir, "train", compiled, 50, read=tff.ReadOptions(keep=keep, **kwargs)))
        sizes = [int(y.shape[0]) for _, y in batches]
        keys = _keys(batches)
        short = min(sizes)    # the last batch (not last in order without deterministic: the map is parallel)
        assert sorted(sizes)[1:] == [50] * (len(sizes) - 1) and 0 < short <= 50, (kwargs, sizes)
        if "shard" in kwargs:
            assert set(keys.tolist()) <= set(expected) and len(keys) > 0
        else:
            assert sorted(keys.tolist()) == expected, kwargs
