"""Permutation importance through a serving function of serialized tf.Example: a column the model reads loses
its metric when shuffled, one it ignores loses exactly nothing, absent values move with their rows."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfpipe.serving.importance import permutation_importance
from tfpipe.ensembles.report import calibration_points, roc_points
from tfpipe.ensembles.metrics import roc_auc


def _examples(n, seed=0):
    rng = np.random.default_rng(seed)
    x, noise = rng.normal(size=n), rng.normal(size=n)
    labels = (x + 0.3 * rng.normal(size=n) > 0).astype(int)
    out = []
    for i in range(n):
        feature = {"noise": tf.train.Feature(float_list=tf.train.FloatList(value=[noise[i]]))}
        if i % 7:                                                 # every 7th example lacks x
            feature["x"] = tf.train.Feature(float_list=tf.train.FloatList(value=[x[i]]))
        out.append(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return out, labels


def serve(examples):
    """Reads only x (absent → 0), like a model that ignores the other columns."""
    parsed = tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])})
    return {"predictions": tf.sigmoid(3.0 * parsed["x"][:, 0])}


def test_used_column_matters_and_ignored_column_is_exactly_zero():
    examples, labels = _examples(600)
    found = permutation_importance(serve, examples, labels, "binary", ["noise", "x"], repeats=2, limit=500)
    assert list(found) == ["x", "noise"]                          # sorted, most important first
    assert found["x"]["mean"] > 0.2 and found["noise"] == {"mean": 0.0, "std": 0.0}


def test_roc_and_calibration_points():
    rng = np.random.default_rng(1)
    scores = np.round(rng.random(2000), 2)                         # ties on purpose
    labels = (rng.random(2000) < scores).astype(int)
    fpr, tpr = roc_points(labels, scores)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1 and np.all(np.diff(fpr) >= 0)
    assert abs(np.trapezoid(tpr, fpr) - roc_auc(labels, scores)) < 1e-9
    predicted, observed, count = calibration_points(labels, scores)
    assert count.sum() == 2000 and np.all(np.abs(predicted - observed) < 0.1)   # calibrated by construction
