"""The Beam pipelines of ``tfpipe preprocess``: validate → encode → write, and the schema inference.

Without ``--schema`` the write pipeline runs under a sampled schema's relaxed rules and also gathers every
chunk's type evidence, from which :class:`WriteSummary` writes the full schema (one pass, see "One pass" in
:mod:`tfpipe.pipelines.schema_inference`); ``build_infer_pipeline`` is the separate inference pass, for
``--infer-schema full-pass`` and for when the sample turns out wrong.

Elements are whole chunks and Arrow arrays, never single rows, so the per-element cost of a runner does not
scale with the row count. Every file goes through :mod:`tfpipe.pipelines.storage` (Beam's FileSystems), so
workers that share no disk with the driver write straight to the job's work directory on the object store.

The write pipeline is built so that it runs on every Beam runner, the experimental ``DaskRunner`` included,
and costs the runner little past the chunks themselves:

- one output per ParDo (keyed elements): Beam 2.77's Dask ParDo merges the tagged outputs of a multi-output
  ParDo into one collection;
- no side input carries job data (the schema is a constructor argument): Dask computes a side input inside the
  consuming task, outside the job's graph, so the work upstream of it would run twice;
- every output flows into one final ``WriteSummary``: Dask computes only the graph of the last transform;
- two ``GroupByKey`` steps in all (see :func:`build_write_pipeline`): on Dask each one is a task-based shuffle
  over one partition per chunk.

Nothing gathers rows in one worker: each chunk writes its rows of every shard as a *piece* and its rejected
rows as a JSON-lines piece; a shard is its pieces concatenated in input order (TFRecord files concatenate
into a valid file), and the rejected rows of an input file are its chunks' pieces renumbered to file line
numbers — only paths, counts and mergeable statistics travel through the runner.

Example::

    >>> import tempfile
    >>> from tfpipe.demo import ADULT_COLUMNS, adult_dir
    >>> from tfpipe.pipelines.schema import read_schema
    >>> from tfpipe.pipelines.sources import InputFile, plan_chunks
    >>> chunks = plan_chunks([InputFile(os.path.join(adult_dir(), "adult.data"), "csv")], 4 << 20, ADULT_COLUMNS)
    >>> config = JobConfig(work_dir=tempfile.mkdtemp(), label="income", num_shards={"train": 2})
    >>> with beam.Pipeline("DirectRunner") as pipeline:
    ...     _ = build_infer_pipeline(pipeline, chunks, config)
    >>> schema = read_schema(os.path.join(config.work_dir, SCHEMA_FILE))
    >>> with beam.Pipeline("DirectRunner") as pipeline:
    ...     _ = build_write_pipeline(pipeline, chunks, config, schema.SerializeToString())
    >>> summary = json.load(open(os.path.join(config.work_dir, SUMMARY_FILE)))
    >>> len(summary["shards"]), sum(shard["records"] for shard in summary["shards"]), summary["rejected"]
    (2, 32561, 0)
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import os
import shutil
from typing import Optional, Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.metrics import Metrics

from tfpipe.pipelines import storage
from tfpipe.pipelines.example_encoder import encode_examples
from tfpipe.pipelines.readers import CsvOptions, read_chunk
from tfpipe.pipelines.schema import FeatureRule
from tfpipe.pipelines.schema_inference import evidence_of_batch, merge_evidence, relaxed_rules
from tfpipe.pipelines.sources import Chunk
from tfpipe.pipelines.splitting import assign_shards, assign_splits, row_hashes
from tfpipe.pipelines.statistics import DatasetStatsAccumulator
from tfpipe.pipelines.tfrecord import record_crcs, write_tfrecords
from tfpipe.pipelines.row_checks import ValidationOptions, take_rows, validate_batch

SUMMARY_FILE = "_summary.json"
SCHEMA_FILE = "schema.pbtxt"
STATISTICS_FILE = "statistics.pbtxt"
PROGRESS_DIR = "_progress"
PIECES_DIR = "_pieces"
REJECT_PIECES_DIR = "_rejected_pieces"
REJECTED_DIR = "rejected"
SCRATCH_DIRS = (PROGRESS_DIR, PIECES_DIR, REJECT_PIECES_DIR)
METRICS_NAMESPACE = "tfpipe"


@dataclasses.dataclass(frozen=True)
class JobConfig:
    """Everything a worker needs; picklable."""

    work_dir: str
    label: Optional[str] = None
    splits: tuple = (("train", 1.0),)          # (name, fraction) for hash splitting; fractions unused if given
    num_shards: dict = dataclasses.field(default_factory=lambda: {"train": 1})
    validation: ValidationOptions = ValidationOptions()
    csv: CsvOptions = CsvOptions()
    key_columns: tuple = ()
    compression: str = "none"
    dataset_name: str = "dataset"
    tfds_subdir: str = "tfds"
    progress_markers: bool = False   # leave per-chunk files the driver's progress bar counts (local work dir)

    @property
    def split_names(self) -> list[str]:
        return [name for name, _ in self.splits]

    def piece_path(self, split: str, shard: int, chunk: Chunk) -> str:
        """Where a chunk writes its rows of one shard, before the shard is assembled."""
        return storage.join(self.work_dir, PIECES_DIR, f"{split}-{shard:05d}-{chunk.file_index:05d}-"
                                                       f"{chunk.chunk_index:05d}.tfrecord")

    def reject_piece_path(self, chunk: Chunk) -> str:
        return storage.join(self.work_dir, REJECT_PIECES_DIR, f"{chunk.file_index:05d}-{chunk.chunk_index:05d}.jsonl")

    def shard_path(self, split: str, shard: int) -> str:
        count = self.num_shards[split]
        name = f"{self.dataset_name}-{split}.tfrecord-{shard:05d}-of-{count:05d}"
        return storage.join(self.work_dir, self.tfds_subdir, name)

    def rejected_path(self, file_index: int) -> str:
        """Relative path of the rejected rows of input file ``file_index`` (published; listed in the manifest)."""
        return f"{REJECTED_DIR}/rejected-{file_index:05d}.jsonl"


_CHUNKS_DONE = {stage: Metrics.counter(METRICS_NAMESPACE, f"chunks_{stage}") for stage in ("infer", "write")}
_ROWS_READ = Metrics.counter(METRICS_NAMESPACE, "rows_read")


def _mark_progress(config: JobConfig, stage: str, chunk: Chunk, rows: int) -> None:
    """Counts a finished chunk: a Beam metric (every runner) and, for a local work dir, a marker file that the
    driver's progress bar counts while the job runs."""
    _CHUNKS_DONE[stage].inc()
    if stage == "write":
        _ROWS_READ.inc(rows)
    if not config.progress_markers:
        return
    try:
        directory = os.path.join(config.work_dir, PROGRESS_DIR, stage)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"{chunk.file_index:05d}-{chunk.chunk_index:05d}"), "w") as handle:
            handle.write(str(rows))
    except OSError:
        pass


class InferChunk(beam.DoFn):
    """Pass 1: per-column type evidence of one chunk."""

    def __init__(self, config: JobConfig):
        self.config = config

    def process(self, chunk: Chunk):
        batch = read_chunk(chunk, self.config.csv)
        evidence = evidence_of_batch(batch.columns, self.config.validation, chunk.file_index, chunk.chunk_index)
        _mark_progress(self.config, "infer", chunk, batch.num_rows_read)
        yield None, (evidence, len(batch.row_numbers))


class MergeEvidence(beam.CombineFn):
    def create_accumulator(self):
        return {}, 0

    def add_input(self, accumulator, element):
        return merge_evidence(accumulator[0], element[0]), accumulator[1] + element[1]

    def merge_accumulators(self, accumulators):
        merged, rows = {}, 0
        for evidence, count in accumulators:
            merged = merge_evidence(merged, evidence)
            rows += count
        return merged, rows

    def extract_output(self, accumulator):
        return accumulator


def _write_schema_from_evidence(keyed, config: JobConfig) -> int:
    """Decides the schema from the merged evidence and writes it to the work dir."""
    from tfpipe.pipelines.schema import write_schema
    from tfpipe.pipelines.schema_inference import schema_from_evidence

    _, (evidence, rows) = keyed
    schema = schema_from_evidence(evidence, rows, required=(config.label,) if config.label else ())
    write_schema(schema, storage.join(config.work_dir, SCHEMA_FILE))
    return len(schema.feature)


def build_infer_pipeline(pipeline, chunks: Sequence[Chunk], config: JobConfig):
    """Pass 1: reads every chunk once and writes ``WORK/schema.pbtxt``."""
    return (pipeline
            | "Chunks" >> beam.Create(list(chunks), reshuffle=True)
            | "Evidence" >> beam.ParDo(InferChunk(config))
            | "MergeEvidence" >> beam.CombinePerKey(MergeEvidence())
            | "WriteSchema" >> beam.Map(_write_schema_from_evidence, config))


def job_rules(schema_bytes: bytes, label: Optional[str]) -> tuple:
    """The rules workers enforce: the schema's, with the label always required."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    from tfpipe.pipelines.schema import rules_from_schema

    rules = rules_from_schema(schema_pb2.Schema.FromString(schema_bytes))
    return tuple(dataclasses.replace(rule, required=True) if rule.name == label else rule for rule in rules)


class ProcessChunk(beam.DoFn):
    """Pass 2: read → validate → encode → write one chunk's pieces.

    Emits keyed elements, all grouped by one ``GroupByKey`` (see :class:`FinishGroup`): ``(("piece", split,
    shard), info)`` per piece, ``(("stats", split, *group), (order, accumulator))`` per split, one
    ``(("file", file), counts)`` and, under a ``sampled`` schema (whose relaxed rules it enforces), one
    ``(("evidence", *group), (order, (evidence, rows)))``; rejected rows go to the chunk's JSON-lines piece, numbered by line within the chunk.
    """

    def __init__(self, config: JobConfig, schema_bytes: bytes, sampled: bool = False):
        self.config, self.schema_bytes, self.sampled = config, schema_bytes, sampled

    def setup(self):
        rules = job_rules(self.schema_bytes, self.config.label)
        self._rules: Sequence[FeatureRule] = relaxed_rules(rules, self.config.label) if self.sampled else rules

    def process(self, chunk: Chunk):
        config = self.config
        batch = read_chunk(chunk, config.csv)
        if self.sampled:    # the evidence the full schema is decided from (what the inference pass would see)
            evidence = evidence_of_batch(batch.columns, config.validation, chunk.file_index, chunk.chunk_index)
            yield ("evidence", *_group(chunk)), (chunk.order_key, (evidence, len(batch.row_numbers)))
        rejects = [(number, text, reason, None) for number, text, reason in batch.structural]
        written = {}
        if len(batch.row_numbers):
            result = validate_batch(batch.columns, self._rules, config.validation)
            bad = np.flatnonzero(result.rejected)
            for index in bad:
                field, reason = result.reason(int(index))
                number = int(batch.row_numbers[index])
                rejects.append((batch.line_of(number), batch.raw_text(number), reason, field))
            valid = np.flatnonzero(~result.rejected)
            if valid.size:
                kept = result.columns if bad.size == 0 else take_rows(result.columns, valid)   # no copy if all valid
                written = yield from self._route(chunk, kept)
        reject_piece = None
        if rejects:
            rejects.sort(key=lambda item: item[0])
            reject_piece = config.reject_piece_path(chunk)
            storage.write_text(reject_piece, "".join(
                json.dumps({"local": local, "field": field, "reason": reason, "raw": raw}, ensure_ascii=False) + "\n"
                for local, raw, reason, field in rejects))
        _mark_progress(config, "write", chunk, batch.num_rows_read)
        yield ("file", chunk.file_index), {
            "file": chunk.file_index, "chunk": chunk.chunk_index, "source": chunk.path, "first_row": chunk.first_row,
            "lines": batch.line_count, "read": batch.num_rows_read, "blank_lines": batch.blank_lines,
            "written": written, "rejected": len(rejects), "reject_piece": reject_piece}

    def _route(self, chunk: Chunk, columns: dict):
        config, rules = self.config, self._rules
        examples = encode_examples([(rule.name, rule.kind, columns[rule.name]) for rule in rules])
        crcs = record_crcs(examples)
        hashes = row_hashes(columns, config.key_columns, crcs)
        names = config.split_names
        if chunk.split is not None:
            split_index = np.full(len(examples), names.index(chunk.split))
        else:
            split_index = assign_splits(hashes, config.splits)
        kinds = {rule.name: rule.kind for rule in rules}
        written = {}
        # One permutation puts the rows in (split, shard) order; every group is then a zero-copy slice.
        shard_index = np.zeros(len(examples), np.int64)
        for index in np.unique(split_index):
            rows = split_index == index
            shard_index[rows] = assign_shards(hashes[rows], config.num_shards[names[int(index)]])
        order = np.lexsort((np.arange(len(examples)), shard_index, split_index))
        permutation = pa.array(order)
        examples, crcs = examples.take(permutation), crcs[order]
        columns = {name: array.take(permutation) for name, array in columns.items()}
        split_index, shard_index = split_index[order], shard_index[order]
        split_bounds = np.flatnonzero(np.diff(split_index)) + 1
        for start, end in zip(np.r_[0, split_bounds], np.r_[split_bounds, len(order)]):
            split = names[int(split_index[start])]
            stats = DatasetStatsAccumulator(split)
            stats.add_batch({name: array.slice(start, end - start) for name, array in columns.items()}, kinds)
            yield ("stats", split, *_group(chunk)), (chunk.order_key, stats)
            shard_bounds = np.flatnonzero(np.diff(shard_index[start:end])) + 1 + start
            for low, high in zip(np.r_[start, shard_bounds], np.r_[shard_bounds, end]):
                shard = int(shard_index[low])
                path = config.piece_path(split, shard, chunk)
                count, size = write_tfrecords(path, examples.slice(low, high - low), crcs=crcs[low:high])
                yield ("piece", split, shard), {"order": chunk.order_key, "path": path, "records": count,
                                                "bytes": size}
            written[split] = int(end - start)
        return written


class _Counting:
    """Counts the bytes written through it (the size of a gzip shard, without asking the store)."""

    def __init__(self, target):
        self.target, self.count = target, 0

    def write(self, data):
        self.count += len(data)
        return self.target.write(data)

    def flush(self):
        pass


def write_shard(config: JobConfig, split: str, shard: int, pieces) -> dict:
    """Writes one shard by concatenating, in input order, the pieces the chunks wrote for it.

    TFRecord files concatenate into a valid TFRecord file, so rows never travel through the runner's
    shuffle: only the pieces' paths do. How pieces become a shard depends on the store: local files are
    linked (one piece) or copied in the kernel; on object stores one piece is a server-side copy, several are
    streamed into one new object. GZIP shards are one gzip stream (zero timestamp) over the pieces, streamed.
    The pieces are left for the driver to delete, so a retried bundle finds them again.
    """
    pieces = sorted((piece for piece in pieces if piece is not None), key=lambda piece: tuple(piece["order"]))
    sources = [piece["path"] for piece in pieces]
    path = config.shard_path(split, shard)
    if config.compression == "gzip":
        with storage.create(path) as raw:
            counting = _Counting(raw)
            with gzip.GzipFile(fileobj=counting, mode="wb", mtime=0, filename="") as stream:
                for source in sources:
                    with storage.open_read(source) as handle:
                        storage.copy_stream(handle, stream)
        size = counting.count
    else:
        _assemble(sources, path)
        size = sum(piece["bytes"] for piece in pieces)
    return {"split": split, "shard": shard, "records": sum(piece["records"] for piece in pieces), "bytes": size,
            "path": storage.basename(path)}


def _assemble(sources: Sequence[str], target: str) -> None:
    """``target`` = the ``sources`` concatenated, by the cheapest means the store has."""
    if not storage.is_local(target):
        if len(sources) == 1:
            storage.copy(sources[0], target)
            return
        with storage.create(target) as out:
            for source in sources:
                with storage.open_read(source) as handle:
                    storage.copy_stream(handle, out)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.lexists(target):
        os.remove(target)    # a retried bundle
    if len(sources) == 1:
        try:
            os.link(sources[0], target)
            return
        except OSError:
            pass
    _concatenate(sources, target)


def _concatenate(sources: Sequence[str], target: str) -> None:
    """Appends the local files to ``target`` in order, copying in the kernel where the OS allows."""
    with open(target, "wb") as out:
        for source in sources:
            with open(source, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                copied = 0
                try:
                    while copied < size:
                        sent = os.copy_file_range(handle.fileno(), out.fileno(), size - copied)
                        if sent == 0:
                            break
                        copied += sent
                except (AttributeError, OSError):
                    handle.seek(copied)
                    out.seek(0, os.SEEK_END)
                    shutil.copyfileobj(handle, out, 16 << 20)


def write_rejected(config: JobConfig, file_index: int, chunks: list) -> Optional[dict]:
    """The rejected rows of one input file: its chunks' pieces in order, renumbered to the file's line numbers
    (None: the file has none).

    The pieces are streamed line by line; only the per-chunk counts are held.
    """
    chunks = sorted(chunks, key=lambda count: count["chunk"])
    if not any(count["reject_piece"] for count in chunks):
        return None
    relative = config.rejected_path(file_index)
    rows = 0
    with storage.create(storage.join(config.work_dir, *relative.split("/"))) as out:
        lines_before = 0
        for count in chunks:
            if count["reject_piece"]:
                with storage.text_reader(count["reject_piece"]) as handle:
                    for line in handle:
                        piece = json.loads(line)
                        record = {"source": count["source"],
                                  "row": count["first_row"] + lines_before + piece["local"] - 1,
                                  "field": piece["field"], "reason": piece["reason"], "raw": piece["raw"]}
                        out.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
                        rows += 1
            lines_before += count["lines"]
    return {"file": file_index, "path": relative, "rows": rows}


STATS_FAN_IN = 64   # chunks per group: statistics and evidence are merged per group first, then the groups


def _group(chunk: Chunk) -> tuple:
    """The merge group of a chunk's statistics and evidence (the first level of a two-level merge tree: no
    worker holds more than STATS_FAN_IN chunks' accumulators, the summary one per group)."""
    return chunk.file_index, chunk.chunk_index // STATS_FAN_IN


def _merged_in_order(items):
    """Merges ``(order, accumulator)`` items in ``order``: floating-point sums and sketches then come out the same
    on every runner (a CombineFn merges in whatever order the runner picks, which changed the last digits)."""
    merged = None
    for _, accumulator in sorted(items, key=lambda item: tuple(item[0])):
        merged = accumulator if merged is None else merged.merge(accumulator)
    return merged


def _merged_evidence(items) -> tuple:
    """Merges ``(order, (evidence, rows))`` items; the result does not depend on the order (sums, minimum
    positions, set unions)."""
    merged, rows = {}, 0
    for _, (evidence, count) in items:
        merged = merge_evidence(merged, evidence)
        rows += count
    return merged, rows


class FinishGroup(beam.DoFn):
    """Does what one key of the job's single ``GroupByKey`` needs once every chunk is done, emitting
    ``(kind, value)`` for the summary:

    - ``("piece", split, shard)``: writes the shard from its pieces → ``("shard", info)``;
    - ``("stats", split, *group)``: merges the group's statistics in input order → ``("stats", (split, group,
      accumulator))``;
    - ``("file", file)``: writes the file's rejected rows → ``("rejected", info)`` and its chunks' counts →
      ``("chunk", counts)`` each;
    - ``("evidence", *group)``: merges the group's evidence → ``("evidence", (group, (evidence, rows)))``.

    One grouping step instead of one per kind: on the DaskRunner each ``GroupByKey`` is a task-based shuffle over
    every chunk's partition, and seven of them in a row made most of the job's tail after the last chunk.
    """

    def __init__(self, config: JobConfig):
        self.config = config

    def process(self, keyed):
        key, values = keyed
        kind = key[0]
        if kind == "piece":
            yield "shard", write_shard(self.config, key[1], key[2], values)
        elif kind == "stats":
            yield "stats", (key[1], key[2:], _merged_in_order(values))
        elif kind == "file":
            counts = list(values)
            rejected = write_rejected(self.config, key[1], counts)
            if rejected is not None:
                yield "rejected", rejected
            for count in counts:
                yield "chunk", count
        elif kind == "evidence":
            yield "evidence", (key[1:], _merged_evidence(values))
        else:
            raise ValueError(f"unknown key {key!r}")


class WriteSummary(beam.DoFn):
    """Writes the statistics (each split's groups merged in input order) and the summary the driver checks
    (shards, per-chunk counts, rejected files), and under a sampled schema the full schema, from the merged
    evidence."""

    def __init__(self, config: JobConfig, schema_bytes: bytes):
        self.config, self.schema_bytes = config, schema_bytes

    def process(self, keyed):
        from google.protobuf import text_format
        from tensorflow_metadata.proto.v0 import statistics_pb2

        config = self.config
        _, items = keyed
        by_kind: dict = {"shard": [], "stats": [], "rejected": [], "chunk": [], "evidence": []}
        for kind, value in items:
            by_kind[kind].append(value)
        if by_kind["evidence"]:
            _write_schema_from_evidence((None, _merged_evidence(by_kind["evidence"])), config)
        groups: dict = {}
        for split, group, accumulator in by_kind["stats"]:
            groups.setdefault(split, []).append((group, accumulator))
        statistics = statistics_pb2.DatasetFeatureStatisticsList()
        order = [rule.name for rule in job_rules(self.schema_bytes, config.label)]
        for split in config.split_names:
            accumulator = _merged_in_order(groups.get(split, ())) or DatasetStatsAccumulator(split)
            statistics.datasets.append(accumulator.to_proto(order))
        storage.write_text(storage.join(config.work_dir, STATISTICS_FILE), text_format.MessageToString(statistics))
        counts = sorted(by_kind["chunk"], key=lambda c: (c["file"], c["chunk"]))
        rejected_files = sorted(by_kind["rejected"], key=lambda r: r["file"])
        summary = {"shards": sorted(by_kind["shard"], key=lambda s: (s["split"], s["shard"])),
                   "counts": [{key: value for key, value in count.items() if key != "reject_piece"}
                              for count in counts],
                   "rejected": sum(count["rejected"] for count in counts),
                   "rejected_in_files": sum(item["rows"] for item in rejected_files),
                   "rejected_files": [item["path"] for item in rejected_files]}
        storage.write_text(storage.join(config.work_dir, SUMMARY_FILE), json.dumps(summary))
        yield summary["rejected"]


def build_write_pipeline(pipeline, chunks: Sequence[Chunk], config: JobConfig, schema_bytes: bytes,
                         sampled: bool = False):
    """Validates, encodes and writes every chunk; shards, rejected rows, statistics and ``_summary.json`` land
    under ``config.work_dir``. With ``sampled``, ``schema_bytes`` is a sample's schema, of which the job
    enforces the relaxed rules, and the full schema is written to ``WORK/schema.pbtxt`` too.

    Two grouping steps in all: every chunk's keyed outputs (and an empty entry per shard, so that a shard no
    row falls into is still written) → :class:`FinishGroup` per key → everything to one :class:`WriteSummary`.
    """
    processed = (pipeline
                 | "Chunks" >> beam.Create(list(chunks), reshuffle=True)
                 | "Process" >> beam.ParDo(ProcessChunk(config, schema_bytes, sampled)))
    every_shard = [(("piece", split, shard), None) for split in config.split_names
                   for shard in range(config.num_shards[split])]
    return ((processed, pipeline | "EveryShard" >> beam.Create(every_shard))
            | "WithEmptyShards" >> beam.Flatten()
            | "GroupByKind" >> beam.GroupByKey()
            | "Finish" >> beam.ParDo(FinishGroup(config))
            | "Together" >> beam.Map(lambda item: (None, item))
            | "Gather" >> beam.GroupByKey()
            | "WriteSummary" >> beam.ParDo(WriteSummary(config, schema_bytes)))
