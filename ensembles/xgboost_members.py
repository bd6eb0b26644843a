"""``gbdt`` members: XGBoost trained on the features stage's ``tree`` block (what every tree member shares, the
config, the layer and the files, is :mod:`tfpipe.ensembles.tree_members`; the compiler is
:mod:`tfpipe.ensembles.trees`).

**Why XGBoost.** Measured against LightGBM on Adult (same rows, early stopping on the
same 10% carve-out, 2 cores): test AUC 0.9263–0.9274 vs 0.9265–0.9279 over learning rates 0.1–0.03, 1.0–1.6 s vs
0.6–1.1 s. XGBoost is the streaming default for what the rest of tfpipe needs: a streaming iterator API
(``DataIter`` → ``QuantileDMatrix``), float32 thresholds with a strict ``<`` and an explicit default direction
per node (compiled exactly by :mod:`tfpipe.ensembles.trees`; LightGBM compares doubles with ``<=`` and has three
missing-value modes), native categorical splits on integer codes (``feature_types="c"``), and CUDA training in
the PyPI wheel.

**Data feed.** :class:`TreeBatches` hands XGBoost one batch at a time from a ``tf.data`` dataset of
``(inputs, label)`` (the features stage's ``make_dataset``, NOT shuffled, so every pass sees the same order);
``QuantileDMatrix`` sketches the quantiles in a first pass and keeps only the quantized matrix after the second.
What tfpipe holds: one batch in flight, the example keys (8 bytes a row) and — only when it fits
``TreeConfig.cache_bytes`` (1 GiB by default) — the float32 tree block cached between XGBoost's passes over the
iterator; never a pandas frame or a float64 copy of the data. Measured (``benchmarks/gbdt_memory.py``, Adult rows
repeated to 0.26 M and 1.0 M, 15 columns): peak RSS grows ~245 bytes a row with or without the cache (~95 of
them expected: bin indices, label, weight, key, cached block; the rest is XGBoost's own per-row training state)
plus ~60 MB fixed.

Example::

    >>> params = booster_params(TreeConfig(params={"max_depth": 4}), Task("binary"), seed=0)
    >>> params["max_depth"], params["objective"], params["tree_method"]
    (4, 'binary:logistic', 'hist')
"""
from __future__ import annotations

import time

import numpy as np
import xgboost as xgb

from tfpipe.ensembles.pacing import pace_for
from tfpipe.ensembles.task import Task
from tfpipe.ensembles.tree_members import TreeConfig, booster_info, feature_types, log_booster, resolve_device

DEFAULT_PARAMS = {
    "tree_method": "hist",
    "eta": 0.05,
    "max_depth": 6,
    "min_child_weight": 1.0,
    "subsample": 0.8,
    "colsample_bytree": 0.5,
    "max_bin": 256,
    "max_cat_to_onehot": 64,     # one-hot splits below 64 categories, partition-based above
}


def booster_params(config: TreeConfig, task: Task, seed: int) -> dict:
    """XGBoost's parameters of a gbdt member: :data:`DEFAULT_PARAMS`, then ``config.params``, then what the task
    fixes (:func:`task_params`), the seed and the device."""
    params = {**DEFAULT_PARAMS, **dict(config.params), **task_params(task)}
    params.setdefault("seed", int(seed))
    params["device"] = resolve_device(config.device)
    return params


def task_params(task: Task) -> dict:
    """XGBoost's objective (and class count) and eval metric of ``task``.

    >>> task_params(Task("multiclass", 3))
    {'objective': 'multi:softprob', 'num_class': 3, 'eval_metric': 'mlogloss'}
    """
    if task.kind == "binary":
        return {"objective": "binary:logistic", "eval_metric": "logloss"}
    if task.kind == "multiclass":
        return {"objective": "multi:softprob", "num_class": task.n_classes, "eval_metric": "mlogloss"}
    return {"objective": "reg:squarederror", "eval_metric": "rmse"}


def _label_array(y, task: Task) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    return y.astype("float32") if task.kind == "regression" else y.astype("int32")


class TreeBatches(xgb.DataIter):
    """An ``xgboost.DataIter`` over ``(inputs, label)`` batches: ``inputs["tree"]`` → data, label → label.

    ``base_margin_fn(inputs) -> [B, units]`` adds a base margin (boosting on top of earlier stages). The example
    keys of the first full pass are kept (``keys``) so that per-model weights can be set afterwards.
    """

    def __init__(self, dataset, task: Task, feature_types, base_margin_fn=None):
        super().__init__(release_data=True)
        self.dataset, self.task, self.base_margin_fn = dataset, task, base_margin_fn
        self.feature_types = list(feature_types)
        self._iterator = None
        self._keys, self.keys, self.rows = [], None, 0

    def reset(self):
        self._iterator = None
        if self._keys is not None and self.rows:
            self.keys = np.concatenate(self._keys)
            self._keys = None      # first pass complete: keys known

    def next(self, input_data) -> bool:
        if self._iterator is None:
            self._iterator = iter(self.dataset)
        try:
            inputs, y = next(self._iterator)
        except StopIteration:
            return False
        data = inputs["tree"].numpy()
        kwargs = {"data": data, "label": _label_array(y, self.task), "feature_types": self.feature_types}
        if self.base_margin_fn is not None:
            margin = np.asarray(self.base_margin_fn(inputs), "float32")
            kwargs["base_margin"] = margin[:, 0] if margin.shape[-1] == 1 else margin
        if self._keys is not None:
            self._keys.append(inputs["example_key"].numpy())
            self.rows += len(data)
        input_data(**kwargs)
        return True


class StopAt(xgb.callback.TrainingCallback):
    """Ends XGBoost's training after the round during which ``deadline`` (``time.monotonic()``) passed; with a
    :class:`~tfpipe.ensembles.pacing.Pace`, raises ``eta`` after the probe rounds when the rest would not converge."""

    def __init__(self, deadline: float, pace=None):
        super().__init__()
        self.deadline, self.pace = deadline, pace

    def after_iteration(self, model, epoch, evals_log) -> bool:
        if self.pace is not None:
            rate = self.pace.rate_after(epoch + 1)
            if rate is not None:
                model.set_param("eta", rate)
        return time.monotonic() >= self.deadline


def train_boosters(data, task: Task, n_models: int, config: TreeConfig, *, seed: int = 0, weights_fn=None,
                   base_margin_fn=None, log=print, deadline: float | None = None) -> tuple[list, list]:
    """Trains ``n_models`` XGBoost boosters on one quantized copy of the data → (boosters, per-model info).

    ``data``: a :class:`~tfpipe.ensembles.base.TreeData` (unshuffled train batches, eval batches or None, the
    tree block's features).

    ``weights_fn(keys int64 [N]) -> float32 [N, n_models]`` weights the examples of each model (None: all 1).
    Each booster is truncated to its best iteration on ``eval_ds`` (when given). ``deadline``
    (``time.monotonic()``): training stops after the round in which it passes (the booster is still cut at its
    best round so far).
    """
    train_ds, eval_ds, tree_features = data.train, data.eval, data.features
    if not tree_features:
        raise ValueError("gbdt members need at least one number or single-valued categorical in the features")
    params = booster_params(config, task, seed)
    kinds = feature_types(tree_features)
    common = dict(enable_categorical=True, max_bin=int(params["max_bin"]))
    start = time.time()
    batches = TreeBatches(train_ds, task, kinds, base_margin_fn)
    dtrain = xgb.QuantileDMatrix(batches, **common)
    evals = []
    if eval_ds is not None:
        deval = xgb.QuantileDMatrix(TreeBatches(eval_ds, task, kinds, base_margin_fn), ref=dtrain,
                                    **common)
        evals = [(deval, "eval")]
    feed_seconds = time.time() - start
    weights = None if weights_fn is None else np.asarray(weights_fn(batches.keys), "float32")
    boosters, infos = [], []
    for m in range(n_models):
        start = time.time()
        if weights is not None:
            dtrain.set_weight(weights[:, m])
        pace = pace_for(deadline, params, config.params, config.num_boost_round, "eta")
        booster = xgb.train({**params, "seed": int(dict(params).get("seed", seed)) + m}, dtrain,
                            num_boost_round=config.num_boost_round, evals=evals,
                            early_stopping_rounds=config.early_stopping_rounds if evals else None,
                            verbose_eval=False,
                            callbacks=[StopAt(deadline, pace)] if deadline is not None else None)
        best = getattr(booster, "best_iteration", None) if evals else None
        if best is not None and best + 1 < booster.num_boosted_rounds():
            booster = booster[: best + 1]
        info = booster_info(booster.num_boosted_rounds(), time.time() - start, feed_seconds, batches.rows,
                            params["device"], pace)
        if evals:
            info["eval_" + params["eval_metric"]] = float(booster.eval(evals[0][0]).split(":")[-1])
        infos.append(info)
        boosters.append(booster)
        log_booster(log, "gbdt", m, n_models, info, "eta")
    return boosters, infos
