"""``lgbm`` members: LightGBM trained on the features stage's ``tree`` block, served as compiled TF ops.

Why a second tree library: in a stack, an XGBoost and a LightGBM member disagree more than two XGBoost members
(leaf-wise vs depth-wise growth, LightGBM's regularized many-vs-many categorical splits vs XGBoost's one-hot
splits), and the meta-learner gains from it. Measured on tfpipe's Adult rows (2 seeds, 10% key carve-out for
early stopping): XGBoost 0.9284–0.9285 AUC, LightGBM 0.9283–0.9289, their logit average 0.9290–0.9292 and log
loss 0.2733–0.2736 (each alone 0.2739–0.2749); the default stack ``gbdt, lgbm, wide_deep, dnn`` 0.9293 / 0.2733
(``benchmarks/adult_accuracy.py``).

**Data feed.** LightGBM builds its bins from a sample of rows and then takes the rows in batches; its streaming
form (``lightgbm.Sequence``) needs random access, which a stream of shards does not have. So the float32 tree
block of the split is collected batch by batch from the (unshuffled) ``tf.data`` dataset and handed over as a list
of arrays (LightGBM reads it per array, no float64 copy of the whole): memory ``rows × features × 4`` bytes plus
LightGBM's binned data (about ``rows × features`` bytes). A split whose block exceeds ``GBDTConfig.cache_bytes``
is refused with a clear message: use ``gbdt`` (XGBoost streams through its ``DataIter``) for data that large.

**Defaults** (:data:`DEFAULT_PARAMS`): learning rate 0.05, 31 leaves, feature fraction 0.5, 255 bins, LightGBM's
own categorical splits; ``deterministic`` row-wise histograms (same data and seed → same trees). Early stopping
on the eval split / key carve-out, like ``gbdt``; the booster is cut at its best round.

Example::

    >>> config = GBDTConfig(lgbm_params={"num_leaves": 15})
    >>> lightgbm_params(config, Task("binary"), seed=0)["objective"]
    'binary'
"""
from __future__ import annotations

import time

import numpy as np

from tfpipe.ensembles.gbdt import GBDTConfig
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


def lightgbm_params(config: GBDTConfig, task: Task, seed: int) -> dict:
    """LightGBM parameters of lgbm members: :data:`DEFAULT_PARAMS`, then ``config.lgbm_params`` (validated by
    :class:`GBDTConfig` against ``LGBM_RESERVED_PARAMS``), then what the task fixes."""
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
    """A split's tree block, labels, example keys and base margins collected batch by batch."""

    def __init__(self, dataset, task: Task, base_margin_fn, limit_bytes: int, name: str):
        blocks, labels, keys, margins = [], [], [], []
        size = 0
        for inputs, y in dataset:
            block = inputs["tree"].numpy().astype("float32", copy=False)
            size += block.nbytes
            if size > limit_bytes:
                raise ValueError(f"lgbm members: the {name} tree block passes GBDTConfig.cache_bytes "
                                 f"({limit_bytes} bytes); use gbdt (XGBoost streams its data) or raise the limit")
            blocks.append(block)
            y = np.asarray(y).reshape(-1)
            labels.append(y.astype("float32") if task.kind == "regression" else y.astype("int32"))
            keys.append(inputs["example_key"].numpy())
            if base_margin_fn is not None:
                margins.append(np.asarray(base_margin_fn(inputs), "float64"))
        self.blocks = blocks
        self.label = np.concatenate(labels) if labels else np.zeros(0, "float32")
        self.keys = np.concatenate(keys) if keys else np.zeros(0, "int64")
        self.margin = None
        if margins:
            m = np.concatenate(margins)
            self.margin = m[:, 0] if m.shape[-1] == 1 else m
        self.rows = len(self.label)

    def dataset(self, categorical: list, params: dict, reference=None):
        import lightgbm as lgb

        dataset_params = {k: params[k] for k in ("max_bin", "verbose", "seed") if k in params}
        return lgb.Dataset(self.blocks, label=self.label, init_score=self.margin, categorical_feature=categorical,
                           params=dataset_params, reference=reference, free_raw_data=False)


def train_lightgbm_boosters(train_ds, eval_ds, task: Task, tree_features, n_models: int, config: GBDTConfig,
                            seed: int = 0, weights_fn=None, base_margin_fn=None, log=print) -> tuple[list, list]:
    """Trains ``n_models`` LightGBM boosters on one binned copy of the data → (boosters, per-model info).

    Same contract as :func:`tfpipe.ensembles.gbdt.train_boosters` (``weights_fn(keys) -> [N, n_models]``,
    ``base_margin_fn(inputs) -> [B, units]``); each booster is cut at its best round on ``eval_ds``."""
    import lightgbm as lgb

    if not tree_features:
        raise ValueError("lgbm members need at least one number or single-valued categorical in the features")
    if config.device == "cuda":
        log("[tfpipe lgbm] LightGBM's PyPI wheel trains on the CPU only; lgbm members train on the CPU")
    params = lightgbm_params(config, task, seed)
    categorical = [i for i, f in enumerate(tree_features) if f.is_categorical]
    start = time.time()
    train = _Split(train_ds, task, base_margin_fn, config.cache_bytes, "train")
    if not train.rows:
        raise ValueError("lgbm members: the train split is empty")
    dtrain = train.dataset(categorical, params).construct()
    valid = None
    if eval_ds is not None:
        held = _Split(eval_ds, task, base_margin_fn, config.cache_bytes, "eval")
        valid = held.dataset(categorical, params, reference=dtrain).construct() if held.rows else None
    feed_seconds = time.time() - start
    weights = None if weights_fn is None else np.asarray(weights_fn(train.keys), "float32")
    boosters, infos = [], []
    for m in range(n_models):
        start = time.time()
        dtrain.set_weight(None if weights is None else np.ascontiguousarray(weights[:, m]))
        callbacks = [lgb.early_stopping(config.early_stopping_rounds, verbose=False)] if (
            valid is not None and config.early_stopping_rounds) else []
        booster = lgb.train({**params, "seed": int(params["seed"]) + m}, dtrain,
                            num_boost_round=config.num_boost_round, valid_sets=[valid] if valid else [],
                            valid_names=["eval"] if valid else [], callbacks=callbacks)
        best = booster.best_iteration if callbacks and booster.best_iteration > 0 else booster.current_iteration()
        scores = dict(booster.best_score).get("eval", {})
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        info = {"rounds": int(best), "seconds": time.time() - start, "feed_seconds": feed_seconds,
                "rows": train.rows, "device": "cpu", "library": "lightgbm"}
        if params["metric"] in scores:
            info["eval_" + params["metric"]] = float(scores[params["metric"]])
        infos.append(info)
        boosters.append(booster)
        log(f"[tfpipe lgbm] model {m + 1}/{n_models}: {best} rounds in {info['seconds']:.1f} s "
            f"({train.rows} rows, data feed {feed_seconds:.1f} s)")
    return boosters, infos
