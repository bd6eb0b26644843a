"""Benchmark: ``tfpipe preprocess`` vs a naive per-row Beam pipeline, on >= 1M Adult-shaped rows, with peak memory.

All runs read the same CSV, resampled with a fixed seed from the bundled UCI Adult training file, on this machine;
each runs in its own child process while a sampler records the resident memory of that process and of every
process it starts (SDK workers):

(a) naive: ReadFromText -> split the line -> dict -> tf.train.Example per row -> WriteToTFRecord
    (DirectRunner, multi-processing, one worker per core)
(b) tfpipe preprocess on the DirectRunner (threads, one per core): schema inference pass + validation +
    statistics + TFDS shards + rejected rows (the data report is timed apart: it does not depend on the rows)
(c) tfpipe preprocess on Beam's PortableRunner: the pure-Python job service, SDK workers as separate processes
    (one per core), as a remote runner's workers would run

Prints rows/s, the ratio (b)/(a), and peak RSS per process and of the whole tree. (b) also runs once on 1,000 rows:
its time is the job's fixed cost (imports, two Beam pipelines, publishing), which splits each (b) time into fixed
+ marginal and gives the input size at which the marginal rate reaches the 300k rows/s goal overall. ``--rows 1000000,4000000``
runs every size and shows whether a worker's peak memory grows with the row count.

    $ python benchmarks/preprocess_benchmark.py --rows 1000000
    $ python benchmarks/preprocess_benchmark.py --rows 1000000,4000000 --skip naive
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

import numpy as np

from tfpipe.demo import ADULT_COLUMNS, ADULT_LABEL, adult_dir

FIXED_ROWS = 1000
GOAL_ROWS_PER_S = 300_000
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
        split="train=0.8,eval=0.2", overwrite=True, progress=False, report=False))


def run_tfpipe_portable(csv_path: str, out_dir: str, workers: int) -> dict:
    import socket
    import subprocess

    from tfpipe.pipelines import PreprocessOptions, run_preprocess

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = subprocess.Popen([sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        return run_preprocess(PreprocessOptions(
            inputs=[csv_path], output=os.path.join(out_dir, "tfpipe_portable"), label=ADULT_LABEL,
            column_names=ADULT_COLUMNS, split="train=0.8,eval=0.2", overwrite=True, progress=False, report=False,
            runner="PortableRunner", beam_args=[
                f"--job_endpoint=localhost:{port}", "--environment_type=beam:env:harness_subprocess_python:v1",
                f"--environment_config={sys.executable} -m apache_beam.runners.worker.sdk_worker_main",
                f"--direct_num_workers={workers}"]))   # the local job service runs this many SDK workers
    finally:
        service.kill()
        service.wait()


def _one(kind: str, csv_path: str, out_dir: str, workers: int) -> dict:
    """Runs one configuration in this (child) process; returns seconds and counts."""
    import logging

    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    start = time.perf_counter()
    result = {"kind": kind}
    if kind == "naive":
        run_naive(csv_path, out_dir, workers)
    elif kind == "direct":
        manifest = run_tfpipe(csv_path, out_dir)
        result.update(rows=manifest["rows_read"], rejected=manifest["rows_rejected"])
        result["seconds"] = time.perf_counter() - start
        from tfpipe.pipelines.report import write_dataset_report

        report_start = time.perf_counter()
        write_dataset_report(os.path.join(out_dir, "tfpipe"))
        result["report_seconds"] = time.perf_counter() - report_start
        return result
    elif kind == "portable":
        manifest = run_tfpipe_portable(csv_path, out_dir, workers)
        result.update(rows=manifest["rows_read"], rejected=manifest["rows_rejected"])
    result["seconds"] = time.perf_counter() - start
    return result


class PeakRSS:
    """Samples the resident memory of the given processes and their children until stopped: the peak of the
    largest single process (``largest``), of all of them together (``total``) and their most (``processes``)."""

    def __init__(self, pids, interval: float = 0.2):
        import psutil

        self.processes = [psutil.Process(pid) for pid in pids]
        self.largest = self.total = self.processes_seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval):
        import psutil

        while not self._stop.is_set():
            sizes = []
            for process in self.processes:
                try:
                    for p in [process, *process.children(recursive=True)]:
                        sizes.append(p.memory_info().rss)
                except psutil.Error:
                    continue
            if sizes:
                self.largest, self.total = max(self.largest, max(sizes)), max(self.total, sum(sizes))
                self.processes_seen = max(self.processes_seen, len(sizes))
            self._stop.wait(interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _measured(kind: str, csv_path: str, out_dir: str) -> dict:
    """Runs ``kind`` in a child process, sampling the RSS of its process tree every 0.1 s."""
    import json
    import subprocess

    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--one", kind, "--csv", csv_path,
                              "--workdir", out_dir], stdout=subprocess.PIPE, text=True)
    with PeakRSS([child.pid], interval=0.1) as peak:
        output, _ = child.communicate()
    if child.returncode:
        raise RuntimeError(f"{kind} failed with exit status {child.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    result.update(peak_process_mb=peak.largest / 2**20, peak_tree_mb=peak.total / 2**20,
                  processes=max(peak.processes_seen, 1))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000", help="row counts, comma-separated")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--skip", default="", help="comma-separated: naive, direct, portable")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    workers = os.cpu_count() or 1
    if args.one:
        import json

        print(json.dumps(_one(args.one, args.csv, args.workdir, workers)))
        return 0
    kinds = [kind for kind in ("direct", "portable", "naive") if kind not in args.skip.split(",")]
    workdir = args.workdir or tempfile.mkdtemp(prefix="tfpipe-bench-")
    labels = {"naive": "(a) naive per-row Beam pipeline", "direct": "(b) tfpipe preprocess, DirectRunner",
              "portable": "(c) tfpipe preprocess, PortableRunner"}
    try:
        fixed = None
        if "direct" in kinds:   # what a job costs whatever its size: imports, two Beam pipelines, publishing
            csv_path = os.path.join(workdir, "adult_small.csv")
            make_rows(csv_path, FIXED_ROWS)
            fixed = _measured("direct", csv_path, workdir)["seconds"]
            print(f"(b) on {FIXED_ROWS:,} rows (the fixed cost of a job): {fixed:.1f} s", flush=True)
        for rows in [int(text) for text in args.rows.split(",")]:
            csv_path = os.path.join(workdir, "adult_resampled.csv")
            size = make_rows(csv_path, rows)
            print(f"\n{rows:,} rows, {size / 1e6:.0f} MB of CSV, {workers} workers", flush=True)
            print(f"{'':40s} {'s':>7s} {'rows/s':>10s} {'peak RSS MB: max process':>25s} {'whole tree':>11s}")
            rates = {}
            for kind in kinds:
                result = _measured(kind, csv_path, workdir)
                if "rows" in result:
                    assert result["rows"] == rows, result
                rates[kind] = rows / result["seconds"]
                extra = f"  (+ report {result['report_seconds']:.1f} s)" if "report_seconds" in result else ""
                print(f"{labels[kind]:40s} {result['seconds']:7.1f} {rates[kind]:10,.0f} "
                      f"{result['peak_process_mb']:25,.0f} {result['peak_tree_mb']:11,.0f}  "
                      f"{result['processes']} processes{extra}", flush=True)
            if "naive" in rates and "direct" in rates:
                print(f"ratio (b)/(a): {rates['direct'] / rates['naive']:.1f}x   "
                      f"goal: >= 10x and >= 300,000 rows/s")
            if fixed is not None and "direct" in rates and rows > FIXED_ROWS:
                marginal = (rows - FIXED_ROWS) / (rows / rates["direct"] - fixed)
                needed = (f"{fixed * GOAL_ROWS_PER_S * marginal / (marginal - GOAL_ROWS_PER_S):,.0f} rows"
                          if marginal > GOAL_ROWS_PER_S else "never (the marginal rate is below it)")
                print(f"(b) = {fixed:.1f} s fixed + rows at {marginal:,.0f} rows/s marginal; "
                      f"{GOAL_ROWS_PER_S:,} rows/s overall needs: {needed}", flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
