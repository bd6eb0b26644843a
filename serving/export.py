"""Loading side of the exported SavedModel (TensorFlow only; the export itself is ``tfpipe.ensembles.export``).

Example (``model_dir``: a ``tfpipe train`` output directory; a bagging of 4 members on Adult)::

    >>> model = load_saved_model(os.path.join(model_dir, "saved_model"))
    >>> out = predict_examples(model, [make_example({"age": 39, "workclass": "State-gov", "education": "Bachelors"})])
    >>> out["predictions"].shape, out["member_predictions"].shape, out["predictions"].dtype.name
    ((1,), (1, 4), 'float32')
"""
from __future__ import annotations

import json
import os

METADATA_FILE = os.path.join("assets.extra", "tfpipe.json")


def load_saved_model(path: str):
    """``tf.saved_model.load(path)``; the ``serving_default`` signature is ``model.signatures[...]``."""
    import tensorflow as tf

    return tf.saved_model.load(path)


def read_metadata(path: str) -> dict:
    """The training metadata (label, classes, task, member names, eval carve-out) stored with the SavedModel."""
    with open(os.path.join(path, METADATA_FILE), encoding="utf-8") as f:
        return json.load(f)


def make_example(row: dict) -> bytes:
    """A serialized tf.Example from ``{column: value}`` (int -> int64_list, float -> float_list, str -> bytes_list;
    None = missing = absent feature), as ``tfpipe preprocess`` encodes rows (docs/CONTRACTS.md section 1).

    Example::

        >>> len(make_example({"age": 39, "workclass": "State-gov", "occupation": None})) > 0
        True
    """
    import tensorflow as tf

    feature = {}
    for key, value in row.items():
        if value is None:
            continue
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if all(isinstance(v, (bool, int)) for v in values):
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
        elif all(isinstance(v, (int, float)) for v in values):
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))
        else:
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(v).encode() for v in values]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def predict_examples(model, serialized) -> dict:
    """Runs ``serving_default`` on serialized tf.Examples -> numpy ``predictions`` and ``member_predictions``."""
    import tensorflow as tf

    out = model.signatures["serving_default"](examples=tf.constant(list(serialized), tf.string))
    return {k: v.numpy() for k, v in out.items()}
