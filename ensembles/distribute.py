"""``tf.distribute`` strategy selection for training.

``auto`` uses ``MirroredStrategy`` over all GPUs when there are several, a ``MultiWorkerMirroredStrategy`` when
``TF_CONFIG`` names more than one worker, and the default (single-device) strategy otherwise.

``MultiWorkerMirroredStrategy`` configures collective ops, which TensorFlow allows only before the first op runs:
``tfpipe train`` makes the strategy before anything else. :func:`worker_role` tells a worker its data part and
whether it is the chief (the one that writes ``--output``).

Example::

    >>> strategy = make_strategy("default")
    >>> strategy.num_replicas_in_sync
    1
"""
from __future__ import annotations

import dataclasses
import json
import os

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")


def _tf_config_workers() -> int:
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except json.JSONDecodeError:
        return 0
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def make_strategy(name: str = "auto", devices: list[str] | None = None):
    """Returns a ``tf.distribute.Strategy`` for ``auto|default|mirrored|multi_worker``.

    ``devices`` (e.g. ``["/cpu:0", "/cpu:1"]``) is passed to ``MirroredStrategy``; by default it mirrors over
    all GPUs, or over all logical CPUs when there is no GPU.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "auto":
        if _tf_config_workers() > 1:
            name = "multi_worker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if devices is None and not tf.config.list_logical_devices("GPU"):
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    return tf.distribute.MultiWorkerMirroredStrategy()


XLA_MIN_STEPS = 6000   # jit_compile=auto: XLA only for fits of at least this many steps (see resolve_jit_compile)


def resolve_jit_compile(value, strategy=None, steps: int | None = None) -> bool:
    """``auto`` → XLA on when a GPU is visible, training runs on one device, and one fit runs at least
    ``XLA_MIN_STEPS`` steps (``steps`` = batches per epoch x epochs; unknown counts as enough); off otherwise.

    Why the step count: XLA makes each step faster but compiles first. Measured on an H100 end to end
    (``train_ensemble``, bagging K=16 wide_deep, 5 epochs): Adult 29k rows at batch 256 (575 steps) 76 s with XLA vs
    44 s without; 1M rows at batch 8192 (550 steps) 103 s vs 60 s. The compiles cost 34-46 s and each step
    saves 6-7.5 ms (7 vs 13 ms, 12.5 vs 20 ms), so XLA pays from ~6,000 steps (e.g. 1M rows at batch 256 for
    two epochs). On CPU it only adds compile time; under a distribution strategy Keras's own ``auto`` leaves it
    off too. ``on``/``off``/bools pass through, except ``on`` under ``MirroredStrategy`` with several replicas:
    XLA fails there, so it is refused with a clear message.

    >>> resolve_jit_compile("auto", steps=100), resolve_jit_compile("off"), resolve_jit_compile("on")
    (False, False, True)
    """
    import tensorflow as tf

    single_device = strategy is None or strategy.num_replicas_in_sync == 1
    if value in ("on", "true", "1", True):
        if not single_device and isinstance(strategy, tf.distribute.MirroredStrategy):
            # Keras compiles the whole step, optimizer update included; XLA then fails on the mirrored variables
            # ("tf.Variable on a different device", TF 2.21 / Keras 3; seen with 2 replicas).
            raise ValueError(f"jit_compile=on does not work under MirroredStrategy with "
                             f"{strategy.num_replicas_in_sync} replicas (XLA cannot compile a step that updates "
                             f"mirrored variables); use --jit-compile off or auto, or --strategy default to train on "
                             f"one device with XLA")
        return True
    if value in ("off", "false", "0", None, False):
        return False
    if value != "auto":
        raise ValueError(f"jit_compile must be auto, on or off, got {value!r}")
    long_enough = steps is None or steps >= XLA_MIN_STEPS
    return bool(tf.config.list_logical_devices("GPU")) and single_device and long_enough


def strategy_name(strategy) -> str:
    """The public name (``MultiWorkerMirroredStrategy`` is implemented by ``CollectiveAllReduceStrategy``)."""
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "MultiWorkerMirroredStrategy"
    return type(strategy).__name__


@dataclasses.dataclass(frozen=True)
class WorkerRole:
    """This process's place among the data-parallel workers of ``TF_CONFIG``."""

    index: int = 0          # its part of the data: 0 .. count-1 (the chief, if any, is 0)
    count: int = 1
    is_chief: bool = True   # writes --output; the others write nothing there


def worker_role() -> WorkerRole:
    """From ``TF_CONFIG``: a ``chief`` task, else worker 0, is the chief; one data part per task."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    except json.JSONDecodeError:
        return WorkerRole()
    cluster, task = config.get("cluster", {}), config.get("task", {})
    chiefs, workers = len(cluster.get("chief", [])), len(cluster.get("worker", []))
    if chiefs + workers <= 1:
        return WorkerRole()
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    position = index if kind == "chief" else chiefs + index
    return WorkerRole(position, chiefs + workers, kind == "chief" or (not chiefs and index == 0))
