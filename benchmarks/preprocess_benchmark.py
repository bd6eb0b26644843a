"""Benchmark: ``tfpipe preprocess`` vs a naive per-row Beam pipeline, on >= 1M Adult-shaped rows.

Both run in this process's machine on the same DirectRunner (multi-processing, one worker per core) over the
same CSV, resampled with a fixed seed from the bundled UCI Adult training file.

(a) naive: ReadFromText -> split the line -> dict -> tf.train.Example per row -> WriteToTFRecord
(b) tfpipe preprocess: schema inference pass + validation + statistics + TFDS shards + rejected output

Prints rows/s of both and the ratio (b)/(a). Goal on 2 cores: (b) >= 100k rows/s and >= 10x (a).

    $ python benchmarks/preprocess_benchmark.py --rows 1000000
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from tfpipe.demo import ADULT_COLUMNS, ADULT_LABEL, adult_dir

INT_COLUMNS = {"age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"}


def make_rows(path: str, rows: int, seed: int = 0) -> int:
    """Writes ``rows`` lines resampled (with replacement) from adult.data; returns the file size."""
    with open(os.path.join(adult_dir(), "adult.data"), "rb") as handle:
        lines = [line for line in handle.read().split(b"\n") if line.strip()]
    picks = np.random.default_rng(seed).integers(0, len(lines), rows)
    with open(path, "wb") as handle:
        for start in range(0, rows, 100_000):
            handle.write(b"\n".join(lines[i] for i in picks[start:start + 100_000]) + b"\n")
    return os.path.getsize(path)


def _naive_example(line: str):
    import tensorflow as tf

    values = [value.strip() for value in line.split(",")]
    row = dict(zip(ADULT_COLUMNS, values))
    feature = {}
    for name, value in row.items():
        if name in INT_COLUMNS:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
        else:
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def run_naive(csv_path: str, out_dir: str, workers: int) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    options = PipelineOptions(runner="DirectRunner", direct_num_workers=workers,
                              direct_running_mode="multi_processing", default_sdk_harness_log_level="WARNING")
    with beam.Pipeline(options=options) as pipeline:
        (pipeline
         | beam.io.ReadFromText(csv_path)
         | beam.Map(_naive_example)
         | beam.io.WriteToTFRecord(os.path.join(out_dir, "naive"), num_shards=workers))


def run_tfpipe(csv_path: str, out_dir: str) -> dict:
    from tfpipe.pipelines import PreprocessOptions, run_preprocess

    return run_preprocess(PreprocessOptions(
        inputs=[csv_path], output=os.path.join(out_dir, "tfpipe"), label=ADULT_LABEL, column_names=ADULT_COLUMNS,
        split="train=0.8,eval=0.2", overwrite=True, progress=False))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    import logging

    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    workers = os.cpu_count() or 1
    workdir = args.workdir or tempfile.mkdtemp(prefix="tfpipe-bench-")
    try:
        csv_path = os.path.join(workdir, "adult_resampled.csv")
        size = make_rows(csv_path, args.rows)
        print(f"{args.rows:,} rows, {size / 1e6:.0f} MB of CSV, DirectRunner with {workers} workers", flush=True)
        start = time.perf_counter()
        manifest = run_tfpipe(csv_path, workdir)
        tfpipe_seconds = time.perf_counter() - start
        assert manifest["rows_read"] == args.rows, manifest["rows_read"]
        start = time.perf_counter()
        run_naive(csv_path, workdir, workers)
        naive_seconds = time.perf_counter() - start
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    naive_rate, tfpipe_rate = args.rows / naive_seconds, args.rows / tfpipe_seconds
    print(f"(a) naive per-row Beam pipeline: {naive_seconds:7.1f} s  {naive_rate:10,.0f} rows/s")
    print(f"(b) tfpipe preprocess          : {tfpipe_seconds:7.1f} s  {tfpipe_rate:10,.0f} rows/s "
          f"(2 passes, validation, statistics, {manifest['rows_rejected']} rejected)")
    print(f"ratio (b)/(a): {tfpipe_rate / naive_rate:.1f}x   goal: >= 10x and >= 100,000 rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
