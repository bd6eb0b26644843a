"""Mixed-precision policy selection (``keras.mixed_precision``).

``auto`` picks ``mixed_bfloat16`` on GPUs of compute capability >= 8.0, ``mixed_float16`` (with dynamic loss
scaling, see :func:`wrap_optimizer`) on 7.x and ``float32`` on CPU. Policies are applied with
:func:`policy_scope` AFTER the preprocessing is built, so preprocessing stays float32; every member's output
layer is built with ``dtype="float32"``.

Example::

    >>> resolve_precision("float32")
    'float32'
    >>> with policy_scope("mixed_bfloat16"):          # layers built here compute in bfloat16
    ...     import keras; keras.layers.Dense(2).compute_dtype
    'bfloat16'
"""
from __future__ import annotations

import contextlib

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def gpu_compute_capability() -> tuple[int, int] | None:
    """The lowest compute capability over the visible GPUs, or None without a GPU."""
    import tensorflow as tf

    caps = []
    for gpu in tf.config.list_physical_devices("GPU"):
        cap = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if cap:
            caps.append(tuple(cap))
    return min(caps) if caps else None


def resolve_precision(precision: str = "auto", compute_capability: tuple[int, int] | None | str = "detect") -> str:
    """Maps ``auto|float32|mixed_float16|mixed_bfloat16`` to a concrete Keras policy name.

    Example::

        >>> resolve_precision("auto", compute_capability=(9, 0))
        'mixed_bfloat16'
        >>> resolve_precision("auto", compute_capability=(7, 0))
        'mixed_float16'
        >>> resolve_precision("auto", compute_capability=None)
        'float32'
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    cap = gpu_compute_capability() if compute_capability == "detect" else compute_capability
    if cap is None:
        return "float32"
    if tuple(cap) >= (8, 0):
        return "mixed_bfloat16"
    if tuple(cap) >= (7, 0):
        return "mixed_float16"
    return "float32"


@contextlib.contextmanager
def policy_scope(policy: str):
    """Sets the global Keras dtype policy inside the block and restores the previous one after."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield keras.mixed_precision.global_policy()
    finally:
        keras.mixed_precision.set_global_policy(previous)


def wrap_optimizer(optimizer, policy: str):
    """Wraps ``optimizer`` in a dynamic ``LossScaleOptimizer`` under ``mixed_float16``; else returns it."""
    import keras

    if policy == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
