"""Mixed-precision policy selection (``keras.mixed_precision``).

``auto`` picks what was measured faster at equal AUC (``benchmarks/gpu_training_benchmark.py``, H100, bagging
K=16 from shards, XLA on): ``mixed_float16`` (dynamic loss scaling, see :func:`wrap_optimizer`) for wide members
(widest hidden layer >= :data:`WIDE_UNITS`: 1.30x float32, AUC -0.0001; bfloat16 1.29x but AUC -0.0024) on GPUs
of compute capability >= 7.0, and ``float32`` otherwise — narrow members (64-32) are faster in float32
(float16 0.71x, bfloat16 0.95x) and so is every CPU. Policies are applied with
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
WIDE_UNITS = 512   # from this hidden width on, mixed_float16 pays on GPU (measured at 1024: 1.30x; at 64: 0.71x)


def gpu_compute_capability() -> tuple[int, int] | None:
    """The lowest compute capability over the visible GPUs, or None without a GPU."""
    import tensorflow as tf

    caps = []
    for gpu in tf.config.list_physical_devices("GPU"):
        cap = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if cap:
            caps.append(tuple(cap))
    return min(caps) if caps else None


def resolve_precision(precision: str = "auto", compute_capability: tuple[int, int] | None | str = "detect",
                      widest_hidden: int = 0) -> str:
    """Maps ``auto|float32|mixed_float16|mixed_bfloat16`` to a concrete Keras policy name.

    Example::

        >>> resolve_precision("auto", compute_capability=(9, 0), widest_hidden=1024)
        'mixed_float16'
        >>> resolve_precision("auto", compute_capability=(9, 0), widest_hidden=64)
        'float32'
        >>> resolve_precision("auto", compute_capability=None, widest_hidden=1024)
        'float32'
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    cap = gpu_compute_capability() if compute_capability == "detect" else compute_capability
    if cap is None or tuple(cap) < (7, 0) or widest_hidden < WIDE_UNITS:
        return "float32"
    return "mixed_float16"


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
