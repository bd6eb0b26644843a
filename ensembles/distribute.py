"""``tf.distribute`` strategy selection for training.

``auto`` uses ``MirroredStrategy`` over all GPUs when there are several, a ``MultiWorkerMirroredStrategy`` when
``TF_CONFIG`` names more than one worker, and the default (single-device) strategy otherwise.

Example::

    >>> strategy = make_strategy("default")
    >>> strategy.num_replicas_in_sync
    1
"""
from __future__ import annotations

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
