"""The label: its task (binary / multiclass / regression), its classes, and its encoding as a TF op.

Unknown or missing labels encode to ``-1`` (classification) or NaN (regression) — never an error — and
:func:`tfpipe.features.make_dataset` drops those examples.

Example (``adult``: a ``tfpipe preprocess`` output directory of Adult rows; schema and statistics are read
from it)::

    >>> spec = fit_label(adult, adult, "income")
    >>> spec
    LabelSpec(name='income', task='binary', classes=('<=50K', '>50K'), dtype='string')
    >>> spec.encode(tf.constant([[b">50K"], [b"?"]])).numpy()
    array([ 1, -1])
"""
from __future__ import annotations

import dataclasses

import tensorflow as tf

from tfpipe.features import artifacts
from tfpipe.features.missing import MISSING_BY_DTYPE

TASKS = ("binary", "multiclass", "regression")
MAX_INT_CLASSES = 20


@dataclasses.dataclass(frozen=True)
class LabelSpec:
    """``name``: label column; ``task``: binary/multiclass/regression; ``classes``: class values in index order
    (None for regression; for binary ``classes[1]`` is the positive class); ``dtype``: raw tf.Example type."""

    name: str
    task: str
    classes: tuple | None = None
    dtype: str = "string"

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.dtype not in MISSING_BY_DTYPE:
            raise ValueError(f"dtype must be one of {tuple(MISSING_BY_DTYPE)}, got {self.dtype!r}")
        if self.task == "regression":
            object.__setattr__(self, "classes", None)
            return
        classes = tuple(self.classes or ())
        if self.task == "binary" and len(classes) != 2:
            raise ValueError(f"binary label {self.name!r} needs 2 classes, got {classes}")
        if self.task == "multiclass" and len(classes) < 2:
            raise ValueError(f"multiclass label {self.name!r} needs >= 2 classes, got {classes}")
        if len(set(classes)) != len(classes):
            raise ValueError(f"label classes must be unique: {classes}")
        if self.dtype == "float32":
            raise ValueError("classification needs a string or integer label")
        object.__setattr__(self, "classes", classes)

    @property
    def num_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)

    def parse_spec(self) -> dict:
        """``{name: FixedLenFeature([1], dtype, MISSING)}`` for ``tf.io.parse_example``."""
        tf_dtype = {"string": tf.string, "int64": tf.int64, "float32": tf.float32}[self.dtype]
        return {self.name: tf.io.FixedLenFeature([1], tf_dtype, default_value=MISSING_BY_DTYPE[self.dtype])}

    def encode(self, values: tf.Tensor) -> tf.Tensor:
        """Raw parsed labels [B] or [B, 1] → int64 class index [B] (-1 unknown/missing) or float32 [B] (NaN
        when missing). A pure TF op (no tables), usable in ``tf.data`` and in a SavedModel.

        Example::

            >>> LabelSpec("y", "binary", ("no", "yes")).encode(tf.constant([["yes"], ["x"]])).numpy().tolist()
            [1, -1]
        """
        values = tf.reshape(values, [-1])
        if self.task == "regression":
            as_float = tf.cast(values, tf.float32)
            if values.dtype.is_integer:
                missing = tf.equal(values, tf.constant(MISSING_BY_DTYPE["int64"], values.dtype))
                as_float = tf.where(missing, tf.constant(float("nan")), as_float)
            return as_float
        classes = tf.constant(list(self.classes), dtype=values.dtype)
        matches = tf.equal(values[:, None], classes[None, :])
        index = tf.argmax(tf.cast(matches, tf.int32), axis=1, output_type=tf.int64)
        return tf.where(tf.reduce_any(matches, axis=1), index, tf.constant(-1, tf.int64))

    def is_valid(self, encoded: tf.Tensor) -> tf.Tensor:
        """Boolean mask of encoded labels that are usable (known class / non-NaN)."""
        if self.task == "regression":
            return tf.math.is_finite(encoded)
        return encoded >= 0


def fit_label(schema, statistics, label: str, task: str | None = None, split: str | None = "train") -> LabelSpec:
    """Infers the label's task and classes from the schema and statistics (``task`` overrides the task).

    BYTES → binary if 2 classes else multiclass (classes = the values seen in ``split``'s statistics, sorted by
    value; the schema's ``string_domain`` when the statistics have none); INT with ``max - min + 1 <= 20`` → classification with classes
    ``min..max``; other INT and FLOAT → regression.

    Example::

        >>> fit_label(adult, adult, "income").task
        'binary'
    """
    schema = artifacts.load_schema(schema)
    stats_list = artifacts.load_statistics(statistics)
    try:
        stats = artifacts.feature_statistics(stats_list, label, split)
    except KeyError:
        stats = None
    dtype = artifacts.feature_dtype(label, schema, stats)
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if task == "regression" or (task is None and dtype == "float32"):
        if dtype == "string":
            raise ValueError(f"label {label!r} has string values; it cannot be a regression target")
        return LabelSpec(label, "regression", None, dtype)
    if dtype == "string":
        classes = _string_classes(schema, label, stats)
    elif dtype == "int64":
        low, high = _int_range(schema, label, stats)
        if task is None and high - low + 1 > MAX_INT_CLASSES:
            return LabelSpec(label, "regression", None, dtype)
        classes = tuple(range(low, high + 1))
    else:
        raise ValueError(f"label {label!r} has float values; classification needs string or integer labels")
    inferred = "binary" if len(classes) == 2 else "multiclass"
    if task == "binary" and len(classes) != 2:
        raise ValueError(f"label {label!r} has {len(classes)} classes, not 2: {classes[:10]}")
    return LabelSpec(label, task or inferred, classes, dtype)


def _string_classes(schema, label, stats) -> tuple:
    """Values seen in the fitted split (``top_values``), else the schema's ``string_domain``; sorted by value."""
    if stats is not None and len(stats.string_stats.top_values):
        if stats.string_stats.unique > len(stats.string_stats.top_values):
            raise ValueError(f"label {label!r} has {stats.string_stats.unique} distinct values; too many classes")
        return tuple(sorted(v.value for v in stats.string_stats.top_values if v.value))
    feature = artifacts.schema_feature(schema, label)
    if feature is not None:
        domain = None
        if feature.HasField("string_domain"):
            domain = feature.string_domain
        elif feature.domain:
            domain = next((d for d in schema.string_domain if d.name == feature.domain), None)
        if domain is not None and len(domain.value):
            return tuple(sorted(domain.value))
    raise ValueError(f"label {label!r}: no top_values in the statistics and no string_domain in the schema")


def _int_range(schema, label, stats) -> tuple[int, int]:
    feature = artifacts.schema_feature(schema, label)
    if feature is not None and feature.HasField("int_domain") and feature.int_domain.HasField("max"):
        return int(feature.int_domain.min), int(feature.int_domain.max)
    if stats is None:
        raise ValueError(f"label {label!r}: no int_domain and no statistics")
    return int(stats.num_stats.min), int(stats.num_stats.max)

