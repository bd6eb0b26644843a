"""``tfpipe preprocess`` command line.

Example::

    $ tfpipe preprocess --input train=data/adult/adult.data test=data/adult/adult.test --output /tmp/adult \\
        --label income --column-names age,workclass,... --value-map '{"income": {">50K.": ">50K", "<=50K.": "<=50K"}}'
"""
from __future__ import annotations

import argparse


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def register(subparsers) -> None:
    """Adds the ``preprocess`` subcommand."""
    parser = subparsers.add_parser(
        "preprocess", help="raw CSV/Parquet/JSON lines -> validated tf.Example shards + statistics + schema",
        description="Reads raw rows, checks them against a schema (inferred unless --schema), writes TFDS-readable "
                    "TFRecord shards of tf.Example, statistics and the schema, and every rejected row with its "
                    "reason. Other --flags are Beam pipeline options, spelled as Beam spells them "
                    "(e.g. --job_endpoint=localhost:8099, --s3_endpoint_url=...); unknown ones are an error.",
        allow_abbrev=False)
    parser.add_argument("--input", nargs="+", action="extend", required=True, metavar="[SPLIT=]PATH_OR_GLOB",
                        help="input files or globs, local or on a store Beam handles (s3://, gs://, ...); "
                             "SPLIT=PATH keeps the given splits; repeatable")
    parser.add_argument("--output", required=True, metavar="DIR", help="output directory (made atomically)")
    parser.add_argument("--label", help="label column (always required)")
    parser.add_argument("--format", default="auto", choices=["auto", "csv", "parquet", "jsonl"])
    parser.add_argument("--column-names", help="comma-separated CSV column names (files without a header)")
    parser.add_argument("--schema", metavar="FILE", help="tensorflow_metadata Schema (text format) to enforce")
    parser.add_argument("--infer-schema", choices=["sample", "full-pass"], default=None,
                        help="without --schema: 'sample' (default) guesses it from a sample and checks it against "
                             "the whole data in the same pass (writing again only if it was wrong); 'full-pass' "
                             "reads the data once more first")
    parser.add_argument("--split", metavar="NAME=FRACTION,...",
                        help="split rows by a hash of --key (or of the whole row), e.g. train=0.8,eval=0.2")
    parser.add_argument("--key", default="", help="comma-separated key columns for the split hash")
    parser.add_argument("--num-shards", type=int, help="shards per split (default: about one per 64 MB)")
    parser.add_argument("--compression", default="none", choices=["none", "gzip"],
                        help="gzip shards cannot be read by TFDS (tf.data can)")
    parser.add_argument("--max-rejected-fraction", type=_fraction, default=0.0,
                        help="fail if more than this fraction of rows is rejected (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    parser.add_argument("--runner", default="DirectRunner",
                        help="Beam runner: DirectRunner, PortableRunner, DaskRunner, DataflowRunner, FlinkRunner, "
                             "SparkRunner or a full class path")
    parser.add_argument("--delimiter", default=",", help="CSV field delimiter")
    parser.add_argument("--csv-multiline", action="store_true",
                        help="quoted CSV values may contain newlines (each file is then read by one worker)")
    parser.add_argument("--null-values", default=None,
                        help="comma-separated markers of a missing value (default: '',?,NA,N/A,NULL,null,None)")
    parser.add_argument("--no-strip", action="store_true", help="keep spaces around text values")
    parser.add_argument("--max-field-bytes", type=int, default=1 << 20, help="reject fields longer than this")
    parser.add_argument("--value-map", action="append", default=[], metavar="COL:OLD=NEW[,OLD=NEW] | JSON",
                        help="replace whole values of a column before validation (repeatable)")
    parser.add_argument("--dataset-name", help="TFDS dataset name (default: from --output)")
    parser.add_argument("--chunk-mb", type=int, default=16, help="size of the pieces read in parallel")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--no-report", action="store_true", help="skip DIR/report.html (and its plots)")
    parser.set_defaults(handler=run, accepts_extra_args=True)


def options_from_args(args):
    """Parsed arguments → ``PreprocessConfig`` (the flags are a view of it) →
    :class:`~tfpipe.pipelines.preprocess.PreprocessOptions`, the path ``tfpipe run`` takes too
    (:mod:`tfpipe.pipelines.preprocess_config`)."""
    from tfpipe.pipelines.preprocess_config import options_from_proto, proto_from_args

    return options_from_proto(proto_from_args(args), args.output, overwrite=args.overwrite, progress=not args.quiet)


def run(args) -> int:
    from tfpipe.pipelines.preprocess import run_preprocess

    options = options_from_args(args)      # errors: one line each, by the one policy of tfpipe.cli
    manifest = run_preprocess(options)
    written = ", ".join(f"{split} {rows:,}" for split, rows in manifest["rows_written"].items())
    rejected = f" (see {args.output.rstrip('/')}/{manifest['rejected']}/)" if manifest["rows_rejected"] else ""
    print(f"read {manifest['rows_read']:,} rows; wrote {written}; rejected {manifest['rows_rejected']:,}{rejected}")
    print(f"dataset: {args.output} (TFDS: {args.output.rstrip('/')}/{manifest['tfds_dir']})" if manifest["tfds_dir"]
          else f"dataset: {args.output}")
    return 0
