"""Stacking: out-of-fold predictions of base members train a meta-learner.

Folds are deterministic: ``fold_ids(example_key, n_folds, seed)`` (hash of the key). Every base member is a
:class:`MemberStack` of ``n_folds + 1`` copies trained in ONE pass: copy ``f < n_folds`` sees only examples
outside fold ``f`` (weight 0 inside it), copy ``n_folds`` sees all training data (the refit used for serving).
The meta-learner (linear, float32) is then trained on the out-of-fold logits (copy ``fold(x)`` for example
``x``) with the base members frozen; serving feeds it the full-data copies. ``member_predictions`` are the
full-data base members' predictions.

Example::

    >>> ens = StackingEnsemble(Task("binary"), member_kinds=("linear", "dnn", "wide_deep"), n_folds=5)  # doctest: +SKIP
    >>> ens.fit_ensemble(train_ds, eval_ds, FitOptions(epochs=3))                                       # doctest: +SKIP
"""
from __future__ import annotations

import keras

from tfpipe.ensembles.base import EnsembleModel, FitOptions, fit_keras, label_column
from tfpipe.ensembles.bootstrap import fold_ids
from tfpipe.ensembles.members import MemberStack
from tfpipe.ensembles.task import Task


class _MetaTrainer(keras.Model):
    """Frozen base members -> out-of-fold logits -> meta-learner logits [B, units]."""

    def __init__(self, ensemble: "StackingEnsemble"):
        super().__init__(name="meta_trainer")
        self.ensemble = ensemble

    def build(self, input_shape):  # the ensemble is built before training
        self.built = True

    def call(self, inputs, training=False):
        import tensorflow as tf

        ens = self.ensemble
        logits = tf.stop_gradient(ens.base_logits(inputs))                       # [B, M, F+1, U]
        folds = fold_ids(inputs["example_key"], ens.n_folds, ens.seed)           # [B]
        oof = tf.gather(tf.transpose(logits, [0, 2, 1, 3]), folds, axis=1, batch_dims=1)   # [B, M, U]
        return ens.meta_logits(oof)


class StackingEnsemble(EnsembleModel):
    """Base members (one ``MemberStack`` of ``n_folds + 1`` copies per member) + linear meta-learner."""

    ensemble_kind = "stacking"

    def __init__(self, task: Task, member_kinds=("linear", "dnn", "wide_deep"), n_folds: int = 5,
                 hidden=(64, 32), embedding_factory=None, seed: int = 0, embedding_specs: dict | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.task, self.member_kinds, self.n_folds, self.seed = task, tuple(member_kinds), int(n_folds), int(seed)
        self.base = [MemberStack(kind, self.n_folds + 1, task.units, hidden=hidden,
                                 embedding_factory=embedding_factory, seed=seed + 7 * i,
                                 embedding_specs=embedding_specs, name=f"base_{i}_{kind}")
                     for i, kind in enumerate(self.member_kinds)]
        self.meta = keras.layers.Dense(task.units, dtype="float32", name="meta")

    def base_logits(self, inputs, training=False):
        """[B, M, F+1, U]: every base member's fold copies and full-data copy."""
        import tensorflow as tf

        return tf.stack([stack(inputs, training=training) for stack in self.base], axis=1)

    def meta_logits(self, member_logits):
        """Meta-learner on member logits [B, M, U] -> [B, U]."""
        import tensorflow as tf

        m, u = len(self.base), self.task.units
        return self.meta(tf.reshape(tf.cast(member_logits, tf.float32), [-1, m * u]))

    def call(self, inputs, training=False):
        return self.base_logits(inputs, training=training)

    def serve(self, inputs) -> dict:
        full = self.base_logits(inputs)[:, :, self.n_folds, :]                    # [B, M, U]
        return {"predictions": self.task.link(self.meta_logits(full)), "member_predictions": self.task.link(full)}

    def member_names(self) -> list[str]:
        return [f"{kind}_{i}" for i, kind in enumerate(self.member_kinds)]

    def _base_dataset(self, dataset, holdout: bool):
        import tensorflow as tf

        m, f, seed = len(self.base), self.n_folds, self.seed

        def add_weights(x, y):
            keys = x["example_key"]
            if holdout:
                in_fold = tf.one_hot(fold_ids(keys, f, seed), f + 1)                 # [B, F+1]; copy F never 0
                w = 1.0 - in_fold
            else:
                w = tf.ones([tf.shape(keys)[0], f + 1])
            return x, label_column(y, 4), tf.tile(w[:, None, :], [1, m, 1])

        return dataset.map(add_weights, num_parallel_calls=tf.data.AUTOTUNE)

    def fit_ensemble(self, train_ds, eval_ds, options: FitOptions) -> list[dict]:
        """Phase 1: all base copies in one pass; phase 2: the meta-learner on out-of-fold logits."""
        x0 = next(iter(train_ds))[0]
        self.build_on(x0, options)
        eval_base = None if eval_ds is None else self._base_dataset(eval_ds, holdout=False)
        self.meta.trainable = False
        histories = [fit_keras(self, self._base_dataset(train_ds, holdout=True), eval_base,
                               self.task.pointwise_loss, options, phase="base_members")]
        for stack in self.base:
            stack.trainable = False
        self.meta.trainable = True
        # Start the meta-learner at the plain average of the members.
        m, u = len(self.base), self.task.units
        import numpy as np
        kernel = np.zeros((m * u, u), "float32")
        for i in range(m):
            kernel[i * u:(i + 1) * u] = np.eye(u, dtype="float32") / m
        self.meta.kernel.assign(kernel)
        with options.scope():
            trainer = _MetaTrainer(self)
        task = self.task
        histories.append(fit_keras(trainer, train_ds, eval_ds,
                                   task.example_loss, options,
                                   phase="meta_learner"))
        for stack in self.base:
            stack.trainable = True
        return histories
