"""``PreprocessedDataset``: what ``tfpipe preprocess`` wrote, loaded once (docs/CONTRACTS.md section 1).

The one owner of that directory's contract: :func:`write_manifest` writes the manifest (the job's last file),
:class:`PreprocessedDataset` is the one reader of the manifest (the commit marker: a directory without it is refused),
the schema, the statistics, the shard paths per split, the label, the rejected-row files. Every later stage
reads through it (directly, or through the helpers of :mod:`tfpipe.pipelines.artifacts`). Loading is cached
per directory and manifest version, so a training run that asks twenty questions reads the files once.

Example::

    >>> import tempfile, os
    >>> from tfpipe.demo import adult_preprocess_options
    >>> from tfpipe.pipelines import run_preprocess
    >>> out = os.path.join(tempfile.mkdtemp(), "adult")
    >>> _ = run_preprocess(adult_preprocess_options(out, progress=False, report=False))
    >>> data = PreprocessedDataset.load(out)
    >>> data.label, data.splits, data.rows["test"], len(data.shard_paths("train"))
    ('income', ('train', 'test'), 16281, 1)
    >>> data.split_statistics("train").num_examples
    32561
    >>> PreprocessedDataset.load(out) is data          # read once
    True
"""
from __future__ import annotations

import dataclasses
import json
import os
import types
from typing import Optional

from tfpipe.pipelines import storage
from tfpipe.pipelines.publish import DATASET

MANIFEST = DATASET.marker
MANIFEST_FORMAT = "tfpipe.dataset/2"   # DATASET.format_prefix + version; 2: rejected rows in rejected/ (one file
                                       # per input with rejects)


def write_manifest(directory: str, manifest: dict) -> None:
    """Writes ``directory/manifest.json``: last, when every other file of the dataset is in place (it is the
    commit marker :class:`PreprocessedDataset` and :mod:`tfpipe.pipelines.publish` look for)."""
    if not str(manifest.get("format", "")).startswith(DATASET.format_prefix):
        raise ValueError(f"a manifest's format must start with {DATASET.format_prefix!r}, got "
                         f"{manifest.get('format')!r}")
    storage.write_text(storage.join(directory, MANIFEST), json.dumps(manifest, indent=2) + "\n")


@dataclasses.dataclass(frozen=True)
class PreprocessedDataset:
    """A finished ``tfpipe preprocess`` output. Build with :meth:`load`; shared by every caller: treat ``schema``
    and ``statistics`` as read-only (the :mod:`~tfpipe.pipelines.artifacts` helpers hand out copies)."""

    path: str
    manifest: types.MappingProxyType
    schema: object        # tensorflow_metadata Schema
    statistics: object    # tensorflow_metadata DatasetFeatureStatisticsList

    @classmethod
    def load(cls, path: str) -> "PreprocessedDataset":
        """Reads the directory (local or any store :mod:`tfpipe.pipelines.storage` handles), cached."""
        manifest_path = storage.join(path, MANIFEST)
        if not storage.exists(manifest_path):
            storage.check_bucket(path)
            raise FileNotFoundError(f"{path}: no {MANIFEST}; not a finished `tfpipe preprocess` output (the "
                                    f"manifest is written last: a directory without it is incomplete)")
        text = None if storage.is_local(manifest_path) else storage.read_text(manifest_path)
        version = _version(manifest_path, text)
        cached = _CACHE.get(path)
        if cached is not None and version is not None and cached[0] == version:
            return cached[1]
        manifest = json.loads(storage.read_text(manifest_path) if text is None else text)
        from google.protobuf import text_format
        from tensorflow_metadata.proto.v0 import statistics_pb2

        from tfpipe.pipelines.schema import read_schema

        schema = read_schema(storage.join(path, manifest["schema"]))
        statistics = text_format.Parse(storage.read_text(storage.join(path, manifest["statistics"])),
                                       statistics_pb2.DatasetFeatureStatisticsList())
        dataset = cls(path, types.MappingProxyType(manifest), schema, statistics)
        if version is not None:
            _CACHE[path] = (version, dataset)
        return dataset

    @property
    def label(self) -> Optional[str]:
        return self.manifest.get("label")

    @property
    def splits(self) -> tuple:
        return tuple(self.manifest.get("splits", ()))

    @property
    def rows(self) -> dict:
        """Rows written per split."""
        return dict(self.manifest.get("rows_written", {}))

    @property
    def compression_type(self) -> str:
        """``""`` or ``"GZIP"``: the ``tf.data.TFRecordDataset`` argument."""
        return {"none": "", "gzip": "GZIP"}[(self.manifest.get("compression") or "none").lower()]

    def shard_paths(self, split: str) -> list[str]:
        """The TFRecord shards of ``split``, in order."""
        shards = self.manifest.get("shards", {})
        if split not in shards:
            raise FileNotFoundError(f"{self.path}: no shards for split {split!r}; splits: {list(self.splits)}")
        return [storage.join(self.path, self.manifest["shards_dir"], name) for name in shards[split]]

    def split_statistics(self, split: str):
        """The ``DatasetFeatureStatistics`` of ``split``."""
        for dataset in self.statistics.datasets:
            if dataset.name == split:
                return dataset
        raise KeyError(f"{self.path}: no statistics for split {split!r}; splits: "
                       f"{[dataset.name for dataset in self.statistics.datasets]}")

    def rejected_files(self) -> list[str]:
        """Paths of the rejected-row files (a list since manifest format 2; one file before)."""
        files = self.manifest.get("rejected_files")
        relative = list(files) if files is not None else [self.manifest.get("rejected", "rejected.jsonl")]
        return [storage.join(self.path, *name.split("/")) for name in relative]

    def iter_rejected(self):
        """Every rejected row (``source``, ``row``, ``field``, ``reason``, ``raw``), in input order."""
        for path in self.rejected_files():
            if not storage.exists(path):
                continue
            with storage.text_reader(path) as handle:
                for line in handle:
                    if line.strip():
                        yield json.loads(line)


_CACHE: dict = {}


def _version(manifest_path: str, text: str | None = None):
    """What changes when the directory is rewritten: local, the manifest's inode, size and mtime; on a store, the
    manifest's own text (``text``: one small read; the manifest is written last and names every shard, so the
    same text means the same dataset). Without the cache a store re-read the schema and statistics on every
    call: 0.6 s each for the 41-column wide table on the S3 server here, twice per ``record_batches``."""
    if text is not None:
        import hashlib

        return "sha256", hashlib.sha256(text.encode("utf-8")).hexdigest()
    status = os.stat(manifest_path)
    return status.st_ino, status.st_size, status.st_mtime_ns
