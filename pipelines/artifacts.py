"""Readers for what ``tfpipe preprocess`` leaves in its output directory (the contract of the later stages).

Example::

    >>> manifest = load_manifest("/tmp/adult")
    >>> schema = load_schema("/tmp/adult")
    >>> train = load_statistics("/tmp/adult", split="train")
    >>> files = shard_paths("/tmp/adult", "train")
"""
from __future__ import annotations

import glob
import json
import os
from typing import Optional

MANIFEST = "manifest.json"


def load_manifest(data_dir: str) -> dict:
    """The job's ``manifest.json`` as a dict."""
    path = os.path.join(data_dir, MANIFEST)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{data_dir}: no {MANIFEST}; is this the output of `tfpipe preprocess`?")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def load_schema(data_dir: str):
    """The dataset's ``tensorflow_metadata`` ``Schema``."""
    from tfpipe.pipelines.schema import read_schema

    return read_schema(os.path.join(data_dir, load_manifest(data_dir)["schema"]))


def load_statistics(data_dir: str, split: Optional[str] = None):
    """The ``DatasetFeatureStatisticsList`` (or, with ``split``, that split's ``DatasetFeatureStatistics``)."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import statistics_pb2

    with open(os.path.join(data_dir, load_manifest(data_dir)["statistics"]), encoding="utf-8") as handle:
        statistics = text_format.Parse(handle.read(), statistics_pb2.DatasetFeatureStatisticsList())
    if split is None:
        return statistics
    for dataset in statistics.datasets:
        if dataset.name == split:
            return dataset
    raise KeyError(f"{data_dir}: no statistics for split {split!r}; splits: "
                   f"{[dataset.name for dataset in statistics.datasets]}")


def shard_paths(data_dir: str, split: str) -> list[str]:
    """The TFRecord shards of ``split``, in order."""
    manifest = load_manifest(data_dir)
    pattern = os.path.join(data_dir, manifest["shards_dir"], f"{manifest['dataset_name']}-{split}.tfrecord-*")
    paths = sorted(glob.glob(pattern))
    if not paths:
        raise FileNotFoundError(f"{data_dir}: no shards for split {split!r}; splits: {manifest['splits']}")
    return paths
