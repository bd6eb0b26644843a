"""Benchmark: how ``tfpipe preprocess`` scales with workers, on one machine's cores (issue 24).

The same Adult-shaped CSV (resampled with a fixed seed from the bundled UCI Adult training file, like
``preprocess_benchmark.py``) is preprocessed by

- Beam's ``DaskRunner`` on a local ``dask.distributed`` cluster of N single-threaded worker processes, and
- the ``DirectRunner`` in ``multi_processing`` mode with N workers, beside it,

for every N of ``--workers`` (and every ``--infer-schema`` mode: the one-pass job and the two-pass one).
Each Dask cluster first runs a 1,000-row warm-up job (its workers' imports; a cluster outlives its jobs), then
a ``--fixed-rows`` job (1,000 rows) at the same N: its time is the job's fixed cost (pipeline building, task
hand-off, publishing), so that ``marginal rows/s per core`` = (rows - fixed rows) / (seconds - fixed seconds)
/ N is what one more row costs. Printed per run: seconds, rows/s, rows/s per core, efficiency vs the 1-worker
run of the same runner and mode (rows/s / (N x rows/s at 1)); on Dask, from its task stream, the fraction of
the workers' time spent in tasks and when the first task began (the driver's own work before it); peak RSS of
the largest worker process (sampled every 0.2 s with psutil), and the digest of the output files (every shard,
statistics, schema, TFDS metadata; the manifest without its runner options): one digest for all rows of a
size means identical shards at every size, runner and mode.

    $ python benchmarks/preprocess_scaling.py --rows 16000000 --workers 1,2,4,8,16 --json scaling.json
    $ python benchmarks/preprocess_scaling.py --runners dask --workers 16 --infer-schema sample,full-pass

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


INFER_SCHEMA = "sample"   # --infer-schema of the runs (set by main)


def preprocess(csv: str, output: str, runner: str, beam_args: list, num_shards: int) -> dict:
    from tfpipe.demo import adult_preprocess_options
    from tfpipe.pipelines import run_preprocess

    options = adult_preprocess_options(output, inputs=[f"train={csv}"], runner=runner, beam_args=beam_args,
                                       num_shards=num_shards, dataset_name="adult", progress=False, report=False,
                                       infer_schema=INFER_SCHEMA)
    return run_preprocess(options)


def run_dask(jobs: list, workers: int, num_shards: int) -> list:
    """Runs each ``(csv, output)`` of ``jobs`` in turn on one local Dask cluster of ``workers`` processes (a
    cluster outlives its jobs, so the first job pays the workers' imports: the warm-up)."""
    from distributed import Client, LocalCluster, get_task_stream

    results = []
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=0,
                      dashboard_address=None, host="127.0.0.1") as cluster, Client(cluster) as client:
        client.wait_for_workers(workers, timeout=120)
        pids = list(client.run(os.getpid).values())
        for csv, output in jobs:
            with PeakRSS(pids) as rss, get_task_stream(client) as stream:
                began, wall = time.perf_counter(), time.time()
                manifest = preprocess(csv, output, "DaskRunner",
                                      [f"--dask_client_address={cluster.scheduler_address}"], num_shards)
                seconds = time.perf_counter() - began
            results.append({"seconds": seconds, "rows": manifest["rows_read"], "worker_peak_rss": rss.largest,
                            "workers_rss": rss.total, "tasks": task_summary(stream.data, workers, seconds, wall)})
    return results


def run_direct(jobs: list, workers: int, num_shards: int) -> list:
    """Runs each ``(csv, output)`` of ``jobs`` on the DirectRunner's ``multi_processing`` mode (each job starts
    its own worker processes)."""
    results = []
    for csv, output in jobs:
        with PeakRSS([os.getpid()]) as rss:   # the driver and the worker processes it starts
            began = time.perf_counter()
            manifest = preprocess(csv, output, "DirectRunner", ["--direct_running_mode=multi_processing",
                                                                f"--direct_num_workers={workers}"], num_shards)
            seconds = time.perf_counter() - began
        results.append({"seconds": seconds, "rows": manifest["rows_read"], "worker_peak_rss": rss.largest,
                        "workers_rss": rss.total})
    return results


def task_summary(records: list, workers: int, seconds: float, began: float) -> dict:
    """Where the workers' time went, from Dask's task stream: busy fraction of the workers over the job's wall
    time, when the first task began (seconds after the job did: the driver's own work before it), and per kind
    of task (the task key's prefix) how many ran, their compute seconds and the span from the first start to the
    last end (seconds after the first task began)."""
    spans = [(start["start"], start["stop"], record["key"]) for record in records
             for start in record.get("startstops", ()) if start.get("action") == "compute"]
    if not spans:
        return {}
    first = min(start for start, _, _ in spans)
    kinds: dict = {}
    for start, stop, key in spans:
        name = key[0] if isinstance(key, tuple) else str(key)
        name = name.rsplit("-", 1)[0][:60]
        kind = kinds.setdefault(name, {"tasks": 0, "compute_s": 0.0, "first_s": start - first, "last_s": 0.0})
        kind["tasks"] += 1
        kind["compute_s"] += stop - start
        kind["first_s"] = min(kind["first_s"], start - first)
        kind["last_s"] = max(kind["last_s"], stop - first)
    busy = sum(stop - start for start, stop, _ in spans)
    top = dict(sorted(kinds.items(), key=lambda item: -item[1]["compute_s"])[:12])
    return {"busy_fraction": busy / (workers * seconds), "first_task_s": first - began, "span_s":
            max(stop for _, stop, _ in spans) - first, "kinds": {name: {k: round(v, 3) for k, v in kind.items()}
                                                             for name, kind in top.items()}}


RUNNERS = {"dask": run_dask, "direct": run_direct}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16_000_000)
    parser.add_argument("--fixed-rows", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4,8,16")
    parser.add_argument("--runners", default="dask,direct")
    parser.add_argument("--num-shards", type=int, default=16)
    parser.add_argument("--infer-schema", default="sample",
                        help="comma-separated: sample (one pass) and/or full-pass (an inference pass first)")
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
    global INFER_SCHEMA
    for runner, infer, workers in [(runner, infer, int(n)) for runner in args.runners.split(",")
                                   for infer in args.infer_schema.split(",") for n in args.workers.split(",")]:
        INFER_SCHEMA = infer
        row = {"runner": runner, "infer_schema": infer, "workers": workers, "cores": os.cpu_count()}
        # the first job of a cluster (and of this process) pays the imports: a warm-up, not measured
        sizes = (("warm-up", args.fixed_rows), ("fixed", args.fixed_rows), ("run", args.rows))
        outputs = {key: os.path.join(work, f"out-{runner}-{workers}-{key}") for key, _ in sizes}
        for output in outputs.values():
            shutil.rmtree(output, ignore_errors=True)
        measured = RUNNERS[runner]([(csvs[rows], outputs[key]) for key, rows in sizes], workers,
                                   args.num_shards)
        for (key, _), result in zip(sizes, measured):
            row[key] = {**result, "digest": digest(outputs[key])}
            shutil.rmtree(outputs[key], ignore_errors=True)
        row.pop("warm-up")
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
    lines = ["| runner | schema | workers | seconds | rows/s | rows/s per core | marginal rows/s per core | efficiency | "
             "fixed s | workers busy | first task s | worker peak RSS | all workers RSS | shards digest |",
             "|" + "---|" * 14]
    base = {(row["runner"], row["infer_schema"]): row["rows_per_s"] for row in results if row["workers"] == 1}
    for row in results:
        one = base.get((row["runner"], row["infer_schema"]))
        efficiency = f"{row['rows_per_s'] / (row['workers'] * one):.2f}" if one else "-"
        run, marginal = row["run"], row["marginal_rows_per_s_per_core"]
        marginal = "-" if marginal is None else f"{marginal:,.0f}"
        tasks = run.get("tasks") or {}
        busy = f"{tasks['busy_fraction']:.2f}" if tasks else "-"
        first = f"{tasks['first_task_s']:.1f}" if tasks else "-"
        lines.append(f"| {row['runner']} | {row['infer_schema']} | {row['workers']} | {run['seconds']:.1f} | "
                     f"{row['rows_per_s']:,.0f} | {row['rows_per_s'] / row['workers']:,.0f} | {marginal} | "
                     f"{efficiency} | {row['fixed']['seconds']:.1f} | {busy} | {first} | "
                     f"{run['worker_peak_rss'] / 1e6:,.0f} MB | {run['workers_rss'] / 1e6:,.0f} MB | "
                     f"{run['digest']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
