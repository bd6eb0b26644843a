"""``tfpipe preprocess`` on runners whose workers are separate processes, and with data on an object store.

Each set-up must give the DirectRunner's counts and byte-identical outputs (shards, schema, statistics, rejected
rows, TFDS metadata) on the same Adult sample: Beam's PortableRunner with the pure-Python job service and SDK
workers as subprocesses; Beam's DaskRunner (by its short name) on a dask.distributed scheduler with two worker
processes; inputs and --output on an S3 server (moto). Servers are started on free 127.0.0.1 ports by the test
and killed by PID when it ends (the ``serve`` fixture).
"""
from __future__ import annotations

import json
import os
import sys

import pytest

from tfpipe.demo import adult_preprocess_options
from tfpipe.pipelines import run_preprocess
from tfpipe.pipelines.artifacts import iter_rejected, load_manifest

BAD_LINES = {700: b"39, State-gov\n", 1900: b"this line has no fields at all\n"}   # line number -> bad line


@pytest.fixture(scope="module")
def sample(tmp_path_factory, adult_raw_dir):
    """2,400 Adult train rows with two broken lines in different chunks, and 1,000 test rows."""
    raw = tmp_path_factory.mktemp("adult_sample")
    with open(os.path.join(adult_raw_dir, "adult.data"), "rb") as source:
        lines = [line for _, line in zip(range(2400), source)]
    for number, line in sorted(BAD_LINES.items()):
        lines.insert(number - 1, line)
    (raw / "train.csv").write_bytes(b"".join(lines))
    with open(os.path.join(adult_raw_dir, "adult.test"), "rb") as source:
        next(source)   # its first line is a comment
        (raw / "test.csv").write_bytes(b"".join(line for _, line in zip(range(1000), source)))
    return raw


def _options(output: str, inputs, **extra):
    options = dict(chunk_bytes=48 << 10, num_shards=2, dataset_name="adult", max_rejected_fraction=0.01,
                   progress=False, report=False)
    return adult_preprocess_options(output, inputs=inputs, **{**options, **extra})


def _local_inputs(sample):
    return [f"train={sample / 'train.csv'}", f"test={sample / 'test.csv'}"]


def _contents(files: dict) -> dict:
    """What must be identical across runners: every output file but the manifest, plus the manifest without the
    options that name the runner."""
    contents = {name: data for name, data in files.items() if name != "manifest.json"}
    for name in [name for name in contents if name.startswith("rejected/")]:   # the same rows, from another store
        records = [json.loads(line) for line in contents[name].splitlines()]
        contents[name] = [dict(record, source=record["source"].rsplit("/", 1)[-1]) for record in records]
    manifest = json.loads(files["manifest.json"])
    manifest.pop("options")
    manifest.pop("inputs")
    contents["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return contents


def _local_files(directory: str) -> dict:
    files = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            files[os.path.relpath(path, directory)] = open(path, "rb").read()
    return files


@pytest.fixture(scope="module")
def direct(sample, tmp_path_factory):
    """The DirectRunner's output on local files: the reference."""
    output = str(tmp_path_factory.mktemp("direct") / "adult")
    manifest = run_preprocess(_options(output, _local_inputs(sample)))
    assert manifest["rows_read"] == 3402 and manifest["rows_rejected"] == 2
    assert manifest["rows_written"] == {"train": 2400, "test": 1000}
    rows = {(os.path.basename(r["source"]), r["row"]) for r in iter_rejected(output)}
    assert rows == {("train.csv", 700), ("train.csv", 1900)}
    files = _local_files(output)
    assert len([name for name in files if ".tfrecord-" in name]) == 4 and manifest["rejected_files"]
    return _contents(files)


def test_portable_runner_with_subprocess_sdk_workers_matches_direct(sample, direct, serve, free_port, tmp_path):
    port = free_port()
    serve([sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main", "--port", str(port)], port)
    output = str(tmp_path / "adult")
    run_preprocess(_options(output, _local_inputs(sample), runner="PortableRunner", beam_args=[
        f"--job_endpoint=localhost:{port}", "--environment_type=beam:env:harness_subprocess_python:v1",
        f"--environment_config={sys.executable} -m apache_beam.runners.worker.sdk_worker_main"]))
    assert _contents(_local_files(output)) == direct
    assert load_manifest(output)["options"]["runner"] == "PortableRunner"


def test_dask_runner_on_a_two_worker_cluster_matches_direct(sample, direct, dask_cluster, tmp_path):
    scheduler = dask_cluster(2)
    output = str(tmp_path / "adult")
    run_preprocess(_options(output, _local_inputs(sample), runner="DaskRunner",
                            beam_args=[f"--dask_client_address={scheduler}"]))
    assert _contents(_local_files(output)) == direct


S3_FLAGS = ["--s3_access_key_id=testing", "--s3_secret_access_key=testing", "--s3_region_name=us-east-1"]


def test_inputs_and_output_on_s3_match_direct_and_publish_atomically(sample, direct, serve, free_port, monkeypatch,
                                                                    capsys):
    pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    port = free_port()
    serve([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port)
    endpoint = f"http://127.0.0.1:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                      region_name="us-east-1")
    for bucket in ("raw-data", "datasets"):
        s3.create_bucket(Bucket=bucket)
    for name in ("train.csv", "test.csv"):
        s3.upload_file(str(sample / name), "raw-data", f"adult/{name}")
    s3.put_object(Bucket="datasets", Key=".adult.tmp-0123456789ab/_pieces/left-by-a-killed-run", Body=b"x")
    flags = [f"--s3_endpoint_url={endpoint}"] + S3_FLAGS
    inputs = ["train=s3://raw-data/adult/train.csv", "test=s3://raw-data/adult/t*.csv"]

    def listing(bucket, prefix=""):
        found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return {item["Key"][len(prefix):]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                for item in found}

    manifest = run_preprocess(_options("s3://datasets/adult", inputs, beam_args=flags))
    assert manifest["rows_read"] == 3402
    assert set(listing("datasets")) == {f"adult/{name}" for name in listing("datasets", "adult/")}   # stale gone
    assert _contents(listing("datasets", "adult/")) == direct
    assert "testing" not in json.dumps(manifest)   # credentials are not written down
    # a rerun replaces it (manifest written last) and gives the same bytes; nothing temporary is left
    run_preprocess(_options("s3://datasets/adult", inputs, beam_args=flags, overwrite=True))
    assert _contents(listing("datasets", "adult/")) == direct
    assert not [key for key in listing("datasets") if ".tmp-" in key]
    # a failed job (too many rejected rows) leaves the published dataset as it was and nothing temporary
    from tfpipe.pipelines import TooManyRejectedRows

    before = listing("datasets", "adult/")
    with pytest.raises(TooManyRejectedRows):
        run_preprocess(_options("s3://datasets/adult", inputs, beam_args=flags, overwrite=True,
                                max_rejected_fraction=0.0))
    assert listing("datasets", "adult/") == before and not [key for key in listing("datasets") if ".tmp-" in key]
    assert len(listing("datasets", "adult.rejected.jsonl")[""].splitlines()) == 2   # the rows, kept for the user
    # an object-store prefix tfpipe did not write is never replaced, and is not a dataset to the readers
    s3.put_object(Bucket="datasets", Key="mine/notes.txt", Body=b"keep me")
    from tfpipe.pipelines.publish import NotATfpipeOutput

    with pytest.raises(NotATfpipeOutput, match="not a tfpipe dataset"):
        run_preprocess(_options("s3://datasets/mine", inputs, beam_args=flags, overwrite=True))
    assert listing("datasets", "mine/") == {"notes.txt": b"keep me"}
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        load_manifest("s3://datasets/mine")
    # the next stage reads the dataset where it is: store settings as Beam flags, or in AWS's own environment
    from tfpipe.cli import main
    from tfpipe.features.config import load_config

    assert main(["features", "init", "--data", "s3://datasets/adult", "--output", "s3://datasets/by-flags.pbtxt",
                 f"--s3_endpoint_url={endpoint}"] + S3_FLAGS) == 0
    for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    assert main(["features", "init", "--data", "s3://datasets/adult"]) == 0
    assert "s3://datasets/adult/features.pbtxt" in capsys.readouterr().out
    written = listing("datasets")
    assert written["adult/features.pbtxt"] == written["by-flags.pbtxt"]
    keys = {getattr(d, "key", None) for d in load_config("s3://datasets/adult/features.pbtxt")}
    assert {"age", "fnlwgt"} <= keys and "income" not in keys and b'"native-country"' in written["by-flags.pbtxt"]
