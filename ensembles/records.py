"""Raw tf.Example records of a preprocessed split, with the same keys and eval carve-out as training.

``example_key`` is ``to_hash_bucket_fast(serialized, 2**62)`` (as ``tfpipe.features.make_dataset``). When the
data has no ``eval`` split, training carves one out of ``train`` deterministically: examples with
``is_holdout(key, eval_fraction, seed)`` form ``eval``, the rest ``train`` (:func:`split_filter`).

Example (``adult``: a ``tfpipe preprocess`` output directory of Adult rows)::

    >>> from tfpipe.features.label import LabelSpec
    >>> ds = serialized_dataset(adult, "test", batch_size=1024)
    >>> spec = LabelSpec("income", "binary", ("<=50K", ">50K"))
    >>> labels, valid = labels_from_examples(next(iter(ds)), spec)
    >>> labels[:5], bool(valid.all()), labels.shape
    (array([0, 0, 1, 1, 0]), True, (1000,))
"""
from __future__ import annotations

import json
import os

import numpy as np

from tfpipe.ensembles.bootstrap import is_holdout


def available_splits(data_dir: str) -> list[str]:
    from tfpipe.features import artifacts

    return list(artifacts.load_manifest(data_dir).get("splits", []))


def split_rows(data_dir: str, split: str) -> int:
    """Rows written to ``split`` (0 for a split the data does not have)."""
    from tfpipe.features import artifacts

    return int(artifacts.load_manifest(data_dir).get("rows_written", {}).get(split, 0))


def source_split(split: str, data_dir: str, carve: dict | None) -> tuple[str, str | None]:
    """(split to read, filter) for a requested split: ``eval`` may be carved from ``train``."""
    if carve and split in ("train", "eval") and "eval" not in available_splits(data_dir):
        return "train", ("holdout" if split == "eval" else "keep")
    return split, None


def split_filter(keys, mode: str | None, carve: dict | None):
    """Boolean mask [B] selecting the ``keep`` (train) or ``holdout`` (eval) part; all True for None."""
    import tensorflow as tf

    if mode is None:
        return tf.ones_like(keys, dtype=tf.bool)
    hold = is_holdout(keys, carve["fraction"], carve["seed"])
    return hold if mode == "holdout" else tf.logical_not(hold)


def carve_filter(mode: str | None, carve: dict | None):
    """The ``keep`` argument of ``make_dataset`` / ``record_batches`` for a carve ``mode`` (None: every row)."""
    if mode is None:
        return None
    return lambda keys: split_filter(keys, mode, carve)


SAMPLE_SEED = 0x5A3D1E     # the key-hash seed of metric samples (independent of the eval carve-out's)


def sample_filter(keep, fraction: float | None):
    """``keep`` (a key filter or None) and, for ``fraction`` < 1, a key-hash sample of that fraction: the same rows
    on every run and every worker."""
    if fraction is None or fraction >= 1:
        return keep
    if not fraction > 0:
        raise ValueError(f"sample fraction must be in (0, 1], got {fraction!r}")
    import tensorflow as tf

    def sampled(keys):
        chosen = is_holdout(keys, fraction, SAMPLE_SEED)
        return chosen if keep is None else tf.logical_and(keep(keys), chosen)

    return sampled


def serialized_dataset(data_dir: str, split: str, batch_size: int = 1024, carve: dict | None = None,
                       limit: int | None = None, sample: float | None = None):
    """Batches of serialized tf.Example strings of ``split`` (eval/train carved per ``carve``); ``sample``: only
    that fraction of the rows, chosen by key hash (:func:`sample_filter`)."""
    from tfpipe.features.dataset import ReadOptions, record_batches

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


def write_json(path: str, obj) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=float)
    os.replace(tmp, path)
