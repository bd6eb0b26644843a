"""Readers for what ``tfpipe preprocess`` leaves in its output directory (the contract of the later stages).

The directory may be local or on any store :mod:`tfpipe.pipelines.storage` handles. ``manifest.json`` is the
commit marker: it is written last, so a directory without it is not a dataset (an unfinished or failed job)
and every reader here refuses it.

Example::

    >>> manifest = load_manifest("/tmp/adult")
    >>> schema = load_schema("/tmp/adult")
    >>> train = load_statistics("/tmp/adult", split="train")
    >>> files = shard_paths("/tmp/adult", "train")
"""
from __future__ import annotations

import json
from typing import Optional

from tfpipe.pipelines import storage

MANIFEST = "manifest.json"


def load_manifest(data_dir: str) -> dict:
    """The job's ``manifest.json`` as a dict."""
    path = storage.join(data_dir, MANIFEST)
    if not storage.exists(path):
        raise FileNotFoundError(f"{data_dir}: no {MANIFEST}; not a finished `tfpipe preprocess` output (the "
                                f"manifest is written last: a directory without it is incomplete)")
    return json.loads(storage.read_text(path))


def load_schema(data_dir: str):
    """The dataset's ``tensorflow_metadata`` ``Schema``."""
    from tfpipe.pipelines.schema import read_schema

    return read_schema(storage.join(data_dir, load_manifest(data_dir)["schema"]))


def load_statistics(data_dir: str, split: Optional[str] = None):
    """The ``DatasetFeatureStatisticsList`` (or, with ``split``, that split's ``DatasetFeatureStatistics``)."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import statistics_pb2

    text = storage.read_text(storage.join(data_dir, load_manifest(data_dir)["statistics"]))
    statistics = text_format.Parse(text, statistics_pb2.DatasetFeatureStatisticsList())
    if split is None:
        return statistics
    for dataset in statistics.datasets:
        if dataset.name == split:
            return dataset
    raise KeyError(f"{data_dir}: no statistics for split {split!r}; splits: "
                   f"{[dataset.name for dataset in statistics.datasets]}")


def rejected_files(manifest: dict) -> list[str]:
    """Paths (relative to the dataset) of the rejected-row files: a list since format 2, one file before."""
    rejected = manifest.get("rejected_files")
    if rejected is not None:
        return list(rejected)
    return [manifest.get("rejected", "rejected.jsonl")]


def shard_paths(data_dir: str, split: str) -> list[str]:
    """The TFRecord shards of ``split``, in order (as the manifest lists them)."""
    manifest = load_manifest(data_dir)
    if split not in manifest.get("shards", {}):
        raise FileNotFoundError(f"{data_dir}: no shards for split {split!r}; splits: {manifest['splits']}")
    return [storage.join(data_dir, manifest["shards_dir"], name) for name in manifest["shards"][split]]


def iter_rejected(data_dir: str):
    """Every rejected row of the job (dicts: ``source``, ``row``, ``field``, ``reason``, ``raw``), in input order."""
    manifest = load_manifest(data_dir)
    for relative in rejected_files(manifest):
        path = storage.join(data_dir, *relative.split("/"))
        if not storage.exists(path):
            continue
        with storage.text_reader(path) as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)
