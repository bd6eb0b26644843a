"""``lgbm`` members: LightGBM trained on the features stage's ``tree`` block, served as compiled TF ops.

Why a second tree library: in a stack, an XGBoost and a LightGBM member disagree more than two XGBoost members
(leaf-wise vs depth-wise growth, LightGBM's regularized many-vs-many categorical splits vs XGBoost's one-hot
splits), and the meta-learner gains from it. Measured on tfpipe's Adult rows (2 seeds, 10% key carve-out for
early stopping): XGBoost 0.9284–0.9285 AUC, LightGBM 0.9283–0.9289, their logit average 0.9290–0.9292 and log
loss 0.2733–0.2736 (each alone 0.2739–0.2749); the default stack ``gbdt, lgbm, wide_deep, dnn`` 0.9293 / 0.2733
(``benchmarks/adult_accuracy.py``).

**Data feed: streamed.** LightGBM builds its bins from a sample of rows and then takes the rows in consecutive
slices (its ``lightgbm.Sequence`` interface). It asks for the sample row by row in increasing order, so a
forward-only sequence over the (unshuffled) ``tf.data`` batches serves it without random access: one pass for the
labels, keys and base margins (12-20 bytes a row), one partial pass for the bin sample
(``bin_construct_sample_cnt`` rows, 200,000 by default, as float64 columns) and one for the rows themselves.
What tfpipe holds: one batch and those few bytes a row; LightGBM holds its binned data (about ``rows × features``
bytes). The passes read the shards again unless the tree block fits its share of the cache budget
(``TreeConfig.cache_bytes``; ``tfpipe train --cache-budget``), in which case ``tf.data`` caches it in memory.

**Defaults** (:data:`DEFAULT_PARAMS`): learning rate 0.05, 31 leaves, feature fraction 0.5, 255 bins, LightGBM's
own categorical splits; ``deterministic`` row-wise histograms (same data and seed → same trees). Early stopping
on the eval split / key carve-out, like ``gbdt``; the booster is cut at its best round.

Example::

    >>> config = TreeConfig(lgbm_params={"num_leaves": 15})
    >>> lightgbm_params(config, Task("binary"), seed=0)["objective"]
    'binary'
"""
from __future__ import annotations

import time

import lightgbm as lgb
import numpy as np

from tfpipe.ensembles.tree_members import TreeConfig, booster_info, log_booster
from tfpipe.ensembles.pacing import Pace, pace_for
from tfpipe.ensembles.task import Task

DEFAULT_PARAMS = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "feature_fraction": 0.5,
    "max_bin": 255,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}


def lightgbm_params(config: TreeConfig, task: Task, seed: int) -> dict:
    """LightGBM parameters of lgbm members: :data:`DEFAULT_PARAMS`, then ``config.lgbm_params`` (validated by
    :class:`TreeConfig` against ``tree_params.LIGHTGBM_RESERVED_PARAMS``), then what the task fixes."""
    params = {**DEFAULT_PARAMS, **dict(config.lgbm_params)}
    if task.kind == "binary":
        params.update(objective="binary", metric="binary_logloss")
    elif task.kind == "multiclass":
        params.update(objective="multiclass", num_class=task.n_classes, metric="multi_logloss")
    else:
        params.update(objective="regression", metric="l2")
    params.setdefault("seed", int(seed))
    return params


class _Split:
    """A split for LightGBM: labels, example keys and base margins (one pass, a few bytes a row) and the tree block
    as a forward-only :class:`lightgbm.Sequence` over the same batches (see the module docstring)."""

    def __init__(self, dataset, task: Task, base_margin_fn, width: int):
        labels, keys, margins = [], [], []
        batch_size = 0
        for inputs, y in dataset:
            y = np.asarray(y).reshape(-1)
            batch_size = max(batch_size, len(y))
            labels.append(y.astype("float32") if task.kind == "regression" else y.astype("int32"))
            keys.append(inputs["example_key"].numpy())
            if base_margin_fn is not None:
                margins.append(np.asarray(base_margin_fn(inputs), "float64"))
        self.label = np.concatenate(labels) if labels else np.zeros(0, "float32")
        self.keys = np.concatenate(keys) if keys else np.zeros(0, "int64")
        self.margin = None
        if margins:
            m = np.concatenate(margins)
            self.margin = m[:, 0] if m.shape[-1] == 1 else m
        self.rows = len(self.label)
        self.blocks = _ForwardBlocks(dataset, self.rows, width, batch_size or 4096)

    def dataset(self, categorical: list, params: dict, reference=None):
        dataset_params = {k: params[k] for k in ("max_bin", "verbose", "seed") if k in params}
        return lgb.Dataset(self.blocks, label=self.label, init_score=self.margin, categorical_feature=categorical,
                           params=dataset_params, reference=reference, free_raw_data=False)


class _ForwardBlocks(lgb.Sequence):
    """The ``tree`` block of an unshuffled ``(inputs, label)`` dataset as a ``lightgbm.Sequence`` that only reads
    forward: LightGBM asks for its bin sample row by row in increasing order, then for consecutive slices; a
    request behind the current batch starts a new pass over the dataset (same order every pass). Holds one batch.
    """

    def __init__(self, dataset, rows: int, width: int, batch_size: int):
        self.dataset, self.rows, self.width, self.batch_size = dataset, int(rows), int(width), int(batch_size)
        self.passes = 0
        self._restart()

    def _restart(self):
        self._iterator, self._start = None, 0
        self._block = np.zeros((0, self.width), "float32")

    def _seek(self, row: int) -> None:
        if row < self._start or self._iterator is None:
            self._restart()
            self._iterator = iter(self.dataset)
            self.passes += 1
        while row >= self._start + len(self._block):
            self._start += len(self._block)
            self._block = next(self._iterator)[0]["tree"].numpy()

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, _ = index.indices(self.rows)
            parts, row = [], start
            while row < stop:
                self._seek(row)
                end = min(stop, self._start + len(self._block))
                parts.append(self._block[row - self._start:end - self._start])
                row = end
            return np.concatenate(parts) if parts else np.zeros((0, self.width), "float32")
        row = int(index)       # a row of LightGBM's bin sample, which it wants as float64
        self._seek(row)
        return self._block[row - self._start].astype("float64")


def _stop_at(deadline: float, early_stopping):
    """A LightGBM callback ending training after the round in which ``deadline`` (``time.monotonic()``) passed,
    reporting the early-stopping callback's best round so far (or the current round without one)."""

    def callback(env):
        if time.monotonic() < deadline:
            return
        if early_stopping is not None and getattr(early_stopping, "best_iter", None):
            raise lgb.callback.EarlyStopException(early_stopping.best_iter[0], early_stopping.best_score_list[0])
        raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    callback.order = 40     # after lgb.early_stopping (30), which has then seen this round
    return callback


def _paced(pace: Pace):
    """A LightGBM callback run before each round: after the probe rounds, raises ``learning_rate`` when
    :class:`~tfpipe.ensembles.pacing.Pace` says the rest would not converge before the deadline."""

    def callback(env):
        rate = pace.rate_after(env.iteration - env.begin_iteration)
        if rate is not None:
            env.model.reset_parameter({"learning_rate": rate})

    callback.before_iteration = True
    callback.order = 10
    return callback


def train_lightgbm_boosters(data, task: Task, n_models: int, config: TreeConfig, *, seed: int = 0,
                            weights_fn=None, base_margin_fn=None, log=print,
                            deadline: float | None = None) -> tuple[list, list]:
    """Trains ``n_models`` LightGBM boosters on one binned copy of the data → (boosters, per-model info).

    Same contract as :func:`tfpipe.ensembles.xgboost_members.train_boosters` (``weights_fn(keys) -> [N, n_models]``,
    ``base_margin_fn(inputs) -> [B, units]``, ``deadline``); each booster is cut at its best round on
    ``data.eval``."""
    train_ds, eval_ds, tree_features = data.train, data.eval, data.features

    if not tree_features:
        raise ValueError("lgbm members need at least one number or single-valued categorical in the features")
    if config.device == "cuda":
        log("[tfpipe lgbm] LightGBM's PyPI wheel trains on the CPU only; lgbm members train on the CPU")
    params = lightgbm_params(config, task, seed)
    categorical = [i for i, f in enumerate(tree_features) if f.is_categorical]
    start = time.time()
    width = len(tree_features)
    train = _Split(train_ds, task, base_margin_fn, width)
    if not train.rows:
        raise ValueError("lgbm members: the train split is empty")
    dtrain = train.dataset(categorical, params).construct()
    valid = None
    if eval_ds is not None:
        held = _Split(eval_ds, task, base_margin_fn, width)
        valid = held.dataset(categorical, params, reference=dtrain).construct() if held.rows else None
    feed_seconds = time.time() - start
    weights = None if weights_fn is None else np.asarray(weights_fn(train.keys), "float32")
    boosters, infos = [], []
    for m in range(n_models):
        start = time.time()
        dtrain.set_weight(None if weights is None else np.ascontiguousarray(weights[:, m]))
        callbacks = [lgb.early_stopping(config.early_stopping_rounds, verbose=False)] if (
            valid is not None and config.early_stopping_rounds) else []
        if deadline is not None:
            callbacks.append(_stop_at(deadline, callbacks[0] if callbacks else None))
        pace = pace_for(deadline, params, config.lgbm_params, config.num_boost_round, "learning_rate")
        if pace is not None:
            callbacks.append(_paced(pace))
        booster = lgb.train({**params, "seed": int(params["seed"]) + m}, dtrain,
                            num_boost_round=config.num_boost_round, valid_sets=[valid] if valid else [],
                            valid_names=["eval"] if valid else [], callbacks=callbacks)
        best = booster.best_iteration if callbacks and booster.best_iteration > 0 else booster.current_iteration()
        best = min(best, booster.current_iteration())
        scores = dict(booster.best_score).get("eval", {})
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        info = {**booster_info(best, time.time() - start, feed_seconds, train.rows, "cpu", pace),
                "library": "lightgbm"}
        if params["metric"] in scores:
            info["eval_" + params["metric"]] = float(scores[params["metric"]])
        infos.append(info)
        boosters.append(booster)
        log_booster(log, "lgbm", m, n_models, info, "learning_rate")
    return boosters, infos
