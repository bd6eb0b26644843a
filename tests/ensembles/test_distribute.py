"""MirroredStrategy over two logical CPU devices reproduces the single-device result."""
import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
from tfpipe.ensembles.bagging import BaggingEnsemble
from tfpipe.ensembles.base import FitOptions
from tfpipe.ensembles.distribute import make_strategy
from tfpipe import features as tff
from tfpipe.ensembles.task import Task
from tfpipe.features.init_config import default_config

data = sys.argv[1]       # a preprocessed Adult DIR
spec = tff.fit_label(data, data, "income")
compiled = tff.compile_features(tff.fit(default_config(data, data, label="income", numeric_embedding="none"), data),
                                label_spec=spec)
train = tff.make_dataset(data, "train", compiled, 256, label=spec,
                         read=tff.ReadOptions(cache=True, deterministic=True)).take(8)
results = {}
for name in ("default", "mirrored"):
    strategy = make_strategy(name)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        ens = BaggingEnsemble(Task("binary"), 3, "wide_deep", hidden=(16,),
                              embedding_specs=compiled.embedding_specs)
    options = FitOptions(epochs=2, verbose=0, strategy=strategy, learning_rate=1e-2)
    ens.build_on(next(iter(train))[0], options)
    hist = ens.fit_ensemble(train, None, options)
    results[name] = {"replicas": strategy.num_replicas_in_sync, "loss": hist[0]["loss"],
                     "pred": ens.predict_dataset(train)["predictions"].tolist()}
print("RESULT" + json.dumps(results))
"""


def test_mirrored_two_cpus_matches_single_device(adult_small_dir):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, adult_small_dir], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT"))
    res = json.loads(line[len("RESULT"):])
    assert res["default"]["replicas"] == 1 and res["mirrored"]["replicas"] == 2
    import numpy as np

    a, b = np.array(res["default"]["pred"]), np.array(res["mirrored"]["pred"])
    assert np.abs(a - b).max() < 2e-3, np.abs(a - b).max()
    assert np.allclose(res["default"]["loss"], res["mirrored"]["loss"], rtol=1e-3)
    assert np.abs(a - 0.5).mean() > 0.1          # it did train


def test_worker_role_from_tf_config(monkeypatch):
    from tfpipe.ensembles.distribute import WorkerRole, worker_role

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert worker_role() == WorkerRole(0, 1, True)
    cluster = {"worker": ["h:1", "h:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert worker_role() == WorkerRole(1, 2, False)
    cluster = {"chief": ["h:0"], "worker": ["h:1", "h:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "chief", "index": 0}}))
    assert worker_role() == WorkerRole(0, 3, True)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert worker_role() == WorkerRole(1, 3, False)


def test_jit_compile_auto_is_off_on_cpu_and_explicit_values_pass_through():
    import pytest

    from tfpipe.ensembles.distribute import resolve_jit_compile

    assert resolve_jit_compile("auto") is False      # no GPU in CI: XLA would only add compile time
    assert resolve_jit_compile("on") is True and resolve_jit_compile(False) is False
    with pytest.raises(ValueError, match="auto, on or off"):
        resolve_jit_compile("sometimes")


def test_jit_compile_on_is_refused_under_mirrored_with_several_replicas():
    """XLA cannot compile Keras's step under MirroredStrategy (2 logical CPUs here): a clear error instead of
    TensorFlow's, and ``auto`` stays off there."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tfpipe.ensembles.distribute import make_strategy, resolve_jit_compile
        strategy = make_strategy("mirrored")
        assert strategy.num_replicas_in_sync == 2
        assert resolve_jit_compile("auto", strategy) is False and resolve_jit_compile("off", strategy) is False
        try:
            resolve_jit_compile("on", strategy)
        except ValueError as error:
            print("refused:", error)
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused: jit_compile=on does not work under MirroredStrategy with 2 replicas" in done.stdout
