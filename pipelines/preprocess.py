"""``tfpipe preprocess``: raw CSV / Parquet / JSON lines → validated ``tf.Example`` shards + statistics + schema.

One Beam pipeline (validate / encode / write; without ``--schema`` it infers the schema in the same pass from
the evidence of every chunk, see "One pass" in :mod:`tfpipe.pipelines.schema_inference`), on any runner, with inputs and ``--output`` on any store Beam's FileSystems handle
(:mod:`tfpipe.pipelines.storage`). Everything is written into a temporary sibling of the output and published
at the end (:mod:`tfpipe.pipelines.publish`; on object stores ``manifest.json`` is written last and is the
commit marker), so a failed or interrupted job leaves no half dataset. The job checks its own books:
rows read = rows written + rows rejected, or it fails.

Example::

    >>> import tempfile
    >>> from tfpipe.demo import adult_preprocess_options
    >>> manifest = run_preprocess(adult_preprocess_options(os.path.join(tempfile.mkdtemp(), "adult"),
    ...                                                    progress=False, report=False))
    >>> manifest["rows_read"] == sum(manifest["rows_written"].values()) + manifest["rows_rejected"]
    True
    >>> manifest["rows_rejected"], manifest["rejected_files"]     # one line of adult.test has no fields
    (1, ['rejected/rejected-00001.jsonl'])
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import sys
import tempfile
from typing import Optional, Sequence

from tfpipe.pipelines import storage
from tfpipe.pipelines.errors import TfpipeError
from tfpipe.pipelines.preprocessed import MANIFEST_FORMAT, write_manifest
from tfpipe.pipelines.publish import DATASET, check_replaceable, clean_stale_work_dirs, make_work_dir, publish
from tfpipe.pipelines.readers import CsvOptions
from tfpipe.pipelines.schema import FeatureRule, read_schema, rules_from_schema, write_schema
from tfpipe.pipelines.sources import DEFAULT_CHUNK_BYTES, expand_inputs, plan_chunks
from tfpipe.pipelines.splitting import parse_split_spec
from tfpipe.pipelines.row_checks import DEFAULT_MAX_FIELD_BYTES, DEFAULT_NULL_VALUES, ValidationOptions

TARGET_SHARD_BYTES = 64 << 20




class PreprocessError(TfpipeError, RuntimeError):
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
    infer_schema: str = "sample"  # without --schema: "sample" (one pass) or "full-pass" (an inference pass first)
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
    name = options.dataset_name or storage.basename(options.output.rstrip("/"))
    name = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "dataset"
    return name if name[0].isalpha() else f"d_{name}"


def _run_beam(options: PreprocessOptions, beam_options, build, progress_dir: Optional[str], total: int,
              description: str) -> None:
    """Runs one pipeline to the end. The progress bar counts the workers' marker files when the work dir is
    local; otherwise it would sit at 0 while the job runs, so the job says where progress is shown instead and
    prints the runner's Beam counters at the end (where the runner reports them)."""
    import apache_beam as beam

    from tfpipe.pipelines.progress import ChunkProgress

    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    # The local job service relays every worker's start-up warnings; they say nothing about the data.
    logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    runner = beam_options.get_all_options()["runner"]
    if options.progress:
        where = "" if progress_dir else " (progress: in the runner's UI; Beam counters tfpipe/chunks_write, " \
                                        "tfpipe/rows_read)"
        print(f"[tfpipe] {description}: {total} chunk passes on {runner}{where}", file=sys.stderr, flush=True)
    pipeline = beam.Pipeline(options=beam_options)
    build(pipeline)
    show = options.progress and progress_dir is not None
    with ChunkProgress(progress_dir, total, description) if show else _nothing():
        result = pipeline.run()
        try:
            state = result.wait_until_finish()
        finally:
            client = getattr(result, "client", None)   # Beam's DaskRunner opens a Dask client and leaves it open
            if client is not None:
                client.close()
    if state is not None and str(state) != "DONE":
        raise PreprocessError(f"the Beam job ended in state {state} on {runner}")
    if options.progress and progress_dir is None:
        counters = _counters(result)
        if counters:
            print(f"[tfpipe] {description}: runner reports " + ", ".join(f"{k} {v:,}" for k, v in counters.items()),
                  file=sys.stderr, flush=True)


def _counters(result) -> dict:
    """tfpipe's Beam counters as the runner reports them ({} where it does not, e.g. the DaskRunner)."""
    from apache_beam.metrics.metric import MetricsFilter

    from tfpipe.pipelines.beam_job import METRICS_NAMESPACE

    try:
        found = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]
    except Exception:   # pylint: disable=broad-except  (NotImplementedError on Dask, UNIMPLEMENTED elsewhere)
        return {}
    totals: dict = {}
    for counter in found:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + (value or 0)
    return totals


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _missing_columns(schema, options: PreprocessOptions) -> list[str]:
    """The columns the options name (label, key, value maps) that ``schema`` lacks."""
    names = {feature.name for feature in schema.feature}
    return [column for column in ([options.label] if options.label else []) + list(options.key) +
            list(options.value_maps) if column not in names]


def _check_columns(schema, options: PreprocessOptions) -> list[FeatureRule]:
    rules = rules_from_schema(schema)
    names = [rule.name for rule in rules]
    for column in _missing_columns(schema, options):
        raise PreprocessError(f"column {column!r} is not in the schema; columns: {names}")
    if options.label:  # the label is always required
        rules = [dataclasses.replace(rule, required=True) if rule.name == options.label else rule for rule in rules]
    return rules


def _num_shards(options: PreprocessOptions, files, splits, given_splits: bool) -> dict:
    if options.num_shards:
        return {name: options.num_shards for name, _ in splits}
    sizes = {name: 0.0 for name, _ in splits}
    for file in files:
        size = file.num_bytes * (3 if file.format == "parquet" else 1)
        if given_splits:
            sizes[file.split] += size
        else:
            for name, fraction in splits:
                sizes[name] += size * fraction
    return {name: max(1, math.ceil(size / TARGET_SHARD_BYTES)) for name, size in sizes.items()}


def _prepare_output(options: PreprocessOptions) -> tuple[str, str]:
    """Checks that ``--output`` may be written (see :mod:`tfpipe.pipelines.publish`); makes the work dir."""
    output = check_replaceable(options.output, DATASET, options.overwrite)
    for stale in clean_stale_work_dirs(output):
        print(f"[tfpipe] deleted {stale}, left by an earlier run that did not finish", file=sys.stderr)
    return output, make_work_dir(output)


def run_preprocess(options: PreprocessOptions) -> dict:
    """Runs the whole job; returns the manifest written to ``OUTPUT/manifest.json``."""
    from tfpipe.pipelines.beam_job import (PROGRESS_DIR, REJECTED_DIR, SCHEMA_FILE, SCRATCH_DIRS, SUMMARY_FILE,
                                           JobConfig, build_infer_pipeline, build_write_pipeline)
    from tfpipe.pipelines.schema_inference import rules_differ, sampled_schema
    from tfpipe.pipelines.runner_options import pipeline_options

    if options.infer_schema not in ("sample", "full-pass"):
        raise PreprocessError(f"--infer-schema {options.infer_schema!r}: expected sample or full-pass")
    if options.compression not in ("none", "gzip"):
        raise PreprocessError(f"--compression {options.compression!r}: expected none or gzip")
    if not 0.0 <= options.max_rejected_fraction <= 1.0:
        raise PreprocessError("--max-rejected-fraction must be between 0 and 1")
    beam_options = pipeline_options(options.runner, options.beam_args)
    storage.configure(beam_options)           # S3 endpoint / keys, GCP project, ... for the driver's own reads
    storage.check_supported(options.output)
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
    given_schema = read_schema(options.schema) if options.schema else None
    if given_schema is not None:
        _check_columns(given_schema, options)
    output, work_dir = _prepare_output(options)
    try:
        local = storage.is_local(work_dir)
        config = JobConfig(work_dir=work_dir, label=options.label, splits=tuple(splits),
                           num_shards=_num_shards(options, files, splits, given_splits), validation=validation,
                           csv=csv, key_columns=tuple(options.key), compression=options.compression,
                           dataset_name=_dataset_name(options), progress_markers=options.progress and local)
        progress_dir = storage.join(work_dir, PROGRESS_DIR) if local else None
        schema_path = storage.join(work_dir, SCHEMA_FILE)
        passes = 1
        sampled = given_schema is None and options.infer_schema == "sample"
        if given_schema is not None:
            schema = given_schema
            write_schema(schema, schema_path)
        if sampled:
            schema = sampled_schema(chunks, csv, validation, options.label)
            missing = _missing_columns(schema, options)
            if missing:   # e.g. a JSON key that first appears after the sample: the whole data decides
                print(f"[tfpipe] the sample holds no column {missing[0]!r}: inferring the schema from every row",
                      file=sys.stderr, flush=True)
                sampled = False
        if given_schema is None and not sampled:
            _run_beam(options, beam_options, lambda p: build_infer_pipeline(p, chunks, config), progress_dir,
                      len(chunks), "inferring the schema")
            schema = read_schema(schema_path)
            passes = 2
        rules = _check_columns(schema, options)

        def write(schema, sampled: bool, passes: int) -> None:
            _run_beam(options, beam_options,
                      lambda p: build_write_pipeline(p, chunks, config, schema.SerializeToString(), sampled),
                      progress_dir, len(chunks) * passes, "validating and writing")

        write(schema, sampled, passes)
        if sampled:
            full = read_schema(schema_path)
            rules = _check_columns(full, options)
            why = rules_differ(rules_from_schema(schema), rules_from_schema(full), options.label)
            if why is not None:
                print(f"[tfpipe] the schema of the sample was not the whole data's ({why}): writing again under "
                      f"the whole data's schema", file=sys.stderr, flush=True)
                for written in SCRATCH_DIRS + (config.tfds_subdir, REJECTED_DIR):    # the rest is rewritten
                    storage.delete_tree(storage.join(work_dir, written))
                write(full, False, 1)
        summary = json.loads(storage.read_text(storage.join(work_dir, SUMMARY_FILE)))
        manifest = _manifest(options, files, config, summary)
        _check_books(manifest, summary, output, work_dir, options)
        if options.compression == "none":
            _write_tfds_metadata(work_dir, config, rules, summary, [name for name, _ in splits])
        if options.report:
            from tfpipe.pipelines.report import REPORT

            manifest["report"] = REPORT
        for scratch in SCRATCH_DIRS:    # nothing temporary in the published output
            storage.delete_tree(storage.join(work_dir, scratch))
        storage.delete([storage.join(work_dir, SUMMARY_FILE)])
        write_manifest(work_dir, manifest)
        if options.report:
            from tfpipe.pipelines.report import write_dataset_report

            write_dataset_report(work_dir)
        publish(work_dir, output, DATASET, options.overwrite)
        return manifest
    finally:
        storage.delete_tree(work_dir)


def _write_tfds_metadata(work_dir: str, config, rules, summary: dict, split_names) -> None:
    """TFDS's metadata beside the shards; TFDS writes with tf.io.gfile, which has no s3://, so off local disk
    it is written to a local folder and copied up."""
    from tfpipe.pipelines.tfds_metadata import write_tfds_metadata

    shard_lengths = {name: [s["records"] for s in summary["shards"] if s["split"] == name] for name in split_names}
    split_bytes = {name: sum(s["bytes"] for s in summary["shards"] if s["split"] == name) for name in split_names}
    target = storage.join(work_dir, config.tfds_subdir)
    if storage.is_local(target):
        write_tfds_metadata(target, config.dataset_name, rules, shard_lengths, split_bytes)
        return
    with tempfile.TemporaryDirectory() as local:
        shards = {s["path"] for s in summary["shards"]}
        for name in shards:   # TFDS lists the shard files to learn their names; empty stand-ins, never read
            open(os.path.join(local, name), "wb").close()
        write_tfds_metadata(local, config.dataset_name, rules, shard_lengths, split_bytes)
        for name in sorted(set(os.listdir(local)) - shards):
            with open(os.path.join(local, name), "rb") as handle:
                storage.write_bytes(storage.join(target, name), handle.read())


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
        "rejected": "rejected",
        "rejected_files": summary["rejected_files"],
        "inputs": [{"path": file.path, "format": file.format, "split": file.split} for file in files],
        "options": {
            "label": options.label, "format": options.format, "column_names": list(options.column_names or []),
            "schema": storage.absolute(options.schema) if options.schema else None,
            "split": options.split, "key": list(options.key), "num_shards": config.num_shards,
            "compression": options.compression, "max_rejected_fraction": options.max_rejected_fraction,
            "delimiter": options.delimiter, "csv_multiline": options.csv_multiline,
            "null_values": list(options.null_values), "strip": options.strip,
            "max_field_bytes": options.max_field_bytes, "value_maps": options.value_maps,
            "chunk_bytes": options.chunk_bytes, "runner": options.runner, "beam_args": _public(options.beam_args),
        },
    }


_SECRET_FLAGS = ("secret", "password", "token", "access_key", "session")


def _public(flags: Sequence[str]) -> list[str]:
    """Beam flags as recorded in the manifest: values of credential flags are not written down."""
    public = []
    for flag in flags:
        name = flag.split("=", 1)[0].lower()
        public.append(f"{flag.split('=', 1)[0]}=***" if "=" in flag and any(w in name for w in _SECRET_FLAGS)
                      else flag)
    return public


def _check_books(manifest: dict, summary: dict, output: str, work_dir: str, options: PreprocessOptions) -> None:
    written = sum(manifest["rows_written"].values())
    in_shards = sum(shard["records"] for shard in summary["shards"])
    if (manifest["rows_read"] != written + manifest["rows_rejected"] or in_shards != written
            or summary["rejected_in_files"] != manifest["rows_rejected"]):
        raise PreprocessError(f"internal error, rows do not add up: read {manifest['rows_read']}, written {written} "
                              f"(shards hold {in_shards}), rejected {manifest['rows_rejected']} (the rejected-row "
                              f"files hold {summary['rejected_in_files']})")
    read = manifest["rows_read"]
    fraction = manifest["rows_rejected"] / read if read else 0.0
    if fraction > options.max_rejected_fraction:
        kept = f"{output}.rejected.jsonl"
        examples = []
        with storage.create(kept) as out:
            for relative in summary["rejected_files"]:
                with storage.text_reader(storage.join(work_dir, *relative.split("/"))) as handle:
                    for line in handle:
                        out.write(line.encode("utf-8"))
                        if len(examples) < 3:
                            examples.append(json.loads(line))
        shown = "\n".join(f"  {e['source']} row {e['row']}: field {e['field']!r}: {e['reason']}" for e in examples)
        raise TooManyRejectedRows(
            f"{manifest['rows_rejected']} of {read} rows rejected ({fraction:.4%}), more than "
            f"--max-rejected-fraction {options.max_rejected_fraction}; nothing was written to {output}. "
            f"The rejected rows are in {kept}; the first:\n{shown}")
