"""Read throughput of a split from an S3 store vs from local disk, measured in the same run on the same shards.

Starts an S3 server (moto) on a free 127.0.0.1 port (or uses ``--endpoint``), uploads the dataset, then times,
alternating local and store rounds so that both see the same machine load:
- ``records``: :func:`tfpipe.features.dataset.record_batches` (the one reader of the shards: serialized records
  in batches; local = ``TFRecordDataset``, store = :mod:`tfpipe.features.remote_shards`' ranged reads);
- ``features``: :func:`tfpipe.features.make_dataset` (parse + preprocessing: what training is fed), shuffled.
Goal (issue 23): store / local >= 0.8 on ``features``. Beside it, the store's own ceiling: the seconds raw GETs of
the same shards take (no framing, no parsing) and the share of it each reader reaches; with moto on the same
cores that ceiling, not the reader, bounds the s3 rounds. The server is killed by PID at the end.

Example::

    $ python benchmarks/store_read_benchmark.py --data /tmp/w/wide250000/data --rounds 3
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import time


def _start_moto():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError("moto did not start")


def _upload(endpoint: str, data_dir: str, bucket: str) -> str:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint)
    try:
        client.create_bucket(Bucket=bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    import hashlib

    for root, _, names in os.walk(data_dir):
        for name in names:
            path = os.path.join(root, name)
            key = f"bench/{os.path.relpath(path, data_dir)}"
            with open(path, "rb") as f:
                body = f.read()
            # one PUT each, checked: moto once assembled a concurrent multipart upload wrongly (the reader's CRC
            # check caught it at a part boundary)
            client.put_object(Bucket=bucket, Key=key, Body=body)
            stored = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            if hashlib.sha256(stored).digest() != hashlib.sha256(body).digest():
                raise RuntimeError(f"the store changed {key} on upload")
    return f"s3://{bucket}/bench"


def _time(make) -> tuple[float, int, int]:
    start = time.perf_counter()
    rows = nbytes = 0
    for batch in make():
        first = batch[0] if isinstance(batch, tuple) else batch
        if isinstance(first, dict):
            rows += int(first["example_key"].shape[0])
        else:
            rows += int(first.shape[0])
            nbytes += int(sum(len(r) for r in first.numpy()))
    return time.perf_counter() - start, rows, nbytes


def _raw_get_seconds(endpoint: str, remote: str, split: str) -> float:
    """Seconds to GET the split's shards whole from the store, all at once (one thread a shard, as the reader's
    interleave reads them) and nothing else: what the server can deliver, the ceiling of any reader."""
    import concurrent.futures

    import boto3

    from tfpipe.pipelines.artifacts import shard_paths

    client = boto3.client("s3", endpoint_url=endpoint)
    keys = [path[len("s3://"):].split("/", 1) for path in shard_paths(remote, split)]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(keys)) as pool:
        list(pool.map(lambda bk: client.get_object(Bucket=bk[0], Key=bk[1])["Body"].read(), keys))
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a local `tfpipe preprocess` output")
    parser.add_argument("--split", default="train")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--endpoint", default=None, help="an S3 endpoint to use instead of starting moto")
    parser.add_argument("--bucket", default="tfpipe-bench")
    args = parser.parse_args(argv)

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = None
    if args.endpoint is None:
        server, args.endpoint = _start_moto()
    os.environ["AWS_ENDPOINT_URL"] = args.endpoint
    try:
        from tfpipe import features as tff
        from tfpipe.features.dataset import record_batches
        from tfpipe.features.init_config import default_config
        from tfpipe.pipelines.storage import configure_store

        configure_store([])
        started = time.perf_counter()
        remote = _upload(args.endpoint, args.data, args.bucket)
        print(f"uploaded {args.data} to {remote} in {time.perf_counter() - started:.1f} s", flush=True)
        compiled = tff.compile_features(tff.fit(default_config(args.data, args.data), args.data))
        readers = {
            "records": lambda where: lambda: record_batches(where, args.split, args.batch_size),
            "features": lambda where: lambda: tff.make_dataset(where, args.split, compiled, args.batch_size,
                                                               label=None,
                                                               read=tff.ReadOptions(shuffle=True, seed=0)),
        }
        import psutil

        served = psutil.Process(server.pid) if server is not None else None
        print(f"{'reader':10} {'where':6} {'rows/s (median)':>16} {'MB/s':>8}  rounds (s)")
        for name, reader in readers.items():
            seconds = {"local": [], "s3": []}
            server_cpu = []   # the S3 server runs on this machine: the CPU seconds it spent serving each s3 round
            rows = nbytes = 0
            for _ in range(args.rounds):
                for where, path in (("local", args.data), ("s3", remote)):
                    before = sum(served.cpu_times()[:2]) if served is not None and where == "s3" else None
                    spent, rows, nbytes = _time(reader(path))
                    seconds[where].append(spent)
                    if before is not None:
                        server_cpu.append(sum(served.cpu_times()[:2]) - before)
            for where, times in seconds.items():
                median = statistics.median(times)
                mb = f"{nbytes / median / 1e6:8.1f}" if nbytes else f"{'':8}"
                print(f"{name:10} {where:6} {rows / median:16,.0f} {mb}  {', '.join(f'{t:.2f}' for t in times)}")
            ratios = [local / store for local, store in zip(seconds["local"], seconds["s3"])]
            print(f"{name:10} s3 / local throughput = {statistics.median(ratios):.2f} (median of paired rounds "
                  f"{', '.join(f'{r:.2f}' for r in ratios)}; goal >= 0.80 on features)", flush=True)
            if server_cpu:
                print(f"{name:10} the S3 server's own CPU per s3 round: {statistics.median(server_cpu):.2f} s "
                      f"(of {os.cpu_count()} cores shared with the reader)", flush=True)
            ceiling = statistics.median(_raw_get_seconds(args.endpoint, remote, args.split) for _ in range(args.rounds))
            print(f"{name:10} the store's ceiling: raw GETs of the same shards take {ceiling:.2f} s; this reader "
                  f"reaches {ceiling / statistics.median(seconds['s3']):.2f} of it", flush=True)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
