"""Fixtures shared by every stage's tests: the bundled UCI Adult data, preprocessed once per session; its batches
through the production path (``default_config`` features fitted from the statistics, compiled, ``make_dataset``)
for three tasks; a model trained on it."""
from __future__ import annotations

import os

import pytest

from tfpipe.demo import adult_dir, adult_preprocess_options


@pytest.fixture(scope="session")
def adult_raw_dir() -> str:
    """Directory of the bundled, unmodified adult.data / adult.test."""
    return adult_dir()


@pytest.fixture(scope="session")
def adult_data_dir(tmp_path_factory) -> str:
    """``tfpipe preprocess`` output for the bundled Adult files (splits train and test), made once."""
    from tfpipe.pipelines import run_preprocess

    output = str(tmp_path_factory.mktemp("adult") / "adult")
    run_preprocess(adult_preprocess_options(output, progress=False))
    assert os.path.exists(os.path.join(output, "manifest.json"))
    return output


@pytest.fixture(scope="session")
def adult_small_dir(tmp_path_factory, adult_raw_dir) -> str:
    """``tfpipe preprocess`` output of the first 3000 train and first 1000 test rows of Adult (fast to train on)."""
    from tfpipe.pipelines import run_preprocess

    raw = tmp_path_factory.mktemp("adult_small_raw")
    for name, rows in (("adult.data", 3000), ("adult.test", 1001)):  # adult.test starts with a comment line
        with open(os.path.join(adult_raw_dir, name), "rb") as source:
            (raw / name).write_bytes(b"".join(line for _, line in zip(range(rows), source)))
    output = str(tmp_path_factory.mktemp("adult_small") / "adult_small")
    options = adult_preprocess_options(output, progress=False, max_rejected_fraction=0.01, inputs=[
        f"train={raw / 'adult.data'}", f"test={raw / 'adult.test'}"])
    manifest = run_preprocess(options)
    assert manifest["rows_written"] == {"train": 3000, "test": 1000}
    return output


@pytest.fixture(scope="session")
def trained(adult_small_dir, tmp_path_factory):
    """A TrainResult on ``adult_small_dir`` (serving tests, docstring examples): bagging of a gbdt, an lgbm, a
    wide_deep and a dnn member, mixed_bfloat16, 1 epoch."""
    from tfpipe.ensembles.train_options import BaggingOptions, KerasOptions, RuntimeOptions, TrainOptions, TreeOptions
    from tfpipe.serving.export_config import ExportOptions
    from tfpipe.train import train_ensemble

    out = str(tmp_path_factory.mktemp("model"))
    options = TrainOptions(ensemble=BaggingOptions(members=4, member_kinds="gbdt,lgbm,wide_deep,dnn"),
                           keras=KerasOptions(epochs=1, batch_size=256, hidden=(16,)), trees=TreeOptions(rounds=60),
                           runtime=RuntimeOptions(precision="mixed_bfloat16", strategy="default", seed=0, verbose=0))
    return train_ensemble(adult_small_dir, out, options, label="income", export=ExportOptions(report=False))


LABELS = {"binary": "income", "multiclass": "race", "regression": "age"}


@pytest.fixture(scope="session")
def adult_task(adult_small_dir):
    """``adult_task(kind)`` → ``(train_ds, test_ds, compiled, task)`` of ``adult_small_dir`` (3000 / 1000 rows)
    with label ``LABELS[kind]`` (income: binary; race: 5 classes; age: regression), batches of 256 / 500."""
    from tfpipe import features as tff
    from tfpipe.ensembles.task import task_from_label_spec
    from tfpipe.features.init_config import default_config

    made = {}

    def make(kind: str = "binary"):
        if kind not in made:
            label = LABELS[kind]
            spec = tff.fit_label(adult_small_dir, adult_small_dir, label)
            definitions = tff.fit(default_config(adult_small_dir, adult_small_dir, label=label,
                                                 numeric_embedding="none"), adult_small_dir)
            compiled = tff.compile_features(definitions, label_spec=spec)
            train = tff.make_dataset(adult_small_dir, "train", compiled, 256, label=spec,
                                     read=tff.ReadOptions(cache=True, deterministic=True))
            test = tff.make_dataset(adult_small_dir, "test", compiled, 500, label=spec,
                                    read=tff.ReadOptions(cache=True, deterministic=True))
            made[kind] = (train, test, compiled, task_from_label_spec(spec))
        return made[kind]

    return make


@pytest.fixture(scope="session")
def adult_binary(adult_task):
    """``(train_ds, test_ds, compiled)`` for the income label."""
    return adult_task("binary")[:3]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def free_port():
    """``free_port()``: a TCP port on 127.0.0.1 that nothing listens on now."""
    return _free_port


@pytest.fixture
def serve(tmp_path):
    """``serve(argv, port)`` starts a server process (its own process group, log in tmp_path), waits until
    127.0.0.1:port accepts connections and returns the Popen; every process started is killed, by PID (its
    whole group), when the test ends — passed or not."""
    import signal
    import socket
    import subprocess
    import time

    started = []

    def start(argv, port: int, timeout: float = 60.0):
        log = open(tmp_path / f"server-{len(started)}.log", "wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        started.append((process, log))
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return process
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(f"{argv[:3]} did not listen on 127.0.0.1:{port}: "
                                       f"{(tmp_path / f'server-{len(started) - 1}.log').read_text()[-2000:]}")
                time.sleep(0.1)

    yield start
    for process, log in reversed(started):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def dask_cluster(serve, free_port):
    """``dask_cluster(workers=2)``: a dask.distributed scheduler and ``workers`` single-threaded worker processes
    on free 127.0.0.1 ports (started by :func:`serve`, so killed by PID when the test ends); returns the
    scheduler's address once every worker has joined."""
    pytest.importorskip("distributed")

    def start(workers: int = 2) -> str:
        import sys

        from distributed import Client

        scheduler = free_port()
        serve([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
               str(scheduler), "--dashboard-address", f"127.0.0.1:{free_port()}"], scheduler)
        for index in range(workers):
            nanny = free_port()
            serve([sys.executable, "-m", "distributed.cli.dask_worker", f"tcp://127.0.0.1:{scheduler}", "--host",
                   "127.0.0.1", "--nthreads", "1", "--nanny-port", str(nanny), "--dashboard-address",
                   f"127.0.0.1:{free_port()}", "--name", f"worker-{index}"], nanny)
        address = f"127.0.0.1:{scheduler}"
        with Client(address) as client:
            client.wait_for_workers(workers, timeout=60)
        return address

    return start
