"""Synthetic Adult-shaped data in the preprocessor's output format, for the benchmarks that time the members on
in-memory tensors (no Beam, no preprocessed data: runs as is on the lent GPU). Tests use real data instead.

Inputs match ``docs/CONTRACTS.md`` section 2: ``{"dense": f32[B, Dd], "wide": f32[B, Dw] (one-hot of the
categoricals), "embedding_ids": {name: int64[B, 1]}, "example_key": int64[B]}``; the label follows a fixed
non-linear rule plus noise, so a model can learn it (AUC well above 0.5).

Example::

    >>> ds, vocab = synthetic_dataset(1000, Task("binary"), batch_size=128)
    >>> sorted(next(iter(ds))[0])
    ['dense', 'embedding_ids', 'example_key', 'wide']
"""
from __future__ import annotations

import numpy as np

from tfpipe.ensembles.task import Task

ADULT_VOCAB = {"workclass": 9, "education": 16, "marital_status": 7, "occupation": 15, "relationship": 6,
               "race": 5, "sex": 2, "native_country": 42}


def synthetic_arrays(n: int, task: Task, seed: int = 0, n_dense: int = 6, vocab: dict | None = None,
                     key_offset: int = 0) -> tuple[dict, np.ndarray]:
    """Numpy ``(inputs, labels)`` with ``n`` rows."""
    vocab = dict(ADULT_VOCAB if vocab is None else vocab)
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(n, n_dense)).astype("float32")
    ids = {name: rng.integers(0, size, n).astype("int64") for name, size in vocab.items()}
    wide = np.concatenate([np.eye(size, dtype="float32")[ids[name]] for name, size in vocab.items()], axis=1)
    effect_rng = np.random.default_rng(12345)
    effects = {name: effect_rng.normal(size=size) for name, size in vocab.items()}
    score = dense[:, 0] - 0.7 * dense[:, 1] + 0.6 * np.tanh(dense[:, 2] * dense[:, 3])
    score = score + 0.5 * np.abs(dense[:, 4 % n_dense]) - 0.4
    for name in vocab:
        score = score + 0.6 * effects[name][ids[name]]
    score = score + rng.normal(scale=0.5, size=n)
    if task.kind == "binary":
        labels = (score > 0).astype("int64")
    elif task.kind == "multiclass":
        edges = np.quantile(score, np.linspace(0, 1, task.n_classes + 1)[1:-1])
        labels = np.searchsorted(edges, score).astype("int64")
    else:
        labels = score.astype("float32")
    keys = (np.arange(n, dtype="int64") + key_offset) * 2654435761 % (1 << 61)
    inputs = {"dense": dense, "wide": wide, "embedding_ids": {name: v[:, None] for name, v in ids.items()},
              "example_key": keys}
    return inputs, labels


def synthetic_dataset(n: int, task: Task, batch_size: int = 256, seed: int = 0, cache: bool = True, **kwargs):
    """A batched ``tf.data.Dataset`` of ``(inputs, label)`` and the vocabulary sizes of its id features."""
    import tensorflow as tf

    inputs, labels = synthetic_arrays(n, task, seed=seed, **kwargs)
    ds = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(batch_size)
    if cache:
        ds = ds.cache()
    vocab = {name: int(v.max()) + 1 for name, v in inputs["embedding_ids"].items()}
    vocab = {name: max(vocab[name], (kwargs.get("vocab") or ADULT_VOCAB)[name]) for name in vocab}
    return ds.prefetch(tf.data.AUTOTUNE), vocab
