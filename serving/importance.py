"""Permutation feature importance, measured through the exported serving function (serialized tf.Example in).

For every raw input column: its values (absence included) are shuffled across the examples of a split, the
examples are re-serialized and served, and the loss of the primary metric is recorded (AUC for
classification, RMSE for regression; mean and spread over ``repeats`` shuffles). Working on serialized
``tf.Example`` makes it the importance of what the SavedModel sees — feature transform, trees and neural members
together — not of one member's inputs. Why hand-written: scikit-learn's ``permutation_importance`` needs an
estimator on a feature matrix, and the model's input is a batch of serialized protos.

Cost: ``columns × repeats`` passes over at most ``limit`` examples (default 4096; one proto copy per example and
column, ~20 µs each in Python).

Example (``model_dir``: a ``tfpipe train`` output directory; ``adult``: a preprocessed DIR of Adult rows)::

    >>> import os
    >>> import tensorflow as tf
    >>> from tfpipe.serving.predictions import label_spec, labels_from_examples, serialized_dataset
    >>> from tfpipe.serving.export import read_metadata
    >>> saved_model = os.path.join(model_dir, "saved_model")
    >>> serve_fn = tf.saved_model.load(saved_model).signatures["serving_default"]
    >>> examples = next(iter(serialized_dataset(adult, "test", batch_size=500)))
    >>> labels, _ = labels_from_examples(examples, label_spec(read_metadata(saved_model)))
    >>> found = permutation_importance(serve_fn, examples.numpy(), labels, "binary", ["age", "sex"], repeats=2)
    >>> sorted(found), sorted(found["age"])
    (['age', 'sex'], ['mean', 'std'])
"""
from __future__ import annotations

import numpy as np

from tfpipe.ensembles.metrics import compute_metrics, primary_metric


def _score(task_kind: str, labels, predictions) -> float:
    key, higher_is_better = primary_metric(task_kind)
    value = compute_metrics(task_kind, labels, predictions)[key]
    return value if higher_is_better else -value


def _predict(serve_fn, serialized: list, batch_size: int = 2048) -> np.ndarray:
    import tensorflow as tf

    parts = [serve_fn(examples=tf.constant(serialized[i:i + batch_size]))["predictions"].numpy()
             for i in range(0, len(serialized), batch_size)]
    return np.concatenate(parts)


def permutation_importance(serve_fn, serialized, labels, task_kind: str, columns, repeats: int = 3,
                           seed: int = 0, limit: int = 4096) -> dict:
    """``{column: {"mean", "std"}}``: the drop of the primary metric when ``column`` is shuffled (higher = more
    important; 0 = the model does not use it), sorted most important first. ``serialized``: a list of
    serialized ``tf.Example``; ``labels`` aligned with it."""
    import tensorflow as tf

    serialized, labels = list(serialized)[:limit], np.asarray(labels)[:limit]
    if len(serialized) < 2:
        return {}
    protos = [tf.train.Example.FromString(s) for s in serialized]
    baseline = _score(task_kind, labels, _predict(serve_fn, serialized))
    rng = np.random.default_rng(seed)
    out = {}
    for column in columns:
        values = [p.features.feature[column] if column in p.features.feature else None for p in protos]
        drops = []
        for _ in range(repeats):
            order = rng.permutation(len(protos))
            shuffled = []
            for proto, source in zip(protos, order):
                copy = tf.train.Example()
                copy.CopyFrom(proto)
                if column in copy.features.feature:
                    del copy.features.feature[column]
                if values[source] is not None:
                    copy.features.feature[column].CopyFrom(values[source])
                shuffled.append(copy.SerializeToString())
            drops.append(baseline - _score(task_kind, labels, _predict(serve_fn, shuffled)))
        out[column] = {"mean": float(np.mean(drops)), "std": float(np.std(drops))}
    return dict(sorted(out.items(), key=lambda item: -item[1]["mean"]))
