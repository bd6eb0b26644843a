"""Datasets and models on an object store, end to end: preprocess → features init → train → evaluate on
``s3://`` give what the same commands give on local paths. The S3 server (moto) is started on a free 127.0.0.1
port by the module fixture and killed by PID (its process group) when the module ends."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("moto")
boto3 = pytest.importorskip("boto3")

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """(endpoint, boto3 client) of a moto S3 server with buckets ``data`` and ``models``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(tmp_path_factory.mktemp("moto") / "server.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not start on 127.0.0.1:{port}")
                time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        for bucket in ("data", "models"):
            client.create_bucket(Bucket=bucket)
        yield endpoint, client
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


@pytest.fixture
def store_env(s3_server, monkeypatch):
    """The store's settings as a user has them: AWS's own environment variables."""
    endpoint, client = s3_server
    for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(name, value)
    from tfpipe.pipelines.storage import configure_store

    configure_store([])
    yield endpoint, client
    from tfpipe.features.remote_shards import configure_cache

    configure_cache(None)


def _upload_dir(client, local: str, bucket: str, prefix: str) -> str:
    for root, _, names in os.walk(local):
        for name in names:
            path = os.path.join(root, name)
            client.upload_file(path, bucket, f"{prefix}/{os.path.relpath(path, local)}")
    return f"s3://{bucket}/{prefix}"


@pytest.fixture(scope="module")
def s3_adult(s3_server, adult_small_dir):
    """``adult_small_dir`` copied byte for byte to ``s3://data/adult_small`` (2 shards a split)."""
    return _upload_dir(s3_server[1], adult_small_dir, "data", "adult_small")


def _batches(dataset):
    return [batch.numpy().tolist() for batch in dataset]


def test_shards_on_s3_read_as_the_same_batches_as_local(store_env, s3_adult, adult_small_dir):
    from tfpipe.features.dataset import ReadOptions, record_batches

    odd = lambda keys: keys % 2 == 1   # noqa: E731
    for size, read in ((256, ReadOptions()), (100, ReadOptions(shuffle=True, seed=3, repeat=False)),
                       (128, ReadOptions(keep=odd)), (64, ReadOptions(shard=(1, 3), shuffle=True, seed=1))):
        local = _batches(record_batches(adult_small_dir, "train", size, read))
        remote = _batches(record_batches(s3_adult, "train", size, read))
        assert remote == local and sum(map(len, local)) > 0, (size, read)


def test_make_dataset_from_s3_matches_local(store_env, s3_adult, adult_small_dir):
    from tfpipe import features as tff

    compiled = tff.compile_features(tff.fit(tff.default_config(adult_small_dir, adult_small_dir, label="income"),
                                                  adult_small_dir))
    for cache in (False, "preprocessed"):
        local = list(tff.make_dataset(adult_small_dir, "train", compiled, 500,
                                      read=tff.ReadOptions(shuffle=True, seed=2, cache=cache)))
        remote = list(tff.make_dataset(s3_adult, "train", compiled, 500,
                                       read=tff.ReadOptions(shuffle=True, seed=2, cache=cache)))
        assert len(local) == len(remote) == 6
        import tensorflow as tf

        for one, other in zip(local, remote):
            tf.nest.assert_same_structure(one, other)
            for a, b in zip(tf.nest.flatten(one), tf.nest.flatten(other)):
                np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_cache_dir_keeps_bounded_local_copies_and_only_deletes_its_own(store_env, s3_adult, tmp_path):
    from tfpipe.features.dataset import record_batches
    from tfpipe.features.remote_shards import CACHE_SUFFIX, configure_cache, readable_paths
    from tfpipe.pipelines import storage
    from tfpipe.pipelines.artifacts import shard_paths

    train, test = shard_paths(s3_adult, "train"), shard_paths(s3_adult, "test")
    sizes = {path: storage.size(path) for path in train + test}
    mine = tmp_path / "cache" / "notes.txt"
    mine.parent.mkdir()
    mine.write_text("the user's own file")
    expected = _batches(record_batches(s3_adult, "train", 300))
    # room for the train split only: it is fetched once, then read from local disk by TFRecordDataset
    configure_cache(str(mine.parent), sum(sizes[path] for path in train))
    local = readable_paths(train)
    assert all(os.path.isfile(path) and path.endswith(CACHE_SUFFIX) for path in local)
    assert [os.path.getsize(path) for path in local] == [sizes[path] for path in train]
    assert _batches(record_batches(s3_adult, "train", 300)) == expected
    # the test split does not fit beside it: the least recently used copies go, never a file it did not write
    configure_cache(str(mine.parent), max(sizes[path] for path in test) + 1)
    assert sum(storage.is_local(path) for path in readable_paths(test)) == 1
    held = sorted(os.listdir(mine.parent))
    assert "notes.txt" in held and len(held) == 2 and mine.read_text() == "the user's own file"
    configure_cache(str(mine.parent), 0)   # no room: every shard is read from the store
    assert readable_paths(train) == train


def _metrics(path):
    with open(path) as f:
        return json.load(f)


TRAIN = ["--ensemble", "bagging", "--members", "2", "--member-kind", "gbdt,wide_deep", "--epochs", "1",
         "--gbdt-rounds", "20", "--seed", "0", "--no-report", "--batch-size", "256", "--strategy", "default"]


@pytest.fixture(scope="module")
def local_run(adult_small_dir, tmp_path_factory) -> dict:
    """Test metrics of features init → train (``TRAIN``) → evaluate on a local copy of ``adult_small_dir``: what
    every store's run is compared with."""
    import shutil

    from tfpipe.cli import main

    base = tmp_path_factory.mktemp("local_run")
    data = str(base / "data")
    shutil.copytree(adult_small_dir, data)
    assert main(["features", "init", "--data", data]) == 0
    assert main(["train", "--data", data, "--output", str(base / "model")] + TRAIN) == 0
    assert main(["evaluate", "--model", str(base / "model"), "--data", data, "--split", "test",
                 "--json", str(base / "local.json")]) == 0
    return _metrics(base / "local.json")


def _assert_same_metrics(local: dict, remote: dict) -> None:
    assert local["ensemble"]["count"] == remote["ensemble"]["count"] == 1000
    for metric in ("auc", "logloss", "accuracy"):
        assert remote["ensemble"][metric] == pytest.approx(local["ensemble"][metric], abs=1e-6), metric


def _raw_adult(adult_raw_dir):
    """(name, bytes) of the raw rows ``adult_small_dir`` was made of."""
    for name, rows in (("adult.data", 3000), ("adult.test", 1001)):
        with open(os.path.join(adult_raw_dir, name), "rb") as source:
            yield name, b"".join(line for _, line in zip(range(rows), source))


def _preprocess_raw(prefix: str, output: str) -> None:
    from tfpipe.demo import adult_preprocess_options
    from tfpipe.pipelines import run_preprocess

    manifest = run_preprocess(adult_preprocess_options(output, progress=False, max_rejected_fraction=0.01, inputs=[
        f"train={prefix}/adult.data", f"test={prefix}/adult.test"]))
    assert manifest["rows_written"] == {"train": 3000, "test": 1000}


def test_whole_run_on_s3_matches_the_same_run_on_local_paths(store_env, local_run, adult_raw_dir, tmp_path, capsys):
    from tfpipe.cli import main

    endpoint, client = store_env
    for name, body in _raw_adult(adult_raw_dir):
        client.put_object(Bucket="data", Key=f"raw/{name}", Body=body)
    s3_adult = "s3://data/adult_e2e"
    _preprocess_raw("s3://data/raw", s3_adult)
    assert main(["features", "init", "--data", s3_adult]) == 0
    client.put_object(Bucket="models", Key=".adult.tmp-0123456789ab/saved_model/left-by-a-killed-run", Body=b"x")
    assert main(["train", "--data", s3_adult, "--output", "s3://models/adult"] + TRAIN) == 0
    assert main(["evaluate", "--model", "s3://models/adult", "--data", s3_adult, "--split", "test",
                 "--json", str(tmp_path / "s3.json")]) == 0
    keys = [item["Key"] for item in client.list_objects_v2(Bucket="models").get("Contents", [])]
    assert "adult/model.json" in keys and "adult/saved_model/saved_model.pb" in keys
    assert not [key for key in keys if ".tmp-" in key]   # the killed run's prefix is gone, and this run's
    _assert_same_metrics(local_run, _metrics(tmp_path / "s3.json"))
    model = json.loads(client.get_object(Bucket="models", Key="adult/model.json")["Body"].read())
    assert model["data_dir"] == s3_adult
    # the model on the store is replaced only with --overwrite, and only because tfpipe wrote it
    assert main(["train", "--data", s3_adult, "--output", "s3://models/adult"] + TRAIN) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    client.put_object(Bucket="models", Key="half/saved_model/saved_model.pb", Body=b"no model.json here")
    assert main(["evaluate", "--model", "s3://models/half", "--data", s3_adult]) == 2
    assert "s3://models/half: no model.json" in capsys.readouterr().err


def test_bad_store_settings_get_one_line_naming_the_path_and_what_to_set(store_env, s3_adult, monkeypatch, capsys):
    from tfpipe.cli import main

    endpoint, _ = store_env
    assert main(["train", "--data", "s3://no-such-bucket/adult", "--output", "s3://models/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "the bucket 'no-such-bucket' does not exist" in err and len(err.splitlines()) == 1
    with socket.socket() as probe:   # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    assert main(["features", "init", "--data", s3_adult, f"--s3_endpoint_url={dead}"]) == 2
    err = capsys.readouterr().err.strip()
    assert time.monotonic() - started < 60 and len(err.splitlines()) == 1   # no minutes of Beam's retries
    assert err.startswith(f"tfpipe features: error: {s3_adult}") and "cannot reach the store" in err
    assert dead in err and "AWS_ENDPOINT_URL" in err


def test_streamed_reads_of_a_shard_on_s3_give_its_bytes_and_records_and_resume_a_dropped_connection(
        store_env, s3_adult, adult_small_dir):
    import tensorflow as tf

    from tfpipe.pipelines import storage, tfrecord
    from tfpipe.pipelines.artifacts import shard_paths

    local, remote = shard_paths(adult_small_dir, "train")[0], shard_paths(s3_adult, "train")[0]
    with open(local, "rb") as f:
        data = f.read()

    class Dropped:   # a connection that breaks in the middle of the object
        def read(self, size=None):
            raise ConnectionResetError("connection reset by peer")

        def close(self):
            pass

    with storage.open_stream(remote) as stream:
        head = stream.read(50_000)
        stream._body = Dropped()
        rest = b"".join(iter(lambda: stream.read(70_001), b""))
    assert head + rest == data
    expected = [[r for r in b.numpy().tolist()] for b in tf.data.TFRecordDataset(local).batch(100)]
    for chunk, ahead in ((40_000, 1), (123_457, 3), (len(data) + 1, 2)):   # many pieces, in order
        assert list(tfrecord.read_record_blocks(remote, 100, chunk_bytes=chunk, ahead=ahead)) == expected


def test_run_output_on_s3_is_checked_like_a_local_one(store_env, s3_adult, adult_small_dir):
    """``tfpipe run --output s3://...`` (and ``demo --output``): a prefix holding what tfpipe did not write is
    refused, an earlier run needs ``overwrite``, a new prefix is fine; the demo's example comes off the store."""
    import tensorflow as tf

    from tfpipe.demo import _first_test_example
    from tfpipe.pipelines.artifacts import shard_paths
    from tfpipe.run import RESOLVED_CONFIG, _check_output

    _, client = store_env
    _check_output("s3://models/run_new", overwrite=False)
    client.put_object(Bucket="models", Key="run_foreign/mine.txt", Body=b"not tfpipe's")
    with pytest.raises(ValueError, match="not an earlier `tfpipe run` output"):
        _check_output("s3://models/run_foreign", overwrite=True)
    client.put_object(Bucket="models", Key=f"run_earlier/{RESOLVED_CONFIG}", Body=b"name: 'x'")
    with pytest.raises(ValueError, match="pass --overwrite"):
        _check_output("s3://models/run_earlier", overwrite=False)
    _check_output("s3://models/run_earlier", overwrite=True)
    first_local = next(iter(tf.data.TFRecordDataset(shard_paths(adult_small_dir, "test")).take(1))).numpy()
    assert _first_test_example(s3_adult) == first_local


# --- gs:// on a GCS emulator (gcp-storage-emulator), through Beam's GCS filesystem ----------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def gcs_server(tmp_path_factory):
    """``(STORAGE_EMULATOR_HOST, google.cloud.storage client)`` of a GCS emulator with buckets ``data`` and
    ``models``, started on a free 127.0.0.1 port and killed by PID (its process group) when the module ends."""
    pytest.importorskip("gcp_storage_emulator")
    pytest.importorskip("apache_beam.io.gcp.gcsfilesystem")
    from google.cloud import storage as gcs

    port = _free_port()
    log = open(tmp_path_factory.mktemp("gcs") / "server.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
                                "--port", str(port), "--in-memory"], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the GCS emulator did not start on 127.0.0.1:{port}")
                time.sleep(0.1)
        host = f"http://127.0.0.1:{port}"
        os.environ["STORAGE_EMULATOR_HOST"] = host   # for the client made here; gcs_env sets it per test
        client = gcs.Client(project="test")
        del os.environ["STORAGE_EMULATOR_HOST"]
        for bucket in ("data", "models"):
            client.create_bucket(bucket)
        yield host, client
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


@pytest.fixture
def gcs_env(gcs_server, monkeypatch):
    """The emulator's settings as a user has them: Google's own STORAGE_EMULATOR_HOST, no credentials."""
    host, client = gcs_server
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
    from tfpipe.pipelines.storage import configure_store

    configure_store([])
    yield host, client


def test_whole_run_on_gcs_matches_the_same_run_on_local_paths(gcs_env, local_run, adult_raw_dir, tmp_path, capsys):
    from tfpipe.cli import main

    host, client = gcs_env
    for name, body in _raw_adult(adult_raw_dir):
        client.bucket("data").blob(f"raw/{name}").upload_from_string(body)
    started = time.monotonic()
    _preprocess_raw("gs://data/raw", "gs://data/adult")
    assert time.monotonic() - started < 60   # no ~25 s of Beam's credential retries (none exist on an emulator)
    assert main(["features", "init", "--data", "gs://data/adult"]) == 0
    client.bucket("models").blob(".adult.tmp-0123456789ab/saved_model/left-by-a-killed-run").upload_from_string("x")
    assert main(["train", "--data", "gs://data/adult", "--output", "gs://models/adult"] + TRAIN) == 0
    assert main(["evaluate", "--model", "gs://models/adult", "--data", "gs://data/adult", "--split", "test",
                 "--json", str(tmp_path / "gs.json")]) == 0
    names = [blob.name for blob in client.list_blobs("models")]
    assert "adult/model.json" in names and "adult/saved_model/saved_model.pb" in names
    assert not [name for name in names if ".tmp-" in name]
    _assert_same_metrics(local_run, _metrics(tmp_path / "gs.json"))
    # bad settings: one line naming the path and what to set, in seconds (the client's own retries take 120 s)
    assert main(["train", "--data", "gs://no-such-bucket/adult", "--output", "gs://models/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "the bucket 'no-such-bucket' does not exist" in err and len(err.splitlines()) == 1
    dead = f"http://127.0.0.1:{_free_port()}"
    os.environ["STORAGE_EMULATOR_HOST"] = dead   # restored by monkeypatch
    started = time.monotonic()
    assert main(["features", "init", "--data", "gs://data/adult"]) == 2
    err = capsys.readouterr().err.strip()
    assert time.monotonic() - started < 40 and len(err.splitlines()) == 1
    assert "cannot reach the store" in err and dead in err and "STORAGE_EMULATOR_HOST" in err


def test_a_dataset_on_s3_is_read_once_and_again_when_its_manifest_changes(store_env, adult_small_dir):
    from tfpipe.pipelines.preprocessed import PreprocessedDataset

    _, client = store_env
    remote = _upload_dir(client, adult_small_dir, "data", "adult_cached")
    first = PreprocessedDataset.load(remote)
    assert PreprocessedDataset.load(remote) is first   # schema and statistics not fetched and parsed again
    manifest = json.loads(client.get_object(Bucket="data", Key="adult_cached/manifest.json")["Body"].read())
    manifest["note"] = "rewritten"
    client.put_object(Bucket="data", Key="adult_cached/manifest.json", Body=json.dumps(manifest).encode())
    again = PreprocessedDataset.load(remote)
    assert again is not first and again.manifest["note"] == "rewritten"
