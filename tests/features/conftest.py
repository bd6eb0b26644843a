"""Fixtures of the features tests: a tiny hand-made preprocessed dataset and the real preprocessed UCI Adult.

``write_dataset`` writes a DIR in the format of docs/CONTRACTS.md section 1 (manifest, schema, statistics
computed here with NumPy, TFRecord shards) from Python rows, so unit tests do not depend on the Beam job.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADULT_COLUMNS = ("age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,"
                 "capital-gain,capital-loss,hours-per-week,native-country,income")


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _example(row: dict, kinds: dict) -> bytes:
    import tensorflow as tf

    feature = {}
    for key, value in row.items():
        if value is None:
            continue
        values = _as_list(value)
        if kinds[key] == "INT":
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        elif kinds[key] == "FLOAT":
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
        else:
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode() for v in values]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _feature_stats(key: str, kind: str, rows: list[dict]) -> statistics_pb2.FeatureNameStatistics:
    out = statistics_pb2.FeatureNameStatistics()
    out.path.step.append(key)
    lists = [_as_list(r.get(key)) for r in rows]
    present = [v for v in lists if v]
    counts = [len(v) for v in present] or [0]
    if kind in ("INT", "FLOAT"):
        out.type = statistics_pb2.FeatureNameStatistics.INT if kind == "INT" else statistics_pb2.FeatureNameStatistics.FLOAT
        common = out.num_stats.common_stats
        values = np.array([x for v in present for x in v], dtype=np.float64)
        num = out.num_stats
        num.mean, num.std_dev = float(values.mean()), float(values.std())
        num.min, num.max, num.median = float(values.min()), float(values.max()), float(np.median(values))
        num.num_zeros = int((values == 0).sum())
        quantiles = num.histograms.add(type=statistics_pb2.Histogram.QUANTILES)
        edges = np.quantile(values, np.linspace(0, 1, 101))
        for low, high in zip(edges[:-1], edges[1:]):
            quantiles.buckets.add(low_value=float(low), high_value=float(high), sample_count=len(values) / 100)
        if kind == "INT":   # integer value counts, as tfpipe preprocess keeps them (custom_stats)
            uniques, freqs = np.unique(values.astype(np.int64), return_counts=True)
            out.custom_stats.add(name="unique", num=float(len(uniques)))
            top = out.custom_stats.add(name="top_values")
            ranked = sorted(zip(uniques.tolist(), freqs.tolist()), key=lambda kv: (-kv[1], kv[0]))[:1000]
            for rank, (value, count) in enumerate(ranked):
                top.rank_histogram.buckets.add(low_rank=rank, high_rank=rank, label=str(value), sample_count=count)
    else:
        out.type = statistics_pb2.FeatureNameStatistics.STRING
        common = out.string_stats.common_stats
        values = [x for v in present for x in v]
        freq: dict[str, int] = {}
        for x in values:
            freq[x] = freq.get(x, 0) + 1
        out.string_stats.unique = len(freq)
        for value, count in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))[:1000]:
            out.string_stats.top_values.add(value=value, frequency=count)
    common.num_non_missing = len(present)
    common.num_missing = len(rows) - len(present)
    common.min_num_values, common.max_num_values = min(counts), max(counts)
    common.tot_num_values = sum(len(v) for v in present)
    common.avg_num_values = common.tot_num_values / max(len(present), 1)
    return out


def write_dataset(directory: str, splits: dict[str, list[dict]], kinds: dict[str, str], label: str | None,
                  shards: int = 2, name: str = "tiny") -> str:
    """Writes ``directory`` like ``tfpipe preprocess`` would for rows ``splits[split]`` (None = missing)."""
    import tensorflow as tf

    os.makedirs(os.path.join(directory, "tfds"), exist_ok=True)
    schema = schema_pb2.Schema()
    all_rows = [r for rows in splits.values() for r in rows]
    for key, kind in kinds.items():
        f = schema.feature.add(name=key, type={"INT": schema_pb2.INT, "FLOAT": schema_pb2.FLOAT,
                                               "BYTES": schema_pb2.BYTES}[kind])
        lists = [_as_list(r.get(key)) for r in all_rows]
        if max(len(v) for v in lists) > 1:
            f.value_count.min, f.value_count.max = min(len(v) for v in lists), max(len(v) for v in lists)
        elif all(lists):
            f.presence.min_fraction, f.presence.min_count = 1, 1
            f.shape.dim.add(size=1)
        else:
            f.presence.min_fraction = sum(1 for v in lists if v) / len(lists)
            f.value_count.min, f.value_count.max = 0, 1
        if kind == "BYTES":
            values = sorted({x for v in lists for x in v})
            if len(values) <= 50:
                schema.string_domain.add(name=key, value=values)
                f.domain = key
    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    rows_written = {}
    for split, rows in splits.items():
        dataset = statistics.datasets.add(name=split, num_examples=len(rows))
        for key, kind in kinds.items():
            dataset.features.append(_feature_stats(key, kind, rows))
        rows_written[split] = len(rows)
        for i in range(shards):
            path = os.path.join(directory, "tfds", f"{name}-{split}.tfrecord-{i:05d}-of-{shards:05d}")
            with tf.io.TFRecordWriter(path) as writer:
                for row in rows[i::shards]:
                    writer.write(_example(row, kinds))
    with open(os.path.join(directory, "schema.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(schema))
    with open(os.path.join(directory, "statistics.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(statistics))
    manifest = {"rows_read": len(all_rows), "rows_written": rows_written, "rows_rejected": 0, "tfds_dir": "tfds", "shards_dir": "tfds",
                "schema": "schema.pbtxt", "statistics": "statistics.pbtxt", "rejected": "rejected", "rejected_files": [],
                "shards": {split: [f"{name}-{split}.tfrecord-{i:05d}-of-{shards:05d}" for i in range(shards)]
                           for split in splits},
                "label": label, "splits": list(splits), "dataset_name": name, "compression": "none",
                "key_columns": [], "inputs": {}, "options": {}}
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    return directory


TINY_KINDS = {"age": "INT", "hours-per-week": "FLOAT", "color": "BYTES", "tags": "BYTES", "code": "INT",
              "label": "BYTES"}


def tiny_rows(n: int, seed: int) -> list[dict]:
    """Rows with a required int, an optional float, a small string, a multi-valued string, an int code, a label."""
    rng = np.random.default_rng(seed)
    colors = ["red", "green", "blue", "black", "white"]
    tags = ["a", "b", "c", "d"]
    rows = []
    for i in range(n):
        rows.append({
            "age": int(rng.integers(17, 90)),
            "hours-per-week": None if rng.random() < 0.2 else float(np.round(rng.normal(40, 12), 2)),
            "color": colors[int(rng.choice(5, p=[0.4, 0.3, 0.2, 0.07, 0.03]))],
            "tags": sorted(rng.choice(tags, size=int(rng.integers(0, 4)), replace=False).tolist()) or None,
            "code": int(rng.integers(0, 10)),
            "label": "yes" if rng.random() < 0.3 else "no",
        })
    return rows


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> str:
    """A tiny preprocessed dataset: train (400 rows) and test (100 rows), 2 shards each."""
    directory = str(tmp_path_factory.mktemp("tiny"))
    return write_dataset(directory, {"train": tiny_rows(400, 0), "test": tiny_rows(100, 1)}, TINY_KINDS, "label")


@pytest.fixture(scope="session")
def adult_dir(adult_data_dir) -> str:
    """The real UCI Adult data through ``tfpipe preprocess`` (the session-wide run of tests/conftest.py)."""
    return adult_data_dir
