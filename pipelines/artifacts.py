"""Readers for what ``tfpipe preprocess`` leaves in its output directory (the contract of the later stages).

Thin helpers over :class:`~tfpipe.pipelines.preprocessed.PreprocessedDataset` (loaded once per directory): the
directory may be local or on any store :mod:`tfpipe.pipelines.storage` handles, and ``manifest.json`` is the
commit marker — a directory without it is not a dataset (an unfinished or failed job) and is refused.

Example (``adult``: a ``tfpipe preprocess`` output of the first 3000 / 1001 lines of the bundled Adult files;
:mod:`tfpipe.pipelines.preprocessed` shows a run)::

    >>> load_manifest(adult)["rows_rejected"], load_statistics(adult, split="test").num_examples
    (1, 1000)
    >>> [(row["row"], row["reason"]) for row in iter_rejected(adult)]
    [(1, 'wrong field count: expected 15 fields, found 1')]
"""
from __future__ import annotations

from typing import Optional

from tfpipe.pipelines.preprocessed import MANIFEST, PreprocessedDataset  # noqa: F401  (MANIFEST: re-exported)


def load_manifest(data_dir: str) -> dict:
    """The job's ``manifest.json`` as a dict."""
    return dict(PreprocessedDataset.load(data_dir).manifest)


def available_splits(data_dir: str) -> list[str]:
    """The splits the job wrote, in order."""
    return list(PreprocessedDataset.load(data_dir).splits)


def split_rows(data_dir: str, split: str) -> int:
    """Rows written to ``split`` (0 for a split the data does not have)."""
    return int(PreprocessedDataset.load(data_dir).rows.get(split, 0))


def _copy(message):
    copy = type(message)()
    copy.CopyFrom(message)
    return copy


def load_schema(data_dir: str):
    """The dataset's ``tensorflow_metadata`` ``Schema`` (a copy: the caller may change it)."""
    return _copy(PreprocessedDataset.load(data_dir).schema)


def load_statistics(data_dir: str, split: Optional[str] = None):
    """The ``DatasetFeatureStatisticsList`` (or, with ``split``, that split's ``DatasetFeatureStatistics``); a copy."""
    dataset = PreprocessedDataset.load(data_dir)
    return _copy(dataset.statistics if split is None else dataset.split_statistics(split))


def shard_paths(data_dir: str, split: str) -> list[str]:
    """The TFRecord shards of ``split``, in order (as the manifest lists them)."""
    return PreprocessedDataset.load(data_dir).shard_paths(split)


def iter_rejected(data_dir: str):
    """Every rejected row of the job (dicts: ``source``, ``row``, ``field``, ``reason``, ``raw``), in input order."""
    return PreprocessedDataset.load(data_dir).iter_rejected()
