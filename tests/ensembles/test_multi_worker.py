"""Two ``tfpipe train`` processes on 127.0.0.1 with ``TF_CONFIG``: MultiWorkerMirroredStrategy, tfpipe's own loop.

Checks: both exit 0; each trained on its own half of the train split (one shard file: split by example key)
and ends with the same weights (the fingerprint each prints); only the chief writes --output and no worker
leaves a folder behind; the metadata records the strategy; the chief's model predicts like a one-process run of
the same options (the global batch is the same, its rows differ: within 0.03 on average, AUC within 0.01).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import numpy as np

ARGS = ["--ensemble", "bagging", "--members", "2", "--member-kind", "wide_deep", "--epochs", "2", "--no-report",
        "--seed", "0"]


def _auc(labels, scores):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(labels, scores)


def _test_predictions(model_dir, data_dir):
    import tensorflow as tf

    from tfpipe.pipelines.artifacts import shard_paths

    serve = tf.saved_model.load(os.path.join(model_dir, "saved_model")).signatures["serving_default"]
    records = [r.numpy() for r in tf.data.TFRecordDataset(shard_paths(data_dir, "test"))]
    labels = [tf.train.Example.FromString(r).features.feature["income"].bytes_list.value[0] == b">50K"
              for r in records]
    predictions = serve(examples=tf.constant(records))["predictions"].numpy().reshape(-1)
    return np.asarray(labels), predictions


def test_two_workers_train_one_model_like_one_process(adult_small_dir, tmp_path, free_port):
    ports = [free_port(), free_port()]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    output = tmp_path / "model_2w"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    processes, logs = [], []
    try:
        for index in range(2):
            env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker",
                                                                                      "index": index}}),
                       TMPDIR=str(scratch), CUDA_VISIBLE_DEVICES="")
            log = open(tmp_path / f"worker{index}.log", "w")
            logs.append(log)
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "tfpipe.cli", "train", "--data", adult_small_dir, "--output", str(output),
                 *ARGS], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        codes = [process.wait(timeout=600) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for log in logs:
            log.close()
    texts = [(tmp_path / f"worker{index}.log").read_text() for index in range(2)]
    assert codes == [0, 0], texts[0][-3000:] + texts[1][-3000:]
    fingerprints = [re.findall(r"worker \d of 2.*weights sha256 (\w+)", text) for text in texts]
    assert fingerprints[0] and fingerprints[0] == fingerprints[1]
    assert "the chief wrote" in texts[1]
    assert not [name for name in os.listdir(scratch) if name.startswith("tfpipe-worker")]   # worker 1 cleaned up
    metadata = json.loads((output / "metrics.json").read_text())["metadata"]
    assert (metadata["strategy"], metadata["workers"], metadata["replicas"]) == ("MultiWorkerMirroredStrategy", 2, 2)

    from tfpipe.ensembles.train_options import BaggingOptions, KerasOptions, RuntimeOptions, TrainOptions
    from tfpipe.serving.export_config import ExportOptions
    from tfpipe.train import train_ensemble

    single = tmp_path / "model_1w"
    options = TrainOptions(ensemble=BaggingOptions(members=2, member_kinds="wide_deep"), keras=KerasOptions(epochs=2),
                           runtime=RuntimeOptions(seed=0, strategy="default", verbose=0))
    train_ensemble(adult_small_dir, str(single), options, export=ExportOptions(report=False))
    labels, two = _test_predictions(str(output), adult_small_dir)
    _, one = _test_predictions(str(single), adult_small_dir)
    assert float(np.mean(np.abs(two - one))) < 0.03
    assert abs(_auc(labels, two) - _auc(labels, one)) < 0.01
    assert _auc(labels, two) > 0.83
