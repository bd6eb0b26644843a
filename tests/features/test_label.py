"""Label task inference and its error-free encoding."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from tfpipe import features as tff


def test_string_label_is_binary_with_sorted_classes(tiny_dir):
    spec = tff.fit_label(tiny_dir, tiny_dir, "label")
    assert spec == tff.LabelSpec("label", "binary", ("no", "yes"), "string")
    encoded = spec.encode(tf.constant([[b"yes"], [b"no"], [b"maybe"], [b""]]))
    assert encoded.dtype == tf.int64 and encoded.numpy().tolist() == [1, 0, -1, -1]
    assert spec.is_valid(encoded).numpy().tolist() == [True, True, False, False]


def _int_label(low, high, kind=schema_pb2.INT):
    schema = schema_pb2.Schema()
    feature = schema.feature.add(name="y", type=kind)
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    f = stats.datasets.add(name="train").features.add()
    f.path.step.append("y")
    f.num_stats.min, f.num_stats.max = low, high
    return schema, stats, feature


def test_int_and_float_labels():
    schema, stats, _ = _int_label(0, 4)
    spec = tff.fit_label(schema, stats, "y")
    assert spec.task == "multiclass" and spec.classes == (0, 1, 2, 3, 4)
    assert spec.encode(tf.constant([[3], [7], [-2**63]], tf.int64)).numpy().tolist() == [3, -1, -1]
    schema, stats, _ = _int_label(0, 1000)
    assert tff.fit_label(schema, stats, "y").task == "regression"
    schema, stats, _ = _int_label(0, 1)
    assert tff.fit_label(schema, stats, "y").task == "binary"
    assert tff.fit_label(schema, stats, "y", task="regression").task == "regression"
    schema, stats, _ = _int_label(0.5, 3.5, schema_pb2.FLOAT)
    spec = tff.fit_label(schema, stats, "y")
    assert spec.task == "regression" and spec.classes is None
    values = spec.encode(tf.constant([[1.5], [np.nan]], tf.float32)).numpy()
    assert values[0] == 1.5 and np.isnan(values[1])
    with pytest.raises(ValueError):
        tff.fit_label(schema, stats, "y", task="binary")
