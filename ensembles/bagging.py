"""Bagging: K members trained in ONE pass, each example weighted per member by a Poisson(1) bootstrap weight.

The K members live in :class:`~tfpipe.ensembles.members.MixedMembers`: one
:class:`~tfpipe.ensembles.members.MemberStack` per Keras kind (weights ``[K, in, out]``) and, for ``gbdt``
members, XGBoost boosters trained first with the same per-member weights and compiled to TF ops. Each
training batch gets weights ``[B, K] = poisson_weights(example_key, K, seed)``, a deterministic function of the
example's key, so every epoch sees the same bootstrap sample. The served prediction is the average of the
members' predictions (probabilities for classification, values for regression).

Example (``compiled``, ``train_ds``, ``eval_ds``: compiled features of a preprocessed Adult DIR and its
:func:`~tfpipe.features.make_dataset` batches; tests/test_doctests.py makes them)::

    >>> ens = BaggingEnsemble(Task("binary"), n_members=4, member_kind="wide_deep", hidden=(16,),
    ...                       embedding_specs=compiled.embedding_specs)
    >>> history = ens.fit_ensemble(train_ds, eval_ds, FitOptions(epochs=1, verbose=0))
    >>> history[0]["phase"], len(history[0]["val_loss"])
    ('bagging', 1)
    >>> {name: value.shape for name, value in ens.serve(next(iter(eval_ds))[0]).items()}
    {'predictions': TensorShape([500]), 'member_predictions': TensorShape([500, 4])}
"""
from __future__ import annotations

from tfpipe.ensembles.base import EnsembleModel, FitOptions, fit_keras, label_column
from tfpipe.ensembles.bootstrap import poisson_weights
from tfpipe.ensembles.member_kinds import cycle_kinds, parse_member_kinds
from tfpipe.ensembles.members import MixedMembers
from tfpipe.ensembles.task import Task
from tfpipe.features.graph import plain


class BaggingEnsemble(EnsembleModel):
    """K bootstrap members of one kind, vectorized; ``call`` returns logits [B, K, units]."""

    ensemble_kind = "bagging"

    @classmethod
    def from_options(cls, task: Task, members: int, kinds, options, **common) -> "BaggingEnsemble":
        """``members`` bootstrap members cycling through ``kinds``; ``options`` a
        :class:`~tfpipe.ensembles.ensemble_options.BaggingOptions` (see :mod:`tfpipe.ensembles.registry`)."""
        return cls(task, members, kinds, feature_fraction=options.feature_fraction, bootstrap=options.bootstrap,
                   **common)

    def __init__(self, task: Task, n_members: int = 8, member_kind="wide_deep", hidden=(64, 32),
                 embedding_factory=None, feature_fraction: float = 1.0, seed: int = 0, bootstrap: bool = True,
                 embedding_specs: dict | None = None, gbdt_config=None, **kwargs):
        super().__init__(**kwargs)
        self.task, self.n_members, self.seed = task, int(n_members), int(seed)
        self.member_kinds = cycle_kinds(parse_member_kinds(member_kind), self.n_members)
        self.member_kind = ",".join(dict.fromkeys(self.member_kinds))
        self.bootstrap = bootstrap
        self.members = MixedMembers(self.member_kinds, task.units, hidden=hidden, embedding_factory=embedding_factory,
                                    feature_fraction=feature_fraction, seed=seed, embedding_specs=embedding_specs,
                                    gbdt_config=gbdt_config, name="bagged")

    @property
    def stack(self):
        """The MemberStack of a single-kind Keras ensemble."""
        (_, _, layer), = self.members.groups
        return layer

    def call(self, inputs, training=False):
        return self.members(inputs, training=training)

    def serve(self, inputs) -> dict:
        import tensorflow as tf

        members = self.task.link(self.members(inputs, training=False))    # [B, K] or [B, K, C]
        return {"predictions": tf.reduce_mean(members, axis=1), "member_predictions": members}

    def member_names(self) -> list[str]:
        return [f"{kind}_{k}" for k, kind in enumerate(self.member_kinds)]

    def training_dataset(self, dataset, bootstrap: bool | None = None):
        """Maps ``(inputs, label)`` to ``(inputs, label [B,1,1], weights [B,K])`` (all-ones if not bootstrap)."""
        import tensorflow as tf

        bootstrap = self.bootstrap if bootstrap is None else bootstrap
        k, seed = self.n_members, self.seed

        def add_weights(x, y):
            if bootstrap:
                w = poisson_weights(x["example_key"], k, seed)
            else:
                w = tf.ones([tf.shape(x["example_key"])[0], k], tf.float32)
            return x, label_column(y, 3), w

        return dataset.map(plain(add_weights), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

    def fit_ensemble(self, train_ds, eval_ds, options: FitOptions) -> list[dict]:
        """gbdt members first (XGBoost), then all Keras members in one pass over ``train_ds`` (early stopping on
        ``eval_ds``)."""
        histories = []
        if self.members.has_tree_members:
            import tensorflow as tf

            data = options.require_tree_data()
            k, seed = self.n_members, self.seed
            weights = (lambda keys: poisson_weights(tf.constant(keys), k, seed).numpy()) if self.bootstrap else None
            histories += self.members.fit_gbdt(data.train, data.eval, self.task, data.features, weights_fn=weights)
        if self.members.has_keras_members:
            eval_w = None if eval_ds is None else self.training_dataset(eval_ds, bootstrap=False)
            histories.append(fit_keras(self, self.training_dataset(train_ds), eval_w, self.task.pointwise_loss,
                                       options, phase="bagging"))
        return histories
