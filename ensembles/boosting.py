"""Boosting with neural weak learners: gradient boosting (all tasks) and AdaBoost SAMME (classification).

Gradient boosting: ``F_0`` is the prior (log-odds / log class frequencies / mean); stage ``m`` is a small
member ``h_m`` fit to the negative gradient ``r = -dL/dF`` of the loss at the current ensemble ``F_{m-1}``
(computed on the fly from the frozen earlier stages), then ``F_m = F_{m-1} + shrinkage * h_m``. With
``step="newton"`` (the default) the fit is a Newton step as in XGBoost: weighted least squares of ``h_m`` on
``r / w`` with example weights ``w = d2L/dF2`` (``p (1 - p)`` for log loss, ``p_k (1 - p_k)`` per class for
softmax cross-entropy, 1 for squared error), i.e. stage ``m`` minimizes ``mean(w * (h_m - r / w)^2)``
(computed as ``(w h_m - r)^2 / w``, ``w`` floored at ``HESSIAN_FLOOR``), which equals twice the second-order
Taylor expansion of the loss of ``F_{m-1} + h_m`` up to a constant, so it has the same minimizer; with
``step="gradient"`` it is plain least squares on ``r``.
A ``gbdt`` stage (``member_kind="gbdt,dnn"``: the kinds cycle over the stages) is an XGBoost booster trained on
top of ``F_{m-1}`` (XGBoost's ``base_margin``; its own boosting rounds are the Newton steps) and enters unshrunk:
``F_m = F_{m-1} + h_m`` — so ``gbdt,dnn`` is a GBDT whose remaining gradient Keras stages fit.
With ``corrective=True`` all stages are then re-fit jointly on the original loss for one epoch (a "corrective
step" as in GrowNet). ``member_predictions`` are the staged ensembles ``link(F_1) ... link(F_M)``.

AdaBoost (SAMME, multi-class): stage ``m`` minimizes cross-entropy with example weights
``exp(sum_{j<m} alpha_j * [h_j(x) != y])`` (normalized to mean 1 over the training data); after the stage its
weighted error ``err_m`` gives ``alpha_m = log((1 - err_m) / err_m) + log(C - 1)``. The served prediction is
the alpha-weighted average of the stages' class probabilities ("soft" SAMME votes, so it stays a
probability); ``member_predictions`` are the stages' own probabilities.

Example (``compiled``, ``train_ds``, ``eval_ds``: compiled features of a preprocessed Adult DIR and its
:func:`~tfpipe.features.make_dataset` batches; tests/test_doctests.py makes them)::

    >>> ens = BoostingEnsemble(Task("binary"), n_stages=2, algorithm="gradient", hidden=(16,),
    ...                        embedding_specs=compiled.embedding_specs)
    >>> _ = ens.fit_ensemble(train_ds, eval_ds, FitOptions(epochs=1, verbose=0))
    >>> ens.serve(next(iter(eval_ds))[0])["member_predictions"].shape
    TensorShape([500, 2])
"""
from __future__ import annotations

import math

import numpy as np

from tfpipe.ensembles.base import EnsembleModel, FitOptions, fit_keras
from tfpipe.ensembles.member_kinds import cycle_kinds, is_tree_kind, parse_member_kinds
from tfpipe.ensembles.members import make_member
from tfpipe.ensembles.task import Task
from tfpipe.features.graph import graph_function

import keras

ALGORITHMS = ("gradient", "adaboost")
STEPS = ("newton", "gradient")
HESSIAN_FLOOR = 1e-6


def _batch_size(inputs):
    import tensorflow as tf

    for key in ("dense", "wide", "tree"):
        if key in inputs:
            return tf.shape(inputs[key])[0]
    raise ValueError("inputs have no dense, wide or tree block")


class _StageTrainer(keras.Model):
    """Keras model that trains stage ``m``: returns [frozen earlier outputs..., stage m logits] concatenated."""

    def __init__(self, ensemble: "BoostingEnsemble", stage: int, mode: str):
        super().__init__(name=f"stage_trainer_{stage}")
        self.autocast = False   # the tree block stays float32 (see EnsembleModel)
        self.ensemble, self.stage, self.mode = ensemble, stage, mode

    def build(self, input_shape):  # the ensemble is built before training
        self.built = True

    def call(self, inputs, training=False):
        import tensorflow as tf

        ens = self.ensemble
        if self.mode == "corrective":
            return ens.scores(inputs, ens.n_fitted, training=training)
        if self.mode == "gradient":
            prev = tf.stop_gradient(ens.scores(inputs, self.stage))
        h = ens.stages[self.stage](inputs, training=training)[:, 0, :]
        if self.mode == "adaboost":  # all earlier stages' logits, flattened
            if self.stage == 0:
                prev = tf.zeros([tf.shape(h)[0], 0], tf.float32)
            else:
                prev = tf.stop_gradient(tf.reshape(ens.stage_logits(inputs, self.stage),
                                                   [-1, self.stage * ens.task.units]))
        return tf.concat([prev, h], axis=-1)


class BoostingEnsemble(EnsembleModel):
    """``n_stages`` weak learners (``MemberStack`` of one member each) added stage by stage."""

    ensemble_kind = "boosting"

    @classmethod
    def from_options(cls, task: Task, members: int, kinds, options, *, hidden=(32,), **common) -> "BoostingEnsemble":
        """``members`` stages cycling through ``kinds``; a stage's network has one hidden layer (the last of
        ``hidden``); ``options`` a :class:`~tfpipe.ensembles.ensemble_options.BoostingOptions`."""
        return cls(task, members, kinds, hidden=tuple(hidden)[-1:] or (32,), algorithm=options.algorithm,
                   shrinkage=options.shrinkage, corrective=options.corrective, **common)

    def __init__(self, task: Task, n_stages: int = 8, member_kind: str = "dnn", hidden=(32,),
                 embedding_factory=None, shrinkage: float = 0.5, algorithm: str = "gradient",
                 corrective: bool = True, seed: int = 0, step: str = "newton", gbdt_config=None,
                 embedding_specs: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}")
        if algorithm == "adaboost" and not task.is_classification:
            raise ValueError("AdaBoost (SAMME) is for classification; use algorithm='gradient' for regression")
        if step not in STEPS:
            raise ValueError(f"step must be one of {STEPS}")
        self.task, self.n_stages, self.step = task, int(n_stages), step
        self.member_kinds = cycle_kinds(parse_member_kinds(member_kind), self.n_stages)
        self.member_kind = ",".join(dict.fromkeys(self.member_kinds))
        if any(map(is_tree_kind, self.member_kinds)) and algorithm != "gradient":
            raise ValueError("gbdt stages need algorithm='gradient' (AdaBoost re-weights examples per stage)")
        self.algorithm, self.shrinkage, self.corrective, self.seed = algorithm, float(shrinkage), corrective, seed
        self.stages = []
        for m, kind in enumerate(self.member_kinds):
            self.stages.append(make_member(kind, 1, task.units, name=f"stage_{m}", seed=seed + 101 * m,
                                           gbdt_config=gbdt_config, include_base=False, hidden=hidden,
                                           embedding_factory=embedding_factory, embedding_specs=embedding_specs))
        # Per-stage factor of h_m in F: the shrinkage for Keras stages, 1 for gbdt stages (already shrunk by eta).
        self.stage_scale = np.asarray([1.0 if is_tree_kind(kind) else self.shrinkage for kind in self.member_kinds], "float32")
        self.init_score = self.add_weight(name="init_score", shape=(task.units,), initializer="zeros",
                                          trainable=False, dtype="float32", autocast=False)
        # alpha_m (AdaBoost) or 1 (gradient) for fitted stages, 0 for stages not (yet) in the ensemble.
        self.stage_weights = self.add_weight(name="stage_weights", shape=(self.n_stages,), initializer="zeros",
                                             trainable=False, dtype="float32", autocast=False)
        self.n_fitted = 0

    # ---- model --------------------------------------------------------------------------------------
    def stage_logits(self, inputs, upto: int | None = None, training=False):
        """Logits of stages ``0..upto-1`` stacked: [B, upto, units]."""
        import tensorflow as tf

        upto = self.n_stages if upto is None else upto
        if upto == 0:
            return tf.zeros([_batch_size(inputs), 0, self.task.units], tf.float32)
        parts = [self.stages[m](inputs) if is_tree_kind(self.member_kinds[m]) else self.stages[m](inputs, training=training)
                 for m in range(upto)]
        return tf.concat(parts, axis=1)

    def scores(self, inputs, upto: int, training=False):
        """Gradient-boosting scores ``F_upto`` [B, units] (float32)."""
        import tensorflow as tf

        f = tf.zeros([_batch_size(inputs), self.task.units], tf.float32) + self.init_score[None, :]
        if upto == 0:
            return f
        h = tf.cast(self.stage_logits(inputs, upto, training=training), tf.float32)  # [B, upto, U]
        w = self.stage_weights[:upto] * self.stage_scale[:upto]
        return f + tf.einsum("bmu,m->bu", h, w)

    def call(self, inputs, training=False):
        return self.stage_logits(inputs, training=training)

    def serve(self, inputs) -> dict:
        import tensorflow as tf

        h = self.stage_logits(inputs)                                                 # [B, M, U]
        if self.algorithm == "gradient":
            w = self.stage_weights * self.stage_scale
            staged = self.init_score[None, None, :] + tf.cumsum(h * w[None, :, None], axis=1)
            members = self.task.link(staged)
            return {"predictions": self.task.link(staged[:, -1]), "member_predictions": members}
        members = self.task.link(h)                                                   # [B, M] or [B, M, C]
        alphas = self.stage_weights / tf.maximum(tf.reduce_sum(self.stage_weights), 1e-12)
        axes = [1, 0] if self.task.kind == "binary" else [[1], [0]]
        return {"predictions": tf.tensordot(members, alphas, axes=axes) if self.task.kind == "binary"
                else tf.einsum("bmc,m->bc", members, alphas), "member_predictions": members}

    def member_names(self) -> list[str]:
        prefix = "F" if self.algorithm == "gradient" else "stage"
        return [f"{prefix}_{m + 1}" for m in range(self.n_stages)]

    # ---- training -----------------------------------------------------------------------------------
    def _init_prior(self, train_ds) -> None:
        labels = np.concatenate([np.asarray(y).reshape(-1) for _, y in train_ds])
        if self.task.kind == "binary":
            p = float(np.clip(labels.mean(), 1e-4, 1 - 1e-4))
            prior = [math.log(p / (1 - p))]
        elif self.task.kind == "multiclass":
            freq = np.bincount(labels.astype(int), minlength=self.task.n_classes) + 1.0
            prior = list(np.log(freq / freq.sum()))
        else:
            prior = [float(labels.mean())]
        self.init_score.assign(np.asarray(prior, "float32"))

    def _gradient_loss(self, m: int):
        task, u, newton = self.task, self.task.units, self.step == "newton"

        def loss(y_true, out):
            import tensorflow as tf

            prev, h = tf.cast(out[:, :u], tf.float32), tf.cast(out[:, u:], tf.float32)
            target = task.negative_gradient(y_true, prev)
            if not newton:
                return tf.reduce_mean(tf.square(h - target), axis=-1)
            w = self._hessian(prev)
            return tf.reduce_mean(tf.square(w * h - target) / w, axis=-1)   # = w * (h - target / w)^2

        return loss

    def _hessian(self, scores):
        """Diagonal second derivative of the loss w.r.t. the scores [B, units] (floored at ``HESSIAN_FLOOR``)."""
        import tensorflow as tf

        if self.task.kind == "binary":
            p = tf.sigmoid(scores)
            w = p * (1.0 - p)
        elif self.task.kind == "multiclass":
            p = tf.nn.softmax(scores, axis=-1)
            w = p * (1.0 - p)
        else:
            w = tf.ones_like(scores)
        return tf.stop_gradient(tf.maximum(w, HESSIAN_FLOOR))

    def _adaboost_loss(self, m: int, alphas: np.ndarray, norm: float):
        task, u = self.task, self.task.units
        alphas = np.asarray(alphas[:m], "float32")

        def loss(y_true, out):
            import tensorflow as tf

            y = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
            h = out[:, m * u:]
            if m:
                prev = tf.reshape(out[:, :m * u], [-1, m, u])
                miss = tf.cast(tf.not_equal(task.predicted_class(prev), y[:, None]), tf.float32)
                w = tf.exp(tf.reduce_sum(miss * alphas[None, :], axis=1)) / norm
            else:
                w = tf.ones_like(tf.cast(y, tf.float32))
            return w * task.example_loss(y, h)

        return loss

    def _adaboost_error(self, train_ds, m: int, alphas: np.ndarray) -> tuple[float, float]:
        """(weighted error of stage m, mean of the next stage's unnormalized weights)."""
        import tensorflow as tf

        @graph_function(reduce_retracing=True)
        def step(x):
            return self.task.predicted_class(self.stage_logits(x, m + 1))             # [B, m+1]

        err_num = w_sum = 0.0
        next_sum = count = 0.0
        for x, y in train_ds:
            pred = step(x).numpy()
            y = np.asarray(y).reshape(-1)
            miss = (pred != y[:, None]).astype("float64")
            w = np.exp(miss[:, :m] @ alphas[:m]) if m else np.ones(len(y))
            err_num += float((w * miss[:, m]).sum())
            w_sum += float(w.sum())
            alpha_m = alphas[m]
            next_sum += float((w * np.exp(alpha_m * miss[:, m])).sum())
            count += len(y)
        return err_num / max(w_sum, 1e-12), next_sum / max(count, 1.0)

    def fit_ensemble(self, train_ds, eval_ds, options: FitOptions) -> list[dict]:
        """Fits the stages one after another (each ``options.epochs`` epochs, early stopping on eval loss)."""
        self.build_on(options.first_inputs(train_ds), options)
        self._init_prior(train_ds)
        histories = []
        n_classes = max(self.task.n_classes, 2)
        alphas = np.zeros(self.n_stages)
        norm = 1.0
        weights = np.zeros(self.n_stages, "float32")
        for m in range(self.n_stages):
            if is_tree_kind(self.member_kinds[m]):
                histories.append(self._fit_gbdt_stage(m, options))
                weights[m] = 1.0
                self.stage_weights.assign(weights)
                self.n_fitted = m + 1
                continue
            for k, stage in enumerate(self.stages):
                stage.trainable = k == m
            with options.scope():
                trainer = _StageTrainer(self, m, self.algorithm)
            if self.algorithm == "gradient":
                loss = self._gradient_loss(m)
            else:
                loss = self._adaboost_loss(m, alphas, norm)
            histories.append(fit_keras(trainer, train_ds, eval_ds, loss, options, phase=f"stage_{m}"))
            if self.algorithm == "gradient":
                weights[m] = 1.0
            else:
                err, _ = self._adaboost_error(train_ds, m, alphas)
                err = float(np.clip(err, 1e-6, 1 - 1e-6))
                alpha = math.log((1 - err) / err) + math.log(n_classes - 1)
                if alpha <= 0:  # no better than chance: stop (SAMME)
                    histories[-1]["alpha"] = 0.0
                    break
                alphas[m] = alpha
                _, norm = self._adaboost_error(train_ds, m, alphas)
                norm = max(norm, 1e-12)
                weights[m] = alpha
                histories[-1].update({"error": err, "alpha": alpha})
            self.stage_weights.assign(weights)
            self.n_fitted = m + 1
        if self.algorithm == "gradient" and self.corrective and self.n_fitted and not all(
                map(is_tree_kind, self.member_kinds)):
            for kind, stage in zip(self.member_kinds, self.stages):
                stage.trainable = not is_tree_kind(kind)
            with options.scope():
                trainer = _StageTrainer(self, self.n_fitted, "corrective")
            task = self.task
            histories.append(fit_keras(trainer, train_ds, eval_ds,
                                       task.example_loss, options,
                                       phase="corrective", learning_rate=options.learning_rate / 3, epochs=1))
        for kind, stage in zip(self.member_kinds, self.stages):
            stage.trainable = not is_tree_kind(kind)
        return histories

    def _fit_gbdt_stage(self, m: int, options: FitOptions) -> dict:
        """XGBoost on top of ``F_m`` (its ``base_margin``), early stopping on the eval data."""
        import tensorflow as tf

        data = options.require_tree_data()
        margins = graph_function(lambda x: self.scores(x, m), reduce_retracing=True)

        def base_margin(inputs):
            return margins({k: v for k, v in inputs.items() if k != "example_key"}).numpy()

        return self.stages[m].fit(data.train, data.eval, self.task, data.features, base_margin_fn=base_margin)
