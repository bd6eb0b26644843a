"""Raw tf.Example records of a preprocessed split, with the same keys and eval carve-out as training.

``example_key`` is ``to_hash_bucket_fast(serialized, 2**62)`` (as ``tfpipe.features.make_dataset``). When the
data has no ``eval`` split, training carves one out of ``train`` deterministically: examples with
``is_holdout(key, eval_fraction, seed)`` form ``eval``, the rest ``train`` (:func:`split_filter`).

Example (``adult``: a ``tfpipe preprocess`` output directory of Adult rows)::

    >>> ds = serialized_dataset(adult, "test", batch_size=1024)
    >>> labels, valid = labels_from_examples(next(iter(ds)), "income", "string", ["<=50K", ">50K"])
    >>> labels[:5], bool(valid.all()), labels.shape
    (array([0, 0, 1, 1, 0]), True, (1000,))
"""
from __future__ import annotations

import json
import os

import numpy as np

from tfpipe.ensembles.bootstrap import is_holdout


def example_keys(serialized):
    """The same key as ``make_dataset``'s ``example_key`` (one definition, so carve-outs and folds agree)."""
    from tfpipe.features.dataset import example_key

    return example_key(serialized)


def _shards(data_dir: str, split: str) -> tuple[list[str], str]:
    from tfpipe.features import artifacts

    return [str(p) for p in artifacts.shard_paths(data_dir, split)], artifacts.compression_type(data_dir)


def available_splits(data_dir: str) -> list[str]:
    from tfpipe.features import artifacts

    return list(artifacts.load_manifest(data_dir).get("splits", []))


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


def serialized_dataset(data_dir: str, split: str, batch_size: int = 1024, carve: dict | None = None,
                       limit: int | None = None):
    """Batches of serialized tf.Example strings of ``split`` (eval/train carved per ``carve``)."""
    import tensorflow as tf

    read_split, mode = source_split(split, data_dir, carve)
    paths, compression = _shards(data_dir, read_split)
    ds = tf.data.TFRecordDataset(paths, compression_type=compression or None)
    if mode is not None:
        ds = ds.filter(lambda s: split_filter(example_keys(s[None]), mode, carve)[0])
    if limit:
        ds = ds.take(limit)
    return ds.batch(batch_size)


def labels_from_examples(serialized, label: str, dtype: str, classes: list | None):
    """(labels as class index / float, valid mask) parsed from serialized examples; unknown labels invalid."""
    import tensorflow as tf

    tf_dtype = {"string": tf.string, "int64": tf.int64, "float32": tf.float32}[dtype]
    default = {"string": "", "int64": -2 ** 63, "float32": np.nan}[dtype]
    raw = tf.io.parse_example(serialized, {label: tf.io.FixedLenFeature([1], tf_dtype, default_value=default)})
    raw = raw[label][:, 0].numpy()
    if classes is None:
        values = raw.astype("float64")
        return values, ~np.isnan(values)
    if dtype == "string":
        raw = np.array([v.decode("utf-8") for v in raw])
        lookup = {str(c): i for i, c in enumerate(classes)}
        idx = np.array([lookup.get(v, -1) for v in raw])
    else:
        lookup = {int(c): i for i, c in enumerate(classes)}
        idx = np.array([lookup.get(int(v), -1) for v in raw])
    return idx, idx >= 0


def predict_split(serve_fn, data_dir: str, split: str, meta: dict, batch_size: int = 2048,
                  limit: int | None = None) -> dict:
    """Runs ``serve_fn(examples=...)`` over a split -> numpy ``predictions``, ``member_predictions``, ``labels``."""
    preds, members, labels = [], [], []
    for batch in serialized_dataset(data_dir, split, batch_size, meta.get("eval_carve"), limit=limit):
        y, valid = labels_from_examples(batch, meta["label"], meta["label_dtype"], meta.get("classes"))
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
