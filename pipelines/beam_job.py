"""The Beam pipelines of ``tfpipe preprocess``: schema inference (pass 1) and validate → encode → write (pass 2).

Elements are whole chunks and Arrow arrays, never single rows, so the per-element cost of a runner does not
scale with the row count. Results that the driver needs (shard sizes, statistics, rejected rows, counts)
are written by the pipeline itself into the job's work directory, so any runner with access to that
directory works.

Example::

    >>> config = JobConfig(rules=rules, work_dir="/tmp/work", splits=(("train", 1.0),), num_shards={"train": 1})
    >>> with beam.Pipeline(options=options) as pipeline:
    ...     build_write_pipeline(pipeline, chunks, config)
"""
from __future__ import annotations

import dataclasses
import json
import os
import pickle
from typing import Optional, Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.pvalue import AsList, TaggedOutput

from tfpipe.pipelines.example_encoder import encode_examples
from tfpipe.pipelines.readers import CsvOptions, read_chunk
from tfpipe.pipelines.schema import FeatureRule
from tfpipe.pipelines.schema_inference import evidence_of_batch, merge_evidence
from tfpipe.pipelines.sources import Chunk
from tfpipe.pipelines.splitting import assign_shards, assign_splits, row_hashes
from tfpipe.pipelines.statistics import DatasetStatsAccumulator
from tfpipe.pipelines.tfrecord import write_tfrecords
from tfpipe.pipelines.validation import ValidationOptions, take_rows, validate_batch

SUMMARY_FILE = "_summary.json"
EVIDENCE_FILE = "_evidence.pkl"
PROGRESS_DIR = "_progress"


@dataclasses.dataclass(frozen=True)
class JobConfig:
    """Everything a worker needs; picklable."""

    rules: tuple
    work_dir: str
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


def _write_evidence(result, work_dir: str):
    with open(os.path.join(work_dir, EVIDENCE_FILE), "wb") as handle:
        pickle.dump(result, handle)
    return result


def build_infer_pipeline(pipeline, chunks: Sequence[Chunk], validation: ValidationOptions, csv: CsvOptions,
                         work_dir: str):
    """Pass 1: writes ``(evidence by column, parsed row count)`` to ``work_dir/_evidence.pkl``."""
    return (pipeline
            | "InferChunks" >> beam.Create(list(chunks), reshuffle=True)
            | "Evidence" >> beam.ParDo(InferChunk(validation, csv, work_dir))
            | "MergeEvidence" >> beam.CombineGlobally(MergeEvidence())
            | "WriteEvidence" >> beam.Map(_write_evidence, work_dir))


class ProcessChunk(beam.DoFn):
    """Pass 2: read → validate → encode → route one chunk; rows go out as Arrow arrays per (split, shard)."""

    def __init__(self, config: JobConfig):
        self.config = config

    def process(self, chunk: Chunk):
        config = self.config
        rules: Sequence[FeatureRule] = config.rules
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
                    rejects.append((number, batch.raw_text(number), reason, field))
            valid = np.flatnonzero(~result.rejected)
            if valid.size:
                written = yield from self._route(chunk, take_rows(result.columns, valid))
        _mark_progress(config.work_dir, "write", chunk, batch.num_rows_read)
        yield TaggedOutput("rejects", (chunk.file_index, chunk.chunk_index, chunk.path, chunk.first_row, rejects))
        yield TaggedOutput("counts", {
            "file": chunk.file_index, "chunk": chunk.chunk_index, "lines": batch.line_count,
            "read": batch.num_rows_read, "blank_lines": batch.blank_lines, "written": written,
            "rejected": len(rejects)})

    def _route(self, chunk: Chunk, columns: dict):
        config = self.config
        examples = encode_examples([(rule.name, rule.kind, columns[rule.name]) for rule in config.rules])
        hashes = row_hashes(columns, config.key_columns, examples)
        names = config.split_names
        if chunk.split is not None:
            split_index = np.full(len(examples), names.index(chunk.split))
        else:
            split_index = assign_splits(hashes, config.splits)
        kinds = {rule.name: rule.kind for rule in config.rules}
        written = {}
        for index in np.unique(split_index):
            split = names[int(index)]
            rows = np.flatnonzero(split_index == index)
            stats = DatasetStatsAccumulator(split)
            stats.add_batch(take_rows(columns, rows), kinds)
            yield TaggedOutput("stats", (split, stats))
            shards = assign_shards(hashes[rows], config.num_shards[split])
            for shard in np.unique(shards):
                members = pa.array(rows[shards == shard])
                yield (split, int(shard)), (chunk.order_key, examples.take(members))
            written[split] = int(rows.size)
        return written


class WriteShard(beam.DoFn):
    """Writes one shard: the arrays of all chunks for it, in input order."""

    def __init__(self, config: JobConfig):
        self.config = config

    def process(self, keyed):
        (split, shard), parts = keyed
        parts = sorted((part for part in parts if part is not None), key=lambda part: part[0])
        arrays = [array for _, array in parts]
        records = pa.concat_arrays(arrays) if arrays else pa.array([], pa.binary())
        path = self.config.shard_path(split, shard)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        count, size = write_tfrecords(path, records, self.config.compression)
        yield {"split": split, "shard": shard, "records": count, "bytes": size, "path": os.path.basename(path)}


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

    def process(self, _, shards, stats, rejects, counts):
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
        order = [rule.name for rule in config.rules]
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


def build_write_pipeline(pipeline, chunks: Sequence[Chunk], config: JobConfig):
    """Pass 2: shards, statistics, rejected rows and the summary, all under ``config.work_dir``."""
    processed = (pipeline
                 | "Chunks" >> beam.Create(list(chunks), reshuffle=True)
                 | "Process" >> beam.ParDo(ProcessChunk(config)).with_outputs("rejects", "counts", "stats",
                                                                               main="rows"))
    every_shard = [((split, shard), None) for split in config.split_names
                   for shard in range(config.num_shards[split])]
    shards = ((processed.rows, pipeline | "EveryShard" >> beam.Create(every_shard))
              | "WithEmptyShards" >> beam.Flatten()
              | "GroupShards" >> beam.GroupByKey()
              | "WriteShards" >> beam.ParDo(WriteShard(config)))
    stats = processed.stats | "MergeStats" >> beam.CombinePerKey(MergeStats())
    return (pipeline
            | "Once" >> beam.Create([None])
            | "WriteSummary" >> beam.ParDo(WriteSummary(config), AsList(shards), AsList(stats),
                                           AsList(processed.rejects), AsList(processed.counts)))
