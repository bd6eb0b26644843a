"""The learning task of an ensemble: binary / multi-class classification or regression.

A :class:`Task` says how many output units a member has, which loss trains it (on float32 logits) and how
logits become the served ``predictions``. The kind is inferred from the label's schema/statistics by
``tfpipe.features.fit_label`` (:func:`task_from_label_spec`); every ensemble takes an explicit ``Task`` so it can
be overridden.

Example::

    >>> Task("binary").units, Task("multiclass", 3).units, Task("regression").units
    (1, 3, 1)
"""
from __future__ import annotations

import dataclasses

KINDS = ("binary", "multiclass", "regression")


@dataclasses.dataclass(frozen=True)
class Task:
    """``kind`` is one of :data:`KINDS`; ``n_classes`` is 2 for binary, >= 3 for multiclass, 0 for regression."""

    kind: str
    n_classes: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"task kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "binary":
            object.__setattr__(self, "n_classes", 2)
        elif self.kind == "multiclass" and self.n_classes < 3:
            raise ValueError("a multiclass task needs n_classes >= 3")
        elif self.kind == "regression":
            object.__setattr__(self, "n_classes", 0)

    @property
    def is_classification(self) -> bool:
        return self.kind != "regression"

    @property
    def units(self) -> int:
        """Output units of one member (logits): 1 for binary and regression, n_classes for multiclass."""
        return self.n_classes if self.kind == "multiclass" else 1

    def to_json(self) -> dict:
        return {"kind": self.kind, "n_classes": self.n_classes}

    @classmethod
    def from_json(cls, obj: dict) -> "Task":
        return cls(obj["kind"], int(obj.get("n_classes", 0)))

    # ---- TensorFlow parts (imported lazily) -------------------------------------------------------------
    def pointwise_loss(self, y_true, logits):
        """Per-element float32 loss of ``logits`` [..., units] against labels (class index or value).

        ``y_true`` broadcasts against ``logits.shape[:-1]`` (its trailing size-1 axes are allowed), so one
        label column [B, 1, ..., 1] trains many members [B, K, ..., units]; the result has shape
        ``logits.shape[:-1]`` and sample weights of that shape apply element-wise.
        """
        import tensorflow as tf

        logits = tf.cast(logits, tf.float32)
        target_shape = tf.shape(logits)[:-1]
        y = tf.convert_to_tensor(y_true)
        if y.shape.rank is not None and y.shape.rank == logits.shape.rank:
            y = y[..., 0]
        if self.kind == "multiclass":
            y = tf.broadcast_to(tf.cast(y, tf.int32), target_shape)
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        y = tf.broadcast_to(tf.cast(y, tf.float32), target_shape)
        if self.kind == "binary":
            return tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits[..., 0])
        return tf.square(logits[..., 0] - y)

    def example_loss(self, y_true, logits):
        """Loss per example [B] of one model's logits [B, units] against labels [B] or [B, 1]."""
        import tensorflow as tf

        y = tf.reshape(tf.convert_to_tensor(y_true), [-1, 1])
        return self.pointwise_loss(y, tf.convert_to_tensor(logits)[:, None, :])[:, 0]

    def link(self, logits):
        """Logits [..., units] -> served predictions: P(positive) [...] / class probabilities [..., C] / value [...]."""
        import tensorflow as tf

        logits = tf.cast(logits, tf.float32)
        if self.kind == "binary":
            return tf.sigmoid(logits[..., 0])
        if self.kind == "multiclass":
            return tf.nn.softmax(logits, axis=-1)
        return logits[..., 0]

    def negative_gradient(self, y_true, scores):
        """Negative gradient of the loss w.r.t. the ensemble's scores [B, units] (gradient boosting target)."""
        import tensorflow as tf

        scores = tf.cast(scores, tf.float32)
        y = tf.reshape(tf.convert_to_tensor(y_true), [-1])
        if self.kind == "binary":
            return (tf.cast(y, tf.float32) - tf.sigmoid(scores[..., 0]))[..., None]
        if self.kind == "multiclass":
            return tf.one_hot(tf.cast(y, tf.int32), self.n_classes) - tf.nn.softmax(scores, axis=-1)
        return (tf.cast(y, tf.float32) - scores[..., 0])[..., None]

    def predicted_class(self, logits):
        """Hard class [B] from logits [B, units] (classification only)."""
        import tensorflow as tf

        if self.kind == "binary":
            return tf.cast(logits[..., 0] > 0, tf.int32)
        return tf.argmax(logits, axis=-1, output_type=tf.int32)


def task_from_label_spec(label_spec, override: str | None = None) -> Task:
    """The :class:`Task` of a ``tfpipe.features.LabelSpec`` (``override`` replaces its inferred kind).

    Example::

        >>> from tfpipe.features import LabelSpec
        >>> task_from_label_spec(LabelSpec("y", "multiclass", ("a", "b", "c")))
        Task(kind='multiclass', n_classes=3)
    """
    kind = override or label_spec.task
    n = len(label_spec.classes or ())
    if kind == "multiclass" and n == 2:
        kind = "binary"
    return Task(kind, n if kind == "multiclass" else 0)
