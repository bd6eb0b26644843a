"""The Beam pipeline of ``tfpipe preprocess``: schema inference (pass 1) then validate → encode → write (pass 2).

Elements are whole chunks and Arrow arrays, never single rows, so the per-element cost of a runner does not
scale with the row count. Results that the driver needs (shard sizes, statistics, rejected rows, counts)
are written by the pipeline itself into the job's work directory, so any runner with access to that
directory works.

Example::

    >>> config = JobConfig(work_dir="/tmp/work", label="income", splits=(("train", 1.0),), num_shards={"train": 1})
    >>> with beam.Pipeline(options=options) as pipeline:
    ...     build_pipeline(pipeline, chunks, config)
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from typing import Optional, Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.pvalue import AsList, AsSingleton, TaggedOutput

from tfpipe.pipelines.example_encoder import encode_examples
from tfpipe.pipelines.readers import CsvOptions, read_chunk
from tfpipe.pipelines.schema import FeatureRule
from tfpipe.pipelines.schema_inference import evidence_of_batch, merge_evidence
from tfpipe.pipelines.sources import Chunk
from tfpipe.pipelines.splitting import assign_shards, assign_splits, row_hashes
from tfpipe.pipelines.statistics import DatasetStatsAccumulator
from tfpipe.pipelines.tfrecord import gzip_bytes, record_crcs, write_tfrecords
from tfpipe.pipelines.validation import ValidationOptions, take_rows, validate_batch

SUMMARY_FILE = "_summary.json"
SCHEMA_FILE = "schema.pbtxt"
PROGRESS_DIR = "_progress"
PIECES_DIR = "_pieces"


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
    report_progress: bool = True

    @property
    def split_names(self) -> list[str]:
        return [name for name, _ in self.splits]

    def piece_path(self, split: str, shard: int, chunk: Chunk) -> str:
        """Where a chunk writes its rows of one shard, before the shard is assembled."""
        return os.path.join(self.work_dir, PIECES_DIR, f"{split}-{shard:05d}-{chunk.file_index:05d}-"
                                                       f"{chunk.chunk_index:05d}.tfrecord")

    def shard_path(self, split: str, shard: int) -> str:
        count = self.num_shards[split]
        name = f"{self.dataset_name}-{split}.tfrecord-{shard:05d}-of-{count:05d}"
        return os.path.join(self.work_dir, self.tfds_subdir, name)


def _mark_progress(work_dir: str, stage: str, chunk: Chunk, rows: int) -> None:
    """Leaves a marker the driver's progress bar counts (local runners; harmless elsewhere)."""
    try:
        directory = os.path.join(work_dir, PROGRESS_DIR, stage)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"{chunk.file_index:05d}-{chunk.chunk_index:05d}"), "w") as handle:
            handle.write(str(rows))
    except OSError:
        pass


class InferChunk(beam.DoFn):
    """Pass 1: per-column type evidence of one chunk."""

    def __init__(self, validation: ValidationOptions, csv: CsvOptions, work_dir: str):
        self.validation, self.csv, self.work_dir = validation, csv, work_dir

    def process(self, chunk: Chunk):
        batch = read_chunk(chunk, self.csv)
        evidence = evidence_of_batch(batch.columns, self.validation, chunk.file_index, chunk.chunk_index)
        _mark_progress(self.work_dir, "infer", chunk, batch.num_rows_read)
        yield evidence, len(batch.row_numbers)


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


def _schema_from_evidence(merged, config: "JobConfig"):
    """Decides the schema from the merged evidence and writes it; returns it serialized."""
    from tfpipe.pipelines.schema import write_schema
    from tfpipe.pipelines.schema_inference import schema_from_evidence

    evidence, rows = merged
    schema = schema_from_evidence(evidence, rows, required=(config.label,) if config.label else ())
    write_schema(schema, os.path.join(config.work_dir, SCHEMA_FILE))
    return schema.SerializeToString()


def job_rules(schema_bytes: bytes, label: Optional[str]) -> tuple:
    """The rules workers enforce: the schema's, with the label always required."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    from tfpipe.pipelines.schema import rules_from_schema

    rules = rules_from_schema(schema_pb2.Schema.FromString(schema_bytes))
    return tuple(dataclasses.replace(rule, required=True) if rule.name == label else rule for rule in rules)


class ProcessChunk(beam.DoFn):
    """Pass 2: read → validate → encode → route one chunk; rows go out as Arrow arrays per (split, shard)."""

    def __init__(self, config: JobConfig):
        self.config = config

    def setup(self):
        self._rules = {}

    def process(self, chunk: Chunk, schema_bytes: bytes):
        config = self.config
        if schema_bytes not in self._rules:
            self._rules = {schema_bytes: job_rules(schema_bytes, config.label)}
        rules: Sequence[FeatureRule] = self._rules[schema_bytes]
        batch = read_chunk(chunk, config.csv)
        rejects = [(number, text, reason, None) for number, text, reason in batch.structural]
        written = {}
        if len(batch.row_numbers):
            result = validate_batch(batch.columns, rules, config.validation)
            bad = np.flatnonzero(result.rejected)
            if bad.size:
                for index in bad:
                    field, reason = result.reason(int(index))
                    number = int(batch.row_numbers[index])
                    rejects.append((batch.line_of(number), batch.raw_text(number), reason, field))
            valid = np.flatnonzero(~result.rejected)
            if valid.size:
                written = yield from self._route(chunk, rules, take_rows(result.columns, valid))
        _mark_progress(config.work_dir, "write", chunk, batch.num_rows_read)
        yield TaggedOutput("rejects", (chunk.file_index, chunk.chunk_index, chunk.path, chunk.first_row, rejects))
        yield TaggedOutput("counts", {
            "file": chunk.file_index, "chunk": chunk.chunk_index, "lines": batch.line_count,
            "read": batch.num_rows_read, "blank_lines": batch.blank_lines, "written": written,
            "rejected": len(rejects)})

    def _route(self, chunk: Chunk, rules: Sequence[FeatureRule], columns: dict):
        config = self.config
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
            yield TaggedOutput("stats", (split, stats))
            shard_bounds = np.flatnonzero(np.diff(shard_index[start:end])) + 1 + start
            for low, high in zip(np.r_[start, shard_bounds], np.r_[shard_bounds, end]):
                shard = int(shard_index[low])
                path = config.piece_path(split, shard, chunk)
                count, size = write_tfrecords(path, examples.slice(low, high - low), crcs=crcs[low:high])
                yield (split, shard), {"order": chunk.order_key, "path": path, "records": count, "bytes": size}
            written[split] = int(end - start)
        return written


class WriteShard(beam.DoFn):
    """Writes one shard by concatenating, in input order, the pieces the chunks wrote for it.

    TFRecord files concatenate into a valid TFRecord file, so rows never travel through the runner's
    shuffle: only the pieces' paths do.
    """

    def __init__(self, config: JobConfig):
        self.config = config

    def process(self, keyed):
        (split, shard), pieces = keyed
        pieces = sorted((piece for piece in pieces if piece is not None), key=lambda piece: tuple(piece["order"]))
        path = self.config.shard_path(split, shard)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if self.config.compression == "gzip":
            parts = []
            for piece in pieces:
                with open(piece["path"], "rb") as handle:
                    parts.append(handle.read())
            with open(path, "wb") as handle:
                handle.write(gzip_bytes(b"".join(parts)))
        elif len(pieces) == 1:
            os.replace(pieces[0]["path"], path)
        else:
            _concatenate([piece["path"] for piece in pieces], path)
        for piece in pieces:
            if os.path.exists(piece["path"]):
                os.remove(piece["path"])
        if not pieces:
            open(path, "wb").close()
        yield {"split": split, "shard": shard, "records": sum(piece["records"] for piece in pieces),
               "bytes": os.path.getsize(path), "path": os.path.basename(path)}


def _concatenate(sources: Sequence[str], target: str) -> None:
    """Appends the files to ``target`` in order, copying in the kernel where the OS allows."""
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


class MergeStats(beam.CombineFn):
    def create_accumulator(self):
        return None

    def add_input(self, accumulator, element):
        return element if accumulator is None else accumulator.merge(element)

    def merge_accumulators(self, accumulators):
        merged = None
        for accumulator in accumulators:
            if accumulator is not None:
                merged = accumulator if merged is None else merged.merge(accumulator)
        return merged

    def extract_output(self, accumulator):
        return accumulator


class WriteSummary(beam.DoFn):
    """Writes rejected rows (with file line numbers), statistics and the counts the driver checks."""

    def __init__(self, config: JobConfig):
        self.config = config

    def process(self, _, schema_bytes, shards, stats, rejects, counts):
        from google.protobuf import text_format
        from tensorflow_metadata.proto.v0 import statistics_pb2

        config = self.config
        lines_before = _lines_before(counts)
        records = []
        for file_index, chunk_index, path, first_row, rows in rejects:
            offset = lines_before[(file_index, chunk_index)]
            for local, raw, reason, field in rows:
                row = first_row + offset + local - 1
                records.append((file_index, row, {"source": path, "row": row, "field": field, "reason": reason,
                                                  "raw": raw}))
        records.sort(key=lambda item: (item[0], item[1]))
        with open(os.path.join(config.work_dir, "rejected.jsonl"), "w", encoding="utf-8") as handle:
            for _, _, record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        by_split = {split: accumulator for split, accumulator in stats}
        statistics = statistics_pb2.DatasetFeatureStatisticsList()
        order = [rule.name for rule in job_rules(schema_bytes, config.label)]
        for split in config.split_names:
            accumulator = by_split.get(split) or DatasetStatsAccumulator(split)
            statistics.datasets.append(accumulator.to_proto(order))
        with open(os.path.join(config.work_dir, "statistics.pbtxt"), "w", encoding="utf-8") as handle:
            handle.write(text_format.MessageToString(statistics))
        summary = {"shards": sorted(shards, key=lambda s: (s["split"], s["shard"])),
                   "counts": sorted(counts, key=lambda c: (c["file"], c["chunk"])),
                   "rejected": len(records)}
        with open(os.path.join(config.work_dir, SUMMARY_FILE), "w", encoding="utf-8") as handle:
            json.dump(summary, handle)
        yield summary["rejected"]


def _lines_before(counts) -> dict:
    """(file, chunk) → number of lines in the earlier chunks of the same file."""
    before, running = {}, {}
    for count in sorted(counts, key=lambda c: (c["file"], c["chunk"])):
        before[(count["file"], count["chunk"])] = running.get(count["file"], 0)
        running[count["file"]] = running.get(count["file"], 0) + count["lines"]
    return before


def build_pipeline(pipeline, chunks: Sequence[Chunk], config: JobConfig, schema=None):
    """The whole job as one pipeline: infer the schema (unless given), then validate, encode and write.

    Shards, statistics, the schema, rejected rows and a summary all land under ``config.work_dir``.
    """
    chunk_pcoll = pipeline | "Chunks" >> beam.Create(list(chunks), reshuffle=True)
    if schema is None:
        schema_pcoll = (chunk_pcoll
                        | "Evidence" >> beam.ParDo(InferChunk(config.validation, config.csv, config.work_dir))
                        | "MergeEvidence" >> beam.CombineGlobally(MergeEvidence())
                        | "DecideSchema" >> beam.Map(_schema_from_evidence, config))
    else:
        schema_pcoll = pipeline | "GivenSchema" >> beam.Create([schema.SerializeToString()])
    schema_side = AsSingleton(schema_pcoll)
    processed = (chunk_pcoll
                 | "Process" >> beam.ParDo(ProcessChunk(config), schema_side).with_outputs(
                     "rejects", "counts", "stats", main="rows"))
    every_shard = [((split, shard), None) for split in config.split_names
                   for shard in range(config.num_shards[split])]
    shards = ((processed.rows, pipeline | "EveryShard" >> beam.Create(every_shard))
              | "WithEmptyShards" >> beam.Flatten()
              | "GroupShards" >> beam.GroupByKey()
              | "WriteShards" >> beam.ParDo(WriteShard(config)))
    stats = processed.stats | "MergeStats" >> beam.CombinePerKey(MergeStats())
    return (pipeline
            | "Once" >> beam.Create([None])
            | "WriteSummary" >> beam.ParDo(WriteSummary(config), schema_side, AsList(shards), AsList(stats),
                                           AsList(processed.rejects), AsList(processed.counts)))
