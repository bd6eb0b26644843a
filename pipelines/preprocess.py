"""``tfpipe preprocess``: raw CSV / Parquet / JSON lines → validated ``tf.Example`` shards + statistics + schema.

One Beam pipeline that reads the data twice when no ``--schema`` is given (infer the schema, then validate /
encode / write; only the second with one). Everything is written into a temporary directory beside the output and moved into
place at the end, so a failed or interrupted job leaves no half dataset. The job checks its own books:
rows read = rows written + rows rejected, or it fails.

Example::

    >>> manifest = run_preprocess(PreprocessOptions(inputs=["train=data/adult/adult.data"], output="/tmp/adult",
    ...                                             label="income", column_names=ADULT_COLUMNS))
    >>> manifest["rows_read"] == sum(manifest["rows_written"].values()) + manifest["rows_rejected"]
    True
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import shutil
import sys
from typing import Optional, Sequence

from tfpipe.pipelines.publish import DATASET, check_replaceable, make_work_dir, publish
from tfpipe.pipelines.readers import CsvOptions
from tfpipe.pipelines.schema import FeatureRule, read_schema, rules_from_schema, write_schema
from tfpipe.pipelines.sources import DEFAULT_CHUNK_BYTES, expand_inputs, plan_chunks
from tfpipe.pipelines.splitting import parse_split_spec
from tfpipe.pipelines.validation import DEFAULT_MAX_FIELD_BYTES, DEFAULT_NULL_VALUES, ValidationOptions

TARGET_SHARD_BYTES = 64 << 20


MANIFEST_FORMAT = "tfpipe.dataset/1"   # marks a directory as written by tfpipe preprocess (see publish.py)

class PreprocessError(RuntimeError):
    """The job could not produce a dataset; the message says why and what to do."""


class TooManyRejectedRows(PreprocessError):
    """More rows were rejected than ``--max-rejected-fraction`` allows."""


@dataclasses.dataclass
class PreprocessOptions:
    """Options of one ``tfpipe preprocess`` run (the CLI flags, one to one)."""

    inputs: Sequence[str]
    output: str
    label: Optional[str] = None
    format: str = "auto"
    column_names: Optional[Sequence[str]] = None
    schema: Optional[str] = None
    split: Optional[str] = None
    key: Sequence[str] = ()
    num_shards: Optional[int] = None
    compression: str = "none"
    max_rejected_fraction: float = 0.0
    overwrite: bool = False
    runner: str = "DirectRunner"
    beam_args: Sequence[str] = ()
    delimiter: str = ","
    csv_multiline: bool = False
    null_values: Sequence[str] = DEFAULT_NULL_VALUES
    strip: bool = True
    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES
    value_maps: dict = dataclasses.field(default_factory=dict)
    dataset_name: Optional[str] = None
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    progress: bool = True
    report: bool = True          # DIR/report.html + DIR/report/*.png (pipelines/report.py)


def parse_value_maps(specs: Sequence[str]) -> dict:
    """``--value-map`` specs → ``{COL: {OLD: NEW}}``.

    A spec is ``COL:OLD=NEW[,OLD=NEW...]`` or, for values holding ``=`` or ``,``, a JSON object
    ``{"COL": {"OLD": "NEW"}}``.

    >>> parse_value_maps(['y:yes=1,no=0', '{"income": {"<=50K.": "<=50K"}}'])
    {'y': {'yes': '1', 'no': '0'}, 'income': {'<=50K.': '<=50K'}}
    """
    maps: dict = {}
    for spec in specs:
        if spec.lstrip().startswith("{"):
            try:
                parsed = json.loads(spec)
            except ValueError as error:
                raise ValueError(f"--value-map {spec!r}: invalid JSON: {error}") from None
            if not all(isinstance(v, dict) for v in parsed.values()):
                raise ValueError(f"--value-map {spec!r}: expected {{\"COLUMN\": {{\"OLD\": \"NEW\"}}}}")
            for column, pairs in parsed.items():
                maps.setdefault(column, {}).update({str(k): str(v) for k, v in pairs.items()})
            continue
        column, _, pairs = spec.partition(":")
        if not column or not pairs:
            raise ValueError(f"--value-map {spec!r}: expected COLUMN:OLD=NEW[,OLD=NEW...]")
        for pair in pairs.split(","):
            if pair.count("=") != 1:
                raise ValueError(f"--value-map {spec!r}: {pair!r} is not OLD=NEW with one '='; for values holding "
                                 f"'=' or ',' use JSON: '{{\"{column}\": {{\"OLD\": \"NEW\"}}}}'")
            old, new = pair.split("=")
            maps.setdefault(column, {})[old] = new
    return maps


def _dataset_name(options: PreprocessOptions) -> str:
    name = options.dataset_name or os.path.basename(os.path.normpath(options.output))
    name = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "dataset"
    return name if name[0].isalpha() else f"d_{name}"


def _pipeline_options(options: PreprocessOptions):
    from apache_beam.options.pipeline_options import PipelineOptions

    flags = list(options.beam_args)
    given = " ".join(flags)
    if options.runner in ("DirectRunner", "direct"):
        if "direct_num_workers" not in given:
            flags.append(f"--direct_num_workers={os.cpu_count() or 1}")
        if "direct_running_mode" not in given:
            # Threads, not processes: the work is Arrow/NumPy kernels that release the GIL, and threads
            # skip the worker start-up and the pickling of every result between processes (measured faster).
            flags.append("--direct_running_mode=multi_threading")
    if "sdk_harness_log_level" not in given:
        flags.append("--default_sdk_harness_log_level=WARNING")
    return PipelineOptions(flags=flags, runner=options.runner)


def _run_beam(options: PreprocessOptions, build, progress_dir: str, total: int, description: str) -> None:
    import apache_beam as beam

    from tfpipe.pipelines.progress import ChunkProgress

    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    # The local job service relays every worker's start-up warnings; they say nothing about the data.
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    logging.getLogger("apache_beam.options.pipeline_options").setLevel(logging.ERROR)
    if options.progress:
        print(f"[tfpipe] {description}: {total} chunk passes on {options.runner}", file=sys.stderr, flush=True)
    with ChunkProgress(progress_dir, total, description) if options.progress else _nothing():
        with beam.Pipeline(options=_pipeline_options(options)) as pipeline:
            build(pipeline)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _check_columns(schema, options: PreprocessOptions) -> list[FeatureRule]:
    rules = rules_from_schema(schema)
    names = [rule.name for rule in rules]
    for column in ([options.label] if options.label else []) + list(options.key) + list(options.value_maps):
        if column not in names:
            raise PreprocessError(f"column {column!r} is not in the schema; columns: {names}")
    if options.label:  # the label is always required
        rules = [dataclasses.replace(rule, required=True) if rule.name == options.label else rule for rule in rules]
    return rules


def _num_shards(options: PreprocessOptions, files, splits, given_splits: bool) -> dict:
    if options.num_shards:
        return {name: options.num_shards for name, _ in splits}
    sizes = {name: 0.0 for name, _ in splits}
    for file in files:
        size = os.path.getsize(file.path) * (3 if file.format == "parquet" else 1)
        if given_splits:
            sizes[file.split] += size
        else:
            for name, fraction in splits:
                sizes[name] += size * fraction
    return {name: max(1, math.ceil(size / TARGET_SHARD_BYTES)) for name, size in sizes.items()}


def _prepare_output(options: PreprocessOptions) -> tuple[str, str]:
    """Checks that ``--output`` may be written (see :mod:`tfpipe.pipelines.publish`); makes the work dir."""
    output = check_replaceable(options.output, DATASET, options.overwrite)
    return output, make_work_dir(output)


def run_preprocess(options: PreprocessOptions) -> dict:
    """Runs the whole job; returns the manifest written to ``OUTPUT/manifest.json``."""
    from tfpipe.pipelines.beam_job import PIECES_DIR, PROGRESS_DIR, SCHEMA_FILE, SUMMARY_FILE, JobConfig, build_pipeline

    if options.compression not in ("none", "gzip"):
        raise PreprocessError(f"--compression {options.compression!r}: expected none or gzip")
    if not 0.0 <= options.max_rejected_fraction <= 1.0:
        raise PreprocessError("--max-rejected-fraction must be between 0 and 1")
    files = expand_inputs(options.inputs, options.format)
    given_splits = files[0].split is not None
    if given_splits and options.split:
        raise PreprocessError("--split cannot be combined with SPLIT=PATH inputs: the inputs already name splits")
    if given_splits:
        splits = [(name, 0.0) for name in dict.fromkeys(file.split for file in files)]
    else:
        splits = parse_split_spec(options.split or "train=1")
    chunks = plan_chunks(files, options.chunk_bytes, options.column_names, options.delimiter,
                         split_text_files=not options.csv_multiline)
    validation = ValidationOptions(null_values=tuple(options.null_values), strip=options.strip,
                                   max_field_bytes=options.max_field_bytes, value_maps=dict(options.value_maps))
    csv = CsvOptions(delimiter=options.delimiter, multiline=options.csv_multiline)
    output, work_dir = _prepare_output(options)
    try:
        given_schema = read_schema(options.schema) if options.schema else None
        if given_schema is not None:
            _check_columns(given_schema, options)
            write_schema(given_schema, os.path.join(work_dir, SCHEMA_FILE))
        config = JobConfig(work_dir=work_dir, label=options.label, splits=tuple(splits),
                           num_shards=_num_shards(options, files, splits, given_splits), validation=validation,
                           csv=csv, key_columns=tuple(options.key), compression=options.compression,
                           dataset_name=_dataset_name(options))
        stage = "validating and writing" if given_schema is not None else "inferring the schema, then writing"
        passes = 1 if given_schema is not None else 2
        _run_beam(options, lambda p: build_pipeline(p, chunks, config, given_schema),
                  os.path.join(work_dir, PROGRESS_DIR), passes * len(chunks), stage)
        schema = read_schema(os.path.join(work_dir, SCHEMA_FILE))
        rules = _check_columns(schema, options)
        with open(os.path.join(work_dir, SUMMARY_FILE), encoding="utf-8") as handle:
            summary = json.load(handle)
        manifest = _manifest(options, files, config, summary)
        _check_books(manifest, summary, output, work_dir, options)
        if options.compression == "none":
            from tfpipe.pipelines.tfds_metadata import write_tfds_metadata

            shard_lengths = {name: [s["records"] for s in summary["shards"] if s["split"] == name]
                             for name, _ in splits}
            split_bytes = {name: sum(s["bytes"] for s in summary["shards"] if s["split"] == name)
                           for name, _ in splits}
            write_tfds_metadata(os.path.join(work_dir, config.tfds_subdir), config.dataset_name, rules,
                                shard_lengths, split_bytes)
        if options.report:
            from tfpipe.pipelines.report import REPORT

            manifest["report"] = REPORT
        with open(os.path.join(work_dir, "manifest.json"), "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2)
            handle.write("\n")
        if options.report:
            from tfpipe.pipelines.report import write_dataset_report

            write_dataset_report(work_dir)
        os.remove(os.path.join(work_dir, SUMMARY_FILE))
        for scratch in (PROGRESS_DIR, PIECES_DIR):  # nothing temporary in the published output
            shutil.rmtree(os.path.join(work_dir, scratch), ignore_errors=True)
        publish(work_dir, output, DATASET, options.overwrite)
        return manifest
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _manifest(options: PreprocessOptions, files, config, summary) -> dict:
    counts = summary["counts"]
    written: dict = {name: 0 for name in config.split_names}
    for count in counts:
        for split, rows in count["written"].items():
            written[split] += rows
    return {
        "format": MANIFEST_FORMAT,
        "rows_read": sum(count["read"] for count in counts),
        "rows_written": written,
        "rows_rejected": summary["rejected"],
        "blank_lines_skipped": sum(count["blank_lines"] for count in counts),
        "splits": config.split_names,
        "label": options.label,
        "key_columns": list(options.key),
        "dataset_name": config.dataset_name,
        "compression": options.compression,
        "tfds_dir": config.tfds_subdir if options.compression == "none" else None,
        "shards_dir": config.tfds_subdir,
        "shards": {name: [s["path"] for s in summary["shards"] if s["split"] == name] for name in config.split_names},
        "schema": "schema.pbtxt",
        "statistics": "statistics.pbtxt",
        "rejected": "rejected.jsonl",
        "inputs": [{"path": file.path, "format": file.format, "split": file.split} for file in files],
        "options": {
            "label": options.label, "format": options.format, "column_names": list(options.column_names or []),
            "schema": os.path.abspath(options.schema) if options.schema else None,
            "split": options.split, "key": list(options.key), "num_shards": config.num_shards,
            "compression": options.compression, "max_rejected_fraction": options.max_rejected_fraction,
            "delimiter": options.delimiter, "csv_multiline": options.csv_multiline,
            "null_values": list(options.null_values), "strip": options.strip,
            "max_field_bytes": options.max_field_bytes, "value_maps": options.value_maps,
            "chunk_bytes": options.chunk_bytes, "runner": options.runner, "beam_args": list(options.beam_args),
        },
    }


def _check_books(manifest: dict, summary: dict, output: str, work_dir: str, options: PreprocessOptions) -> None:
    written = sum(manifest["rows_written"].values())
    in_shards = sum(shard["records"] for shard in summary["shards"])
    if manifest["rows_read"] != written + manifest["rows_rejected"] or in_shards != written:
        raise PreprocessError(f"internal error, rows do not add up: read {manifest['rows_read']}, written {written} "
                              f"(shards hold {in_shards}), rejected {manifest['rows_rejected']}")
    read = manifest["rows_read"]
    fraction = manifest["rows_rejected"] / read if read else 0.0
    if fraction > options.max_rejected_fraction:
        kept = f"{output}.rejected.jsonl"
        shutil.copyfile(os.path.join(work_dir, "rejected.jsonl"), kept)
        with open(kept, encoding="utf-8") as handle:
            examples = [json.loads(line) for _, line in zip(range(3), handle)]
        shown = "\n".join(f"  {e['source']} row {e['row']}: field {e['field']!r}: {e['reason']}" for e in examples)
        raise TooManyRejectedRows(
            f"{manifest['rows_rejected']} of {read} rows rejected ({fraction:.4%}), more than "
            f"--max-rejected-fraction {options.max_rejected_fraction}; nothing was written to {output}. "
            f"The rejected rows are in {kept}; the first:\n{shown}")
