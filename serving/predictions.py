"""Predictions, labels and metrics inputs of a split, through a model's serving function (serialized tf.Example
in): what ``tfpipe train`` measures into ``metrics.json`` and ``tfpipe evaluate`` measures again.

Rows are read as the model was trained: ``example_key`` is ``to_hash_bucket_fast(serialized, 2**62)`` (as
``tfpipe.features.make_dataset``), and a model trained on data without an ``eval`` split scores the same carve-out
of ``train`` (its metadata's ``eval_carve``; :mod:`tfpipe.features.key_filters`).

Example (``adult``: a ``tfpipe preprocess`` output directory of Adult rows)::

    >>> from tfpipe.features.label import LabelSpec
    >>> ds = serialized_dataset(adult, "test", batch_size=1024)
    >>> spec = LabelSpec("income", "binary", ("<=50K", ">50K"))
    >>> labels, valid = labels_from_examples(next(iter(ds)), spec)
    >>> labels[:5], bool(valid.all()), labels.shape
    (array([0, 0, 1, 1, 0]), True, (1000,))
"""
from __future__ import annotations

import numpy as np


def serialized_dataset(data_dir: str, split: str, batch_size: int = 1024, carve: dict | None = None,
                       limit: int | None = None, sample: float | None = None):
    """Batches of serialized tf.Example strings of ``split`` (eval/train carved per ``carve``); ``sample``: only
    that fraction of the rows, chosen by key hash (:func:`sample_filter`)."""
    from tfpipe.features.dataset import ReadOptions, record_batches
    from tfpipe.features.key_filters import carve_filter, sample_filter, source_split

    read_split, mode = source_split(split, data_dir, carve)
    ds = record_batches(data_dir, read_split, batch_size,
                        ReadOptions(deterministic=True, keep=sample_filter(carve_filter(mode, carve), sample)))
    if not limit:
        return ds
    return ds.unbatch().take(limit).batch(batch_size)


def label_spec(meta: dict):
    """The :class:`~tfpipe.features.label.LabelSpec` a model was trained with, from its metadata."""
    from tfpipe.features.label import LabelSpec

    classes = meta.get("classes")
    return LabelSpec(meta["label"], meta["task"]["kind"], None if classes is None else tuple(classes),
                     meta["label_dtype"])


def labels_from_examples(serialized, spec):
    """(labels, valid mask) as numpy, parsed from serialized examples and encoded by ``spec`` (a ``LabelSpec``):
    class index (-1 unknown or missing, invalid) or float32 value (NaN missing, invalid) — the same codec as the
    training input pipeline."""
    import tensorflow as tf

    encoded = spec.encode(tf.io.parse_example(serialized, spec.parse_spec())[spec.name])
    return encoded.numpy(), spec.is_valid(encoded).numpy()


def predict_split(serve_fn, data_dir: str, split: str, meta: dict, batch_size: int = 2048,
                  limit: int | None = None, sample: float | None = None) -> dict:
    """Runs ``serve_fn(examples=...)`` over a split (or a key-hash ``sample`` fraction of it) -> numpy
    ``predictions``, ``member_predictions``, ``labels``."""
    preds, members, labels = [], [], []
    spec = label_spec(meta)
    for batch in serialized_dataset(data_dir, split, batch_size, meta.get("eval_carve"), limit=limit,
                                    sample=sample):
        y, valid = labels_from_examples(batch, spec)
        out = serve_fn(examples=batch)
        preds.append(out["predictions"].numpy()[valid])
        members.append(out["member_predictions"].numpy()[valid])
        labels.append(y[valid])
    return {"predictions": np.concatenate(preds), "member_predictions": np.concatenate(members),
            "labels": np.concatenate(labels)}
