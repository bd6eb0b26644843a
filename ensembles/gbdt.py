"""GBDT members: XGBoost trained on the features stage's ``tree`` block, served as compiled TF ops.

**Library.** XGBoost (``xgboost.train``) for member kind ``gbdt``; this module also holds what tree members of
both libraries share (:class:`GBDTConfig`, :class:`GBDTMembers`; LightGBM's ``lgbm`` members train in
:mod:`tfpipe.ensembles.lgbm`). Measured against LightGBM on Adult (same rows, early stopping on the
same 10% carve-out, 2 cores): test AUC 0.9263–0.9274 vs 0.9265–0.9279 over learning rates 0.1–0.03, 1.0–1.6 s vs
0.6–1.1 s. XGBoost is the streaming default for what the rest of tfpipe needs: a streaming iterator API
(``DataIter`` → ``QuantileDMatrix``), float32 thresholds with a strict ``<`` and an explicit default direction
per node (compiled exactly by :mod:`tfpipe.ensembles.trees`; LightGBM compares doubles with ``<=`` and has three
missing-value modes), native categorical splits on integer codes, and CUDA training in the PyPI wheel.

**Data feed.** :class:`TreeBatches` hands XGBoost one batch at a time from a ``tf.data`` dataset of
``(inputs, label)`` (the features stage's ``make_dataset``, NOT shuffled, so every pass sees the same order);
``QuantileDMatrix`` sketches the quantiles in a first pass and keeps only the quantized matrix after the second.
What tfpipe holds: one batch in flight, the example keys (8 bytes a row) and — only when it fits
``GBDTConfig.cache_bytes`` (1 GiB by default) — the float32 tree block cached between XGBoost's passes over the
iterator; never a pandas frame or a float64 copy of the data. Measured (``benchmarks/gbdt_memory.py``, Adult rows
repeated to 0.26 M and 1.0 M, 15 columns): peak RSS grows ~245 bytes a row with or without the cache (~95 of
them expected: bin indices, label, weight, key, cached block; the rest is XGBoost's own per-row training state)
plus ~60 MB fixed.

**Inputs.** Numbers as raw values (NaN = missing), categoricals as integer ids of the fitted vocabularies with
``feature_types="c"`` (XGBoost's partition-based categorical splits); see ``compiled.tree_features``.

**Members.** :class:`GBDTMembers` is ``n_models`` boosters in one layer (``inputs → [B, n_models, units]``
margins): bagging trains each with the member's Poisson(1) example-key weights, stacking each fold copy with
its fold's examples weighted 0, boosting trains on top of the earlier stages' scores (``base_margin``). Early
stopping on the eval split / key carve-out the Keras members use.

Example::

    >>> config = GBDTConfig(num_boost_round=500, params=parse_gbdt_params(["max_depth=4", "eta=0.1"]))
    >>> dict(config.params)["max_depth"]
    4
"""
from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np
import xgboost as xgb

from tfpipe.ensembles.pacing import pace_for
from tfpipe.ensembles.task import Task
from tfpipe.ensembles.trees import compile_boosters, tree_margins

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
# Set by tfpipe itself: overriding them would break what the compiled SavedModel computes.
RESERVED_PARAMS = ("objective", "num_class", "base_score", "booster", "multi_strategy")
# The same for LightGBM (lgbm members, ensembles/lgbm.py; see ensembles/lightgbm_trees.py for what they change).
LGBM_RESERVED_PARAMS = ("objective", "num_class", "sigmoid", "zero_as_missing", "linear_tree", "boosting",
                        "boosting_type", "num_tree_per_iteration")
# Tree member kind (``members.TREE_KINDS``) → the library that trains it.
LIBRARY_OF_KIND = {"gbdt": "xgboost", "lgbm": "lightgbm"}


def parse_gbdt_params(items) -> tuple:
    """``["KEY=VALUE", ...]`` (``--gbdt-param``) → ``((key, value), ...)`` with ints/floats/bools parsed.

    A dict or ``(key, value)`` pairs pass through."""
    if isinstance(items, dict):
        return tuple(items.items())
    out = []
    for item in items or ():
        if isinstance(item, tuple):
            out.append(item)
            continue
        key, sep, raw = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--gbdt-param {item!r}: expected KEY=VALUE")
        value: object = raw.strip()
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                continue
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        out.append((key, value))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class GBDTConfig:
    """How gbdt members train. ``params`` override :data:`DEFAULT_PARAMS` (XGBoost names); ``device``:
    ``auto`` (CUDA when TensorFlow sees a GPU), ``cpu`` or ``cuda``. ``cache_bytes``: XGBoost reads its iterator
    four times while building the quantized matrix; when the float32 tree block of a split (rows × features ×
    4 bytes) fits in this budget it is kept in memory after the first pass (measured on Adult: 0.36 s instead of
    1.1–1.4 s), otherwise every pass streams from the shards. ``batch_size``: rows per batch of that iterator;
    XGBoost's per-batch cost dominates small batches (1M wide-table rows, cached: ``QuantileDMatrix`` 14.1 s at
    8,192 rows a batch, 6.3 s at 65,536, 5.8 s at 262,144)."""

    num_boost_round: int = 2000
    early_stopping_rounds: int = 50
    params: tuple = ()
    lgbm_params: tuple = ()      # LightGBM parameters of lgbm members (ensembles/lgbm.py)
    device: str = "auto"
    batch_size: int = 65536
    cache_bytes: int = 1 << 30

    def __post_init__(self):
        if self.num_boost_round < 1:
            raise ValueError("num_boost_round must be >= 1")
        if self.early_stopping_rounds < 0:
            raise ValueError("early_stopping_rounds must be >= 0")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        params = tuple((str(k), v) for k, v in (dict(self.params).items() if not isinstance(self.params, dict)
                                                   else self.params.items()))
        bad = [k for k, _ in params if k in RESERVED_PARAMS]
        if bad:
            raise ValueError(f"--gbdt-param {bad}: set by tfpipe from the task (it must match the compiled model)")
        object.__setattr__(self, "params", params)
        lgbm = tuple((str(k), v) for k, v in dict(self.lgbm_params).items())
        bad = [k for k, _ in lgbm if k in LGBM_RESERVED_PARAMS]
        if bad:
            raise ValueError(f"--lgbm-param {bad}: set by tfpipe from the task (it must match the compiled model)")
        object.__setattr__(self, "lgbm_params", lgbm)

    def booster_params(self, task: Task, seed: int) -> dict:
        params = {**DEFAULT_PARAMS, **dict(self.params), **task_params(task)}
        params.setdefault("seed", int(seed))
        params["device"] = resolve_device(self.device)
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


def feed(dataset, rows: int, width: int, config: GBDTConfig):
    """``dataset`` cached in memory when its tree block fits ``config.cache_bytes`` (see :class:`GBDTConfig`)."""
    return dataset.cache() if rows * max(width, 1) * 4 <= config.cache_bytes else dataset


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when TensorFlow lists a GPU, else ``cpu``."""
    if device != "auto":
        return device
    import tensorflow as tf

    return "cuda" if tf.config.list_physical_devices("GPU") else "cpu"


def feature_types(tree_features) -> list[str]:
    """XGBoost's ``feature_types`` of the tree block: ``"c"`` for categorical ids, ``"q"`` for numbers."""
    return ["c" if f.is_categorical else "q" for f in tree_features]


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


def train_boosters(train_ds, eval_ds, task: Task, tree_features, n_models: int, config: GBDTConfig,
                   seed: int = 0, weights_fn=None, base_margin_fn=None, log=print,
                   deadline: float | None = None) -> tuple[list, list]:
    """Trains ``n_models`` XGBoost boosters on one quantized copy of the data → (boosters, per-model info).

    ``weights_fn(keys int64 [N]) -> float32 [N, n_models]`` weights the examples of each model (None: all 1).
    Each booster is truncated to its best iteration on ``eval_ds`` (when given). ``deadline``
    (``time.monotonic()``): training stops after the round in which it passes (the booster is still cut at its
    best round so far).
    """
    if not tree_features:
        raise ValueError("gbdt members need at least one number or single-valued categorical in the features")
    params = config.booster_params(task, seed)
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
        info = {"rounds": int(booster.num_boosted_rounds()), "seconds": time.time() - start,
                "feed_seconds": feed_seconds, "rows": batches.rows, "device": params["device"]}
        if pace is not None and pace.paced is not None:
            info["paced_rate"] = pace.paced
        if evals:
            info["eval_" + params["eval_metric"]] = float(
                booster.eval(evals[0][0]).split(":")[-1])
        infos.append(info)
        boosters.append(booster)
        paced = f", eta raised to {info['paced_rate']:.3f} to fit the time limit" if "paced_rate" in info else ""
        log(f"[tfpipe gbdt] model {m + 1}/{n_models}: {info['rounds']} rounds in {info['seconds']:.1f} s "
            f"on {params['device']} ({batches.rows} rows, data feed {feed_seconds:.1f} s{paced})")
    return boosters, infos


class GBDTMembers(keras.layers.Layer):
    """``n_models`` tree members over ``inputs["tree"]`` → margins float32 [B, n_models, units] (zeros until fit).

    ``library``: ``xgboost`` (member kind ``gbdt``) or ``lightgbm`` (``lgbm``, :mod:`tfpipe.ensembles.lgbm`).
    ``include_base=False`` (boosting stages) serves the trees without XGBoost's intercept: the stage was trained
    on top of a given base margin.
    """

    def __init__(self, n_models: int, units: int, config: GBDTConfig | None = None, seed: int = 0,
                 include_base: bool = True, library: str = "xgboost", **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(trainable=False, **kwargs)
        if library not in LIBRARY_OF_KIND.values():
            raise ValueError(f"library must be one of {sorted(LIBRARY_OF_KIND.values())}, got {library!r}")
        self.library = library
        self.n_models, self.units, self.seed = int(n_models), int(units), int(seed)
        self.config = config or GBDTConfig()
        self.include_base = include_base
        self.boosters: tuple = ()
        self.infos: tuple = ()
        self.trees = None          # CompiledTrees: numpy constants, not Keras state (set after the layer is built)
        self._subsets = {}         # (model indices) -> CompiledTrees of those boosters only

    @property
    def fitted(self) -> bool:
        return self.trees is not None

    def fit(self, train_ds, eval_ds, task: Task, tree_features, weights_fn=None, base_margin_fn=None,
            deadline: float | None = None) -> dict:
        """Trains the boosters and compiles them into this layer; returns ``{"phase", "models": [info...]}``.
        ``deadline`` (``time.monotonic()``) ends the training of each booster when it passes."""
        train = train_boosters
        if self.library == "lightgbm":
            from tfpipe.ensembles.lgbm import train_lightgbm_boosters as train
        boosters, infos = train(train_ds, eval_ds, task, tree_features, self.n_models, self.config,
                                seed=self.seed, weights_fn=weights_fn, base_margin_fn=base_margin_fn,
                                deadline=deadline)
        self.set_boosters(boosters)
        self.infos = tuple(infos)
        return {"phase": self.name, "models": infos}

    def set_boosters(self, boosters) -> None:
        if len(boosters) != self.n_models:
            raise ValueError(f"expected {self.n_models} boosters, got {len(boosters)}")
        compiled = self._compile(boosters)
        if compiled.units != self.units:
            raise ValueError(f"boosters have {compiled.units} outputs, the task needs {self.units}")
        self.boosters = tuple(boosters)
        self.trees = compiled
        self._subsets = {}

    def _compile(self, boosters):
        if self.library == "lightgbm":       # no separate intercept: include_base does not apply
            from tfpipe.ensembles.lightgbm_trees import compile_lightgbm

            return compile_lightgbm(boosters)
        return compile_boosters(boosters, include_base=self.include_base)

    def call(self, inputs, models=None):
        """Margins [B, n_models, units]; ``models`` (a tuple of model indices) evaluates only those boosters →
        [B, len(models), units] (stacking serves only its full-data copy: the fold copies' trees are not run)."""
        import tensorflow as tf

        tree = inputs["tree"]
        count = self.n_models if models is None else len(models)
        if self.trees is None:
            return tf.zeros([tf.shape(tree)[0], count, self.units], tf.float32)
        if models is None:
            return tree_margins(self.trees, tree)
        models = tuple(int(m) for m in models)
        if models not in self._subsets:
            self._subsets[models] = self._compile([self.boosters[m] for m in models])
        return tree_margins(self._subsets[models], tree)


def save_boosters(model, directory: str) -> list[str]:
    """Writes every tree member's model of ``model`` to ``directory/{layer}_{i}.json`` (XGBoost) or ``.txt``
    (LightGBM's text format), for inspection or native use; serving does not need them. Returns the paths."""
    import os

    paths = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, GBDTMembers) and layer.fitted:
            os.makedirs(directory, exist_ok=True)
            suffix = "txt" if layer.library == "lightgbm" else "json"
            for i, booster in enumerate(layer.boosters):
                paths.append(os.path.join(directory, f"{layer.name}_{i}.{suffix}"))
                booster.save_model(paths[-1])
    return paths
