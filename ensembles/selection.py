"""Selection: every member trained once, weighted by greedy ensemble selection on the eval rows; members that do
not pay are dropped from the served model. ``tfpipe train``'s default.

Members (default ``gbdt, lgbm, wide_deep``) are trained in order of their expected value per second: the tree
members first (one booster each, early stopping on the eval split / key carve-out), then all Keras members in
ONE pass (early stopping on the same eval rows; the pass also ends once greedy selection has given the Keras
members no weight beside the trees for ``patience`` epochs, :class:`_StopWhenUnpaid`). No fold copies: each member costs what it costs alone, so the
ensemble costs the sum of its members (stacking trains ``folds + 1`` copies of each). The weights come from
:func:`tfpipe.ensembles.greedy_selection.select` (Caruana et al. 2004) on the members' eval predictions; the
served prediction is the weighted average of the kept members' predictions (probabilities / values), and a
member of weight 0 is removed from the model (not exported, not run), which the log and ``metrics.json``'s
history (phase ``selection``) say. The eval rows both stop the members and choose the weights: a mild optimism
of the eval metrics, none on the other splits.

With ``FitOptions.deadline`` (``--time-limit``) each tree member gets its share of the time left
(:func:`_share`: twice the Keras pass's), a tree member paces its learning rate to that share
(:mod:`tfpipe.ensembles.pacing`), a member is only started while time is left (the first always
is), and a member in training stops at its deadline with what it has learnt (trees: the rounds so far, cut at
their best eval round; Keras: the best epoch so far); a Keras member that never trained is dropped. So the
ensemble always ends valid.

Example (``compiled``, ``train_ds``, ``eval_ds``: compiled features of a preprocessed Adult DIR and its
:func:`~tfpipe.features.make_dataset` batches; tests/test_doctests.py makes them)::

    >>> ens = SelectionEnsemble(Task("binary"), member_kinds=("linear", "dnn"), hidden=(16,),
    ...                         embedding_specs=compiled.embedding_specs)
    >>> _ = ens.fit_ensemble(train_ds, eval_ds, FitOptions(epochs=1, verbose=0))
    >>> ens.serve(next(iter(eval_ds))[0])["predictions"].shape, 1 <= len(ens.member_names()) <= 2
    (TensorShape([500]), True)
"""
from __future__ import annotations

import time

import keras
import numpy as np

from tfpipe.ensembles.base import EnsembleModel, FitOptions, fit_keras, label_column
from tfpipe.ensembles.member_kinds import is_tree_kind
from tfpipe.ensembles.members import make_member
from tfpipe.ensembles.task import Task
from tfpipe.features.graph import graph_function, plain


class SelectionEnsemble(EnsembleModel):
    """Members trained once each; greedy-selection weights on the eval rows; weight-0 members dropped."""

    ensemble_kind = "selection"

    @classmethod
    def from_options(cls, task: Task, members: int, kinds, options=None, **common) -> "SelectionEnsemble":
        """``members`` members cycling through ``kinds`` (``options``: a
        :class:`~tfpipe.ensembles.ensemble_options.SelectionOptions`, which has nothing of its own)."""
        from tfpipe.ensembles.member_kinds import cycle_kinds

        return cls(task, cycle_kinds(kinds, max(members, 1)), **common)

    def __init__(self, task: Task, member_kinds=("gbdt", "lgbm", "wide_deep"), hidden=(64, 32),
                 embedding_factory=None, seed: int = 0, embedding_specs: dict | None = None, gbdt_config=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.task, self.seed = task, int(seed)
        self.member_kinds = tuple(member_kinds)
        self.names = [f"{kind}_{i}" for i, kind in enumerate(self.member_kinds)]
        self.base = []
        for i, kind in enumerate(self.member_kinds):
            self.base.append(make_member(kind, 1, task.units, name=f"member_{i}_{kind}", seed=seed + 7 * i,
                                         gbdt_config=gbdt_config, hidden=hidden, embedding_factory=embedding_factory,
                                         embedding_specs=embedding_specs))
        self.member_weights = np.full(len(self.base), 1.0 / max(len(self.base), 1), "float32")

    def member_logits(self, inputs, training=False):
        """[B, M, U]: every member's logits (trees give zeros while the Keras members train)."""
        import tensorflow as tf

        parts = []
        for kind, member in zip(self.member_kinds, self.base):
            if is_tree_kind(kind) and training:
                parts.append(tf.zeros([tf.shape(inputs["tree"])[0], self.task.units]))
            elif is_tree_kind(kind):
                parts.append(member(inputs)[:, 0])
            else:
                parts.append(member(inputs, training=training)[:, 0])
        return tf.stack(parts, axis=1)

    def call(self, inputs, training=False):
        """[B, K, U]: the Keras members' logits (what their one training pass fits; trees are not run)."""
        import tensorflow as tf

        return tf.stack([member(inputs, training=training)[:, 0] for kind, member in
                         zip(self.member_kinds, self.base) if not is_tree_kind(kind)], axis=1)

    def serve(self, inputs) -> dict:
        import tensorflow as tf

        members = self.task.link(self.member_logits(inputs))                      # [B, M] or [B, M, C]
        w = tf.constant(self.member_weights, tf.float32)
        w = tf.reshape(w, [1, -1] + [1] * (members.shape.rank - 2))
        return {"predictions": tf.reduce_sum(members * w, axis=1), "member_predictions": members}

    def member_names(self) -> list[str]:
        return list(self.names)

    def _predictions(self, dataset):
        """Members' served predictions [N, M(, C)] and labels [N] over ``dataset``, in example-key order."""
        import tensorflow as tf

        step = graph_function(lambda x: self.task.link(self.member_logits(x)), reduce_retracing=True)
        preds, labels, _ = eval_predictions(step, dataset)
        return preds, labels

    def _keep(self, keep: list[int]) -> None:
        """Removes every member not in ``keep`` (their layers are no longer tracked, exported or run)."""
        dropped = [layer for i, layer in enumerate(self.base) if i not in keep]
        # Keras keeps a layer it once tracked in _layers (its variables would still be exported): untrack them
        self._layers[:] = [layer for layer in self._layers if not any(layer is d for d in dropped)]
        self.base = [self.base[i] for i in keep]
        self.member_kinds = tuple(self.member_kinds[i] for i in keep)
        self.names = [self.names[i] for i in keep]
        self.member_weights = np.asarray(self.member_weights[keep], "float32")

    def fit_ensemble(self, train_ds, eval_ds, options: FitOptions) -> list[dict]:
        """Tree members one by one, then the Keras members in one pass, then the selection (see the module)."""
        from tfpipe.ensembles.greedy_selection import select
        from tfpipe.ensembles.stages import stage

        if eval_ds is None:
            raise ValueError("selection needs eval rows (an eval split or the key carve-out) to weigh its members")
        self.build_on(options.first_inputs(train_ds), options)
        histories, trained, skipped, unpaid = [], [], [], None
        log = (lambda message: print(message, flush=True)) if options.verbose != 0 else (lambda message: None)
        order = [i for i, k in enumerate(self.member_kinds) if is_tree_kind(k)]
        keras_members = [i for i, k in enumerate(self.member_kinds) if not is_tree_kind(k)]
        last_seconds = 0.0
        for position, i in enumerate(order):
            left = _seconds_left(options)
            if trained and left is not None and left < 0.5 * last_seconds:
                skipped.append(i)
                log(f"[tfpipe train] selection: {self.names[i]} skipped ({left:.0f} s left, the last member took "
                    f"{last_seconds:.0f} s)")
                continue
            rest = [self.names[j] for j in order[position + 1:] + keras_members]
            log(f"[tfpipe train] selection: training {self.names[i]} ({position + 1} of {len(self.names)}"
                f"{'; then ' + ', '.join(rest) if rest else ''}{_budget(left)})")
            data = options.require_tree_data()
            start = time.monotonic()
            with stage(options.stages, f"member {self.names[i]}"):
                histories.append(self.base[i].fit(data.train, data.eval, self.task, data.features,
                                                  deadline=_share(options.deadline, len(order) - position,
                                                                  bool(keras_members))))
            last_seconds = time.monotonic() - start
            trained.append(i)
        if keras_members:
            left = _seconds_left(options)
            if trained and left is not None and left < 0.5 * last_seconds:
                skipped += keras_members
                log(f"[tfpipe train] selection: {', '.join(self.names[i] for i in keras_members)} skipped "
                    f"({max(left, 0):.0f} s left, the last member took {last_seconds:.0f} s)")
            else:
                log(f"[tfpipe train] selection: training {', '.join(self.names[i] for i in keras_members)} in one "
                    f"pass{_budget(left)}")
                eval_keras = eval_ds.map(plain(lambda x, y: (x, label_column(y, 3))))
                unpaid = _StopWhenUnpaid(self, eval_ds, trained, options.patience or 1) if trained else None
                with stage(options.stages, "keras members"):
                    history = fit_keras(self, train_ds.map(plain(lambda x, y: (x, label_column(y, 3)))), eval_keras,
                                        self.task.pointwise_loss, options, phase="members",
                                        callbacks=[unpaid] if unpaid else [])
                if unpaid is not None and unpaid.stopped_after:
                    history["stopped_unpaid_after_epoch"] = unpaid.stopped_after
                    log(f"[tfpipe train] selection: Keras pass stopped after epoch {unpaid.stopped_after}: "
                        f"{unpaid.patience} epoch(s) in a row without weight beside the tree members")
                histories.append(history)
                trained += keras_members
        with stage(options.stages, "selection"):
            if unpaid is not None:   # the trees' eval predictions are known: only the Keras members run again
                preds, y = unpaid.all_predictions(len(self.base), keras_members)
            else:
                preds, y = self._predictions(eval_ds)
            weights = np.zeros(len(self.base))
            chosen, losses = select(preds[:, trained], y, self.task)
            weights[trained] = chosen
        self.member_weights = weights.astype("float32")
        keep = [i for i in range(len(self.base)) if weights[i] > 0]
        dropped = [self.names[i] for i in range(len(self.base)) if i not in keep]
        history = {"phase": "selection", "weights": {self.names[i]: float(weights[i]) for i in keep},
                   "dropped": dropped, "skipped": [self.names[i] for i in skipped], "val_loss": losses,
                   "member_val_loss": {self.names[i]: _single_loss(preds[:, i], y, self.task) for i in trained}}
        log("[tfpipe train] selection: weights " + ", ".join(f"{self.names[i]} {weights[i]:.2f}" for i in keep) +
            (f"; dropped {', '.join(dropped)} (no gain on the eval loss"
             f"{' or not trained in time' if skipped else ''})" if dropped else ""))
        histories.append(history)
        self._keep(keep)
        for kind, member in zip(self.member_kinds, self.base):
            member.trainable = not is_tree_kind(kind)
        return histories


class _StopWhenUnpaid(keras.callbacks.Callback):
    """Ends the Keras pass once greedy selection, on the eval rows, has given its members no weight beside the
    trained tree members for ``patience`` epochs in a row: they would be dropped, and more epochs would be paid
    for nothing (UCI Adult: 2 of 5 epochs, ~60% of the pass; a table where the network pays keeps training).
    The tree members' eval predictions are computed once, the Keras members' after each epoch; both in
    example-key order (:func:`eval_predictions`), as the eval rows may come in another order on every pass."""

    def __init__(self, ensemble: "SelectionEnsemble", eval_ds, trees: list[int], patience: int):
        import tensorflow as tf

        super().__init__()
        self.ensemble, self.eval_ds, self.trees, self.patience = ensemble, eval_ds, list(trees), int(patience)
        self.unpaid, self.stopped_after = 0, None
        link = ensemble.task.link
        self._trees = graph_function(lambda x: link(tf.stack([ensemble.base[i](x)[:, 0] for i in trees], axis=1)),
                                  reduce_retracing=True)
        self._keras = graph_function(lambda x: link(ensemble(x, training=False)), reduce_retracing=True)
        self.tree_preds, self.labels, self.keys = eval_predictions(self._trees, eval_ds)

    def keras_predictions(self) -> np.ndarray:
        """The Keras members' eval predictions [N, K(, C)] now, row for row with ``tree_preds``."""
        preds, _, keys = eval_predictions(self._keras, self.eval_ds)
        if not np.array_equal(keys, self.keys):
            raise RuntimeError("the eval rows changed between two passes over the eval split")
        return preds

    def all_predictions(self, members: int, keras_members: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Every member's eval predictions [N, M(, C)] (0 for a member neither trained nor a Keras member) and the
        labels: the trees' from the first pass, the Keras members' with their weights now."""
        keras_preds = self.keras_predictions()
        preds = np.zeros((len(self.labels), members) + keras_preds.shape[2:], keras_preds.dtype)
        preds[:, self.trees] = self.tree_preds
        preds[:, keras_members] = keras_preds
        return preds, self.labels

    def on_epoch_end(self, epoch, logs=None):
        pays = keras_pays(self.tree_preds, self.keras_predictions(), self.labels, self.ensemble.task)
        self.unpaid = 0 if pays else self.unpaid + 1
        if self.unpaid >= self.patience:
            self.stopped_after = epoch + 1
            self.model.stop_training = True


def eval_predictions(fn, dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``fn(inputs)`` over ``dataset``'s batches → (predictions, labels, example keys), sorted by example key.

    Two passes over a dataset read in parallel without a fixed order (``make_dataset``'s default) then line up
    row for row; rows with equal keys are identical records (the key is their hash), so their order is moot.

    >>> import tensorflow as tf
    >>> ds = tf.data.Dataset.from_tensor_slices(({"example_key": [3, 1, 2]}, [30, 10, 20])).batch(2)
    >>> preds, labels, keys = eval_predictions(lambda x: x["example_key"] * 2, ds)
    >>> preds.tolist(), labels.tolist(), keys.tolist()
    ([2, 4, 6], [10, 20, 30], [1, 2, 3])
    """
    preds, labels, keys = [], [], []
    for x, y in dataset:
        preds.append(np.asarray(fn(x)))
        labels.append(np.asarray(y).reshape(-1))
        keys.append(np.asarray(x["example_key"]))
    keys = np.concatenate(keys)
    order = np.argsort(keys, kind="stable")
    return np.concatenate(preds)[order], np.concatenate(labels)[order], keys[order]


def keras_pays(tree_preds: np.ndarray, keras_preds: np.ndarray, y: np.ndarray, task: Task) -> bool:
    """True when greedy selection on held-out rows gives the Keras members' predictions (``[N, K]``) some weight
    beside the tree members' (``[N, T]``).

    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 2000); y = (rng.uniform(size=2000) < p).astype(int)
    >>> noisy = np.clip(p + rng.normal(0, 0.3, 2000), 0.01, 0.99)
    >>> keras_pays(p[:, None], 1 - p[:, None], y, Task("binary"))        # the mirror image: no weight
    False
    >>> keras_pays(noisy[:, None], p[:, None], y, Task("binary"))        # better than the trees: weight
    True
    """
    from tfpipe.ensembles.greedy_selection import select

    weights, _ = select(np.concatenate([tree_preds, keras_preds], axis=1), y, task)
    return bool(weights[tree_preds.shape[1]:].sum() > 0)


TREE_SHARE, KERAS_SHARE = 2.0, 1.0    # a tree member's share of the time left, against the one Keras pass


def _share(deadline: float | None, trees_left: int, keras_pass: bool) -> float | None:
    """The deadline of the next tree member: its share of the time left, ``TREE_SHARE`` for each tree member still
    to train (this one included) against ``KERAS_SHARE`` for the Keras pass (when there is one). A member that
    ends early leaves its time to the next ones.

    >>> import time
    >>> now = time.monotonic(); round(_share(now + 50, 2, True) - now)     # 2 / (2 + 2 + 1) of 50 s
    20
    """
    if deadline is None:
        return None
    now = time.monotonic()
    total = TREE_SHARE * trees_left + (KERAS_SHARE if keras_pass else 0.0)
    return now + max(deadline - now, 0.0) * TREE_SHARE / total


def _seconds_left(options: FitOptions) -> float | None:
    return None if options.deadline is None else options.deadline - time.monotonic()


def _budget(left: float | None) -> str:
    return "" if left is None else f"; {max(left, 0):.0f} s of the time limit left"


def _single_loss(prediction, y, task: Task) -> float:
    from tfpipe.ensembles.greedy_selection import _loss

    y = np.asarray(y).reshape(-1)
    return _loss(np.asarray(prediction, "float64"), y.astype("int64") if task.kind == "multiclass" else
                 y.astype("float64"), task)
