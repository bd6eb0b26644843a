"""Stacking: out-of-fold predictions of base members train a meta-learner.

Folds are deterministic: ``fold_ids(example_key, n_folds, seed)`` (hash of the key). Every base member is a
:class:`MemberStack` of ``n_folds + 1`` copies trained in ONE pass: copy ``f < n_folds`` sees only examples
outside fold ``f`` (weight 0 inside it), copy ``n_folds`` sees all training data (the refit used for serving).
The meta-learner (linear, float32) is then fitted to convergence (L-BFGS, :mod:`tfpipe.ensembles.meta`) on the
out-of-fold logits (copy ``fold(x)`` for example ``x``) of the whole training split; serving feeds it the
full-data copies. ``member_predictions`` are the
full-data base members' predictions. A ``gbdt`` base member is ``n_folds + 1`` XGBoost boosters trained first,
with the same fold weights (copy ``f`` weights fold ``f``'s examples 0), compiled to TF ops; the trees are skipped
while the Keras base members train.

Example (``compiled``, ``train_ds``, ``eval_ds``: compiled features of a preprocessed Adult DIR and its
:func:`~tfpipe.features.make_dataset` batches; tests/test_doctests.py makes them)::

    >>> ens = StackingEnsemble(Task("binary"), member_kinds=("linear", "dnn"), n_folds=2, hidden=(16,),
    ...                        embedding_specs=compiled.embedding_specs)
    >>> _ = ens.fit_ensemble(train_ds, eval_ds, FitOptions(epochs=1, verbose=0))
    >>> ens.serve(next(iter(eval_ds))[0])["predictions"].shape
    TensorShape([500])
"""
from __future__ import annotations

import keras

from tfpipe.ensembles.base import EnsembleModel, FitOptions, fit_keras, label_column
from tfpipe.ensembles.bootstrap import fold_ids
from tfpipe.ensembles.member_kinds import is_tree_kind
from tfpipe.ensembles.members import make_member
from tfpipe.ensembles.task import Task
from tfpipe.features.graph import graph_function, plain


class StackingEnsemble(EnsembleModel):
    """Base members (one ``MemberStack`` of ``n_folds + 1`` copies per member) + linear meta-learner."""

    ensemble_kind = "stacking"

    @classmethod
    def from_options(cls, task: Task, members: int, kinds, options, **common) -> "StackingEnsemble":
        """``members`` base members cycling through ``kinds``, ``options.folds``-fold (``options`` a
        :class:`~tfpipe.ensembles.ensemble_options.StackingOptions`)."""
        from tfpipe.ensembles.member_kinds import cycle_kinds

        return cls(task, cycle_kinds(kinds, max(members, 1)), n_folds=options.folds, **common)

    def __init__(self, task: Task, member_kinds=("linear", "dnn", "wide_deep"), n_folds: int = 5,
                 hidden=(64, 32), embedding_factory=None, seed: int = 0, embedding_specs: dict | None = None,
                 gbdt_config=None, **kwargs):
        super().__init__(**kwargs)
        if n_folds < 2:
            raise ValueError("stacking needs n_folds >= 2")
        self.task, self.member_kinds, self.n_folds, self.seed = task, tuple(member_kinds), int(n_folds), int(seed)
        self.base = []
        for i, kind in enumerate(self.member_kinds):
            self.base.append(make_member(kind, self.n_folds + 1, task.units, name=f"base_{i}_{kind}",
                                         seed=seed + 7 * i, gbdt_config=gbdt_config, hidden=hidden,
                                         embedding_factory=embedding_factory, embedding_specs=embedding_specs))
        self.meta = keras.layers.Dense(task.units, dtype="float32", name="meta")

    def base_logits(self, inputs, training=False):
        """[B, M, F+1, U]: every base member's fold copies and full-data copy."""
        import tensorflow as tf

        parts = []
        for kind, stack in zip(self.member_kinds, self.base):
            if not is_tree_kind(kind):
                parts.append(stack(inputs, training=training))
            elif training:   # the Keras base members are training: trees have nothing to learn there
                parts.append(tf.zeros([tf.shape(inputs["tree"])[0], self.n_folds + 1, self.task.units]))
            else:
                parts.append(stack(inputs))
        return tf.stack(parts, axis=1)

    def out_of_fold_logits(self, inputs):
        """[B, M, U]: each example's logits from the copies that never saw its fold."""
        import tensorflow as tf

        logits = self.base_logits(inputs)                                            # [B, M, F+1, U]
        folds = fold_ids(inputs["example_key"], self.n_folds, self.seed)             # [B]
        return tf.gather(tf.transpose(logits, [0, 2, 1, 3]), folds, axis=1, batch_dims=1)

    def _collect(self, dataset, fn):
        import numpy as np
        import tensorflow as tf

        step = graph_function(fn, reduce_retracing=True)
        xs, ys = [], []
        for x, y in dataset:
            xs.append(step(x).numpy().reshape(len(y), -1))
            ys.append(np.asarray(y).reshape(-1))
        return np.concatenate(xs), np.concatenate(ys)

    def _fit_meta(self, train_ds, eval_ds) -> dict:
        """Fits the linear meta-learner on all out-of-fold logits of ``train_ds`` (from the plain average)."""
        import numpy as np

        from tfpipe.ensembles.meta import fit_linear, mean_loss

        m, u = len(self.base), self.task.units
        x, y = self._collect(train_ds, self.out_of_fold_logits)
        average = np.concatenate([np.eye(u, dtype="float32") / m] * m), np.zeros(u, "float32")
        kernel, bias = fit_linear(x, y, self.task, init=average)
        self.meta.kernel.assign(kernel)
        self.meta.bias.assign(bias)
        history = {"phase": "meta_learner", "kernel": kernel.tolist(), "bias": bias.tolist(),
                   "loss": [mean_loss(x, y, self.task, *average), mean_loss(x, y, self.task, kernel, bias)]}
        if eval_ds is not None:
            xe, ye = self._collect(eval_ds, self.full_data_logits)
            history["val_loss"] = [mean_loss(xe, ye, self.task, *average), mean_loss(xe, ye, self.task, kernel, bias)]
        return history

    def meta_logits(self, member_logits):
        """Meta-learner on member logits [B, M, U] -> [B, U]."""
        import tensorflow as tf

        m, u = len(self.base), self.task.units
        return self.meta(tf.reshape(tf.cast(member_logits, tf.float32), [-1, m * u]))

    def call(self, inputs, training=False):
        return self.base_logits(inputs, training=training)

    def full_data_logits(self, inputs):
        """[B, M, U]: the full-data copy of every base member (gbdt members run only that copy's trees)."""
        import tensorflow as tf

        parts = []
        for kind, stack in zip(self.member_kinds, self.base):
            if is_tree_kind(kind):
                parts.append(stack(inputs, models=(self.n_folds,))[:, 0])
            else:
                parts.append(stack(inputs)[:, self.n_folds])
        return tf.stack(parts, axis=1)

    def serve(self, inputs) -> dict:
        full = self.full_data_logits(inputs)                                          # [B, M, U]
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

        return dataset.map(plain(add_weights), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def fit_ensemble(self, train_ds, eval_ds, options: FitOptions) -> list[dict]:
        """Phase 1: all base copies in one pass; phase 2: the meta-learner on out-of-fold logits."""
        self.build_on(options.first_inputs(train_ds), options)
        from tfpipe.ensembles.stages import stage

        histories = []
        f, seed = self.n_folds, self.seed
        for kind, stack in zip(self.member_kinds, self.base):
            if is_tree_kind(kind):
                import numpy as np
                import tensorflow as tf

                data = options.require_tree_data()
                out_of_fold = lambda keys: 1.0 - np.eye(f + 1, dtype="float32")[  # noqa: E731
                    fold_ids(tf.constant(keys), f, seed).numpy()]
                with stage(options.stages, f"trees {stack.name}", f"{f + 1} boosters"):
                    histories.append(stack.fit(data.train, data.eval, self.task, data.features,
                                               weights_fn=out_of_fold))
        self.meta.trainable = False
        if any(not is_tree_kind(kind) for kind in self.member_kinds):
            eval_base = None if eval_ds is None else self._base_dataset(eval_ds, holdout=False)
            with stage(options.stages, "keras base members"):
                histories.append(fit_keras(self, self._base_dataset(train_ds, holdout=True), eval_base,
                                           self.task.pointwise_loss, options, phase="base_members"))
        with stage(options.stages, "meta-learner"):
            histories.append(self._fit_meta(train_ds, eval_ds))
        for kind, stack in zip(self.member_kinds, self.base):
            stack.trainable = not is_tree_kind(kind)
        return histories
