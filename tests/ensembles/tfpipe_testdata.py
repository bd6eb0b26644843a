"""Test data for the ensembles/serving tests: a preprocessed DIR (docs/CONTRACTS.md section 1) written
directly from rows of the bundled UCI Adult files, so the tests do not wait for the Beam job.

Statistics are computed with NumPy (exact quantiles); the layout, schema and tf.Example encoding follow the
contract (INT -> int64_list, BYTES -> bytes_list, missing value -> absent feature).
"""
from __future__ import annotations

import json
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
                 "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
                 "income"]
ADULT_INT = {"age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"}


def adult_rows(path: str, limit: int | None = None, every: int = 1) -> list[dict]:
    """Rows of an Adult CSV file as dicts (None = missing '?', labels without the trailing dot)."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = [p.strip() for p in line.strip().split(",")]
            if len(parts) != len(ADULT_COLUMNS):
                continue
            if i % every:
                continue
            row = {}
            for key, value in zip(ADULT_COLUMNS, parts):
                if value == "?":
                    row[key] = None
                elif key in ADULT_INT:
                    row[key] = int(value)
                else:
                    row[key] = value.rstrip(".") if key == "income" else value
            rows.append(row)
            if limit and len(rows) >= limit:
                break
    return rows


def _example(row: dict, kinds: dict) -> bytes:
    import tensorflow as tf

    feature = {}
    for key, value in row.items():
        if value is None:
            continue
        if kinds[key] == "INT":
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
        elif kinds[key] == "FLOAT":
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
        else:
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _stats(key: str, kind: str, rows: list[dict]):
    from tensorflow_metadata.proto.v0 import statistics_pb2

    out = statistics_pb2.FeatureNameStatistics()
    out.path.step.append(key)
    present = [r[key] for r in rows if r.get(key) is not None]
    if kind in ("INT", "FLOAT"):
        out.type = statistics_pb2.FeatureNameStatistics.INT if kind == "INT" else statistics_pb2.FeatureNameStatistics.FLOAT
        values = np.asarray(present, np.float64)
        num = out.num_stats
        common = num.common_stats
        num.mean, num.std_dev = float(values.mean()), float(values.std())
        num.min, num.max, num.median = float(values.min()), float(values.max()), float(np.median(values))
        num.num_zeros = int((values == 0).sum())
        std = num.histograms.add(type=statistics_pb2.Histogram.STANDARD)
        counts, edges = np.histogram(values, bins=10)
        for c, lo, hi in zip(counts, edges[:-1], edges[1:]):
            std.buckets.add(low_value=float(lo), high_value=float(hi), sample_count=float(c))
        q = num.histograms.add(type=statistics_pb2.Histogram.QUANTILES)
        edges = np.quantile(values, np.linspace(0, 1, 101))
        for lo, hi in zip(edges[:-1], edges[1:]):
            q.buckets.add(low_value=float(lo), high_value=float(hi), sample_count=len(values) / 100)
    else:
        out.type = statistics_pb2.FeatureNameStatistics.STRING
        common = out.string_stats.common_stats
        freq: dict = {}
        for v in present:
            freq[v] = freq.get(v, 0) + 1
        out.string_stats.unique = len(freq)
        for value, count in sorted(freq.items(), key=lambda kv: (-kv[1], kv[0]))[:1000]:
            out.string_stats.top_values.add(value=value, frequency=count)
        out.string_stats.avg_length = float(np.mean([len(v) for v in present])) if present else 0.0
    common.num_non_missing = len(present)
    common.num_missing = len(rows) - len(present)
    common.min_num_values = common.max_num_values = 1
    common.tot_num_values = len(present)
    common.avg_num_values = 1.0
    return out


def write_preprocessed(directory: str, splits: dict, kinds: dict, label: str, shards: int = 2,
                       name: str = "adult") -> str:
    """Writes ``directory`` like ``tfpipe preprocess`` for ``splits[split] = rows``."""
    import tensorflow as tf
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

    os.makedirs(os.path.join(directory, "tfds"), exist_ok=True)
    schema = schema_pb2.Schema()
    all_rows = [r for rows in splits.values() for r in rows]
    for key, kind in kinds.items():
        f = schema.feature.add(name=key, type={"INT": schema_pb2.INT, "FLOAT": schema_pb2.FLOAT,
                                               "BYTES": schema_pb2.BYTES}[kind])
        present = [r[key] for r in all_rows if r.get(key) is not None]
        if len(present) == len(all_rows):
            f.presence.min_fraction, f.presence.min_count = 1, 1
            f.shape.dim.add(size=1)
        else:
            f.presence.min_fraction = len(present) / len(all_rows)
            f.value_count.min, f.value_count.max = 0, 1
        if kind == "BYTES":
            values = sorted(set(present))
            if len(values) <= 100:
                schema.string_domain.add(name=key, value=values)
                f.domain = key
        else:
            f.int_domain.min, f.int_domain.max = int(min(present)), int(max(present))
    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    for split, rows in splits.items():
        ds = statistics.datasets.add(name=split, num_examples=len(rows))
        for key, kind in kinds.items():
            ds.features.append(_stats(key, kind, rows))
        for i in range(shards):
            path = os.path.join(directory, "tfds", f"{name}-{split}.tfrecord-{i:05d}-of-{shards:05d}")
            with tf.io.TFRecordWriter(path) as writer:
                for row in rows[i::shards]:
                    writer.write(_example(row, kinds))
    with open(os.path.join(directory, "schema.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(schema))
    with open(os.path.join(directory, "statistics.pbtxt"), "w") as f:
        f.write(text_format.MessageToString(statistics))
    manifest = {"rows_read": len(all_rows), "rows_written": {s: len(r) for s, r in splits.items()},
                "rows_rejected": 0, "tfds_dir": "tfds", "shards_dir": "tfds", "schema": "schema.pbtxt",
                "statistics": "statistics.pbtxt", "rejected": "rejected.jsonl", "label": label, "splits": list(splits), "dataset_name": name,
                "compression": "none", "key_columns": [], "inputs": {}, "options": {}}
    with open(os.path.join(directory, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    open(os.path.join(directory, "rejected.jsonl"), "w").close()
    return directory


def write_adult(directory: str, train_limit: int | None = None, test_limit: int | None = None,
                label_map=None) -> str:
    """The bundled Adult (optionally the first rows only) as a preprocessed DIR with train and test splits."""
    kinds = {k: ("INT" if k in ADULT_INT else "BYTES") for k in ADULT_COLUMNS}
    train = adult_rows(os.path.join(REPO, "data", "adult", "adult.data"), train_limit)
    test = adult_rows(os.path.join(REPO, "data", "adult", "adult.test"), test_limit)
    if label_map is not None:
        for rows in (train, test):
            for r in rows:
                label_map(r)
        if any(isinstance(r["income"], float) for r in train):
            kinds["income"] = "FLOAT"
    return write_preprocessed(directory, {"train": train, "test": test}, kinds, "income")
