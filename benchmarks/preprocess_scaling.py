"""Benchmark: how ``tfpipe preprocess`` scales with workers, on one machine's cores (issue 24).

The same Adult-shaped CSV (resampled with a fixed seed from the bundled UCI Adult training file, like
``preprocess_benchmark.py``) is preprocessed by

- Beam's ``DaskRunner`` on a local ``dask.distributed`` cluster of N single-threaded worker processes, and
- the ``DirectRunner`` in ``multi_processing`` mode with N workers, beside it,

for every N of ``--workers``. Each run is also made on ``--fixed-rows`` rows (1,000) at the same N: its time is
the job's fixed cost (imports, two pipelines, cluster hand-off, publishing), so that ``marginal rows/s per core``
= (rows - fixed rows) / (seconds - fixed seconds) / N is what one more row costs. Printed per run: seconds,
rows/s, rows/s per core, efficiency vs the 1-worker run of the same runner (rows/s / (N x rows/s at 1)), peak
RSS of the largest worker process (sampled every 0.2 s with psutil), and the digest of the output files (every
shard, statistics, schema, TFDS metadata; the manifest without its runner options): one digest for all rows of
a size means identical shards at every size and runner.

    $ python benchmarks/preprocess_scaling.py --rows 16000000 --workers 1,2,4,8,16 --json scaling.json

``--no-tfds-metadata`` skips the one step that needs TensorFlow (TFDS writes its ``dataset_info.json`` with
``tf.io.gfile`` on the driver, once per job, after the workers are done): for a machine without TensorFlow, such
as the lent GPU machine. The shards, statistics and schema are written as always, and digested.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from preprocess_benchmark import PeakRSS, make_rows  # noqa: E402


def digest(output: str) -> str:
    """sha256 over every output file (path and bytes); the manifest without the options that name the runner."""
    h = hashlib.sha256()
    for root, _, names in sorted(os.walk(output)):
        for name in sorted(names):
            path = os.path.join(root, name)
            data = open(path, "rb").read()
            if name == "manifest.json":
                manifest = json.loads(data)
                for key in ("options", "inputs", "created", "seconds", "timings"):
                    manifest.pop(key, None)
                data = json.dumps(manifest, sort_keys=True).encode()
            h.update(os.path.relpath(path, output).encode() + b"\0" + data)
    return h.hexdigest()[:16]


def preprocess(csv: str, output: str, runner: str, beam_args: list, num_shards: int) -> dict:
    from tfpipe.demo import adult_preprocess_options
    from tfpipe.pipelines import run_preprocess

    options = adult_preprocess_options(output, inputs=[f"train={csv}"], runner=runner, beam_args=beam_args,
                                       num_shards=num_shards, dataset_name="adult", progress=False, report=False)
    return run_preprocess(options)


def run_dask(csv: str, output: str, workers: int, num_shards: int) -> dict:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=0,
                      dashboard_address=None, host="127.0.0.1") as cluster, Client(cluster) as client:
        client.wait_for_workers(workers, timeout=120)
        pids = list(client.run(os.getpid).values())
        with PeakRSS(pids) as rss:
            began = time.perf_counter()
            manifest = preprocess(csv, output, "DaskRunner", [f"--dask_client_address={cluster.scheduler_address}"],
                                  num_shards)
            seconds = time.perf_counter() - began
    return {"seconds": seconds, "rows": manifest["rows_read"], "worker_peak_rss": rss.largest,
            "workers_rss": rss.total}


def run_direct(csv: str, output: str, workers: int, num_shards: int) -> dict:
    with PeakRSS([os.getpid()]) as rss:   # the driver and the worker processes it starts
        began = time.perf_counter()
        manifest = preprocess(csv, output, "DirectRunner", ["--direct_running_mode=multi_processing",
                                                            f"--direct_num_workers={workers}"], num_shards)
        seconds = time.perf_counter() - began
    return {"seconds": seconds, "rows": manifest["rows_read"], "worker_peak_rss": rss.largest,
            "workers_rss": rss.total}


RUNNERS = {"dask": run_dask, "direct": run_direct}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16_000_000)
    parser.add_argument("--fixed-rows", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4,8,16")
    parser.add_argument("--runners", default="dask,direct")
    parser.add_argument("--num-shards", type=int, default=16)
    parser.add_argument("--work", default=None, help="folder for the CSVs and outputs (default: a temp folder)")
    parser.add_argument("--json", default=None, help="append every result as a JSON line here")
    parser.add_argument("--no-tfds-metadata", action="store_true",
                        help="skip TFDS's metadata files (the driver's only TensorFlow step; see the docstring)")
    args = parser.parse_args(argv)
    if args.no_tfds_metadata:
        from tfpipe.pipelines import tfds_metadata

        tfds_metadata.write_tfds_metadata = lambda *args, **kwargs: None
    work = args.work or tempfile.mkdtemp(prefix="tfpipe_scaling_")
    os.makedirs(work, exist_ok=True)
    csvs = {}
    for rows in (args.fixed_rows, args.rows):
        csvs[rows] = os.path.join(work, f"adult-{rows}.csv")
        if not os.path.exists(csvs[rows]):
            began = time.perf_counter()
            size = make_rows(csvs[rows], rows)
            print(f"# {rows:,} rows, {size / 1e6:,.0f} MB CSV written in {time.perf_counter() - began:.1f} s",
                  flush=True)
    results = []
    for runner in args.runners.split(","):
        for workers in [int(n) for n in args.workers.split(",")]:
            row = {"runner": runner, "workers": workers, "cores": os.cpu_count()}
            for rows in (args.fixed_rows, args.rows):
                output = os.path.join(work, f"out-{runner}-{workers}-{rows}")
                shutil.rmtree(output, ignore_errors=True)
                measured = RUNNERS[runner](csvs[rows], output, workers, args.num_shards)
                key = "fixed" if rows == args.fixed_rows else "run"
                row[key] = {**measured, "digest": digest(output)}
                shutil.rmtree(output, ignore_errors=True)
            run, fixed = row["run"], row["fixed"]
            row["rows_per_s"] = run["rows"] / run["seconds"]
            extra = run["seconds"] - fixed["seconds"]   # <= 0 on inputs too small to tell from the fixed cost
            row["marginal_rows_per_s_per_core"] = ((run["rows"] - fixed["rows"]) / extra / workers
                                                   if extra > 0 else None)
            results.append(row)
            print(json.dumps(row), flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")
    print(table(results))
    return 0


def table(results) -> str:
    lines = ["| runner | workers | seconds | rows/s | rows/s per core | marginal rows/s per core | efficiency | "
             "fixed s | worker peak RSS | all workers RSS | shards digest |", "|" + "---|" * 11]
    base = {}
    for row in results:
        base.setdefault(row["runner"], row["rows_per_s"] if row["workers"] == 1 else None)
        one = base[row["runner"]]
        efficiency = f"{row['rows_per_s'] / (row['workers'] * one):.2f}" if one else "-"
        run, marginal = row["run"], row["marginal_rows_per_s_per_core"]
        marginal = "-" if marginal is None else f"{marginal:,.0f}"
        lines.append(f"| {row['runner']} | {row['workers']} | {run['seconds']:.1f} | {row['rows_per_s']:,.0f} | "
                     f"{row['rows_per_s'] / row['workers']:,.0f} | {marginal} | "
                     f"{efficiency} | {row['fixed']['seconds']:.1f} | {run['worker_peak_rss'] / 1e6:,.0f} MB | "
                     f"{run['workers_rss'] / 1e6:,.0f} MB | {run['digest']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
