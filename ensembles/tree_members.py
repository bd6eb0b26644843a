"""Tree members, whichever library trains them: their config, the Keras layer that serves them as compiled TF
ops, and their files. No tree library is imported here: XGBoost trains ``gbdt`` members
(:mod:`tfpipe.ensembles.xgboost_members`, compiled by :mod:`tfpipe.ensembles.trees`), LightGBM ``lgbm`` members
(:mod:`tfpipe.ensembles.lightgbm_members`, compiled by :mod:`tfpipe.ensembles.lightgbm_trees`); :data:`TRAINERS`
names each library's trainer, imported only when a member of it trains.

**Members.** :class:`TreeMembers` is ``n_models`` boosters in one layer (``inputs["tree"] → [B, n_models, units]``
margins): bagging trains each with the member's Poisson(1) example-key weights, stacking each fold copy with
its fold's examples weighted 0, boosting trains on top of the earlier stages' scores (``base_margin``). Early
stopping on the eval split / key carve-out the Keras members use.

**Inputs.** Numbers as raw values (NaN = missing), categoricals as integer ids of the fitted vocabularies
(:func:`feature_types`); see ``compiled.tree_features``.

Example::

    >>> config = TreeConfig(num_boost_round=500, params=parse_params(["max_depth=4", "eta=0.1"]))
    >>> dict(config.params)["max_depth"]
    4
    >>> TreeConfig(params={"objective": "reg:tweedie"})  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    ValueError: --gbdt-param ['objective']: set by tfpipe from the task (it must match the compiled model)
"""
from __future__ import annotations

import dataclasses

import keras

from tfpipe.ensembles.lightgbm_trees import compile_lightgbm
from tfpipe.ensembles.member_kinds import LIBRARY_OF_KIND
from tfpipe.ensembles.task import Task
from tfpipe.ensembles.tree_params import parse_params
from tfpipe.ensembles.trees import compile_boosters, tree_margins

# Library → (module of its trainer, its function): imported only when a member of that library trains.
TRAINERS = {"xgboost": ("tfpipe.ensembles.xgboost_members", "train_boosters"),
            "lightgbm": ("tfpipe.ensembles.lightgbm_members", "train_lightgbm_boosters")}


@dataclasses.dataclass(frozen=True)
class TreeConfig:
    """How tree members train. ``params``: XGBoost parameters of gbdt members (over
    :data:`tfpipe.ensembles.xgboost_members.DEFAULT_PARAMS`), ``lgbm_params``: LightGBM parameters of lgbm members
    (over :data:`tfpipe.ensembles.lightgbm_members.DEFAULT_PARAMS`); ``device``:
    ``auto`` (CUDA when TensorFlow sees a GPU), ``cpu`` or ``cuda``. ``cache_bytes``: XGBoost reads its iterator
    four times while building the quantized matrix; when the float32 tree block of a split (rows × features ×
    4 bytes) fits in this budget it is kept in memory after the first pass (measured on Adult: 0.36 s instead of
    1.1–1.4 s), otherwise every pass streams from the shards. ``batch_size``: rows per batch of that iterator;
    XGBoost's per-batch cost dominates small batches (1M wide-table rows, cached: ``QuantileDMatrix`` 14.1 s at
    8,192 rows a batch, 6.3 s at 65,536, 5.8 s at 262,144)."""

    num_boost_round: int = 2000
    early_stopping_rounds: int = 50
    params: tuple = ()
    lgbm_params: tuple = ()
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
        object.__setattr__(self, "params", parse_params(self.params, "--gbdt-param"))
        object.__setattr__(self, "lgbm_params", parse_params(self.lgbm_params, "--lgbm-param"))


def booster_info(rounds: int, seconds: float, feed_seconds: float, rows: int, device: str, pace=None) -> dict:
    """What a trainer reports of one booster (``metrics.json``'s history): rounds kept, seconds, the data feed's
    seconds, rows, device, and the learning rate a time limit paced it to (if it did)."""
    info = {"rounds": int(rounds), "seconds": seconds, "feed_seconds": feed_seconds, "rows": rows, "device": device}
    if pace is not None and pace.paced is not None:
        info["paced_rate"] = pace.paced
    return info


def log_booster(log, tag: str, m: int, n_models: int, info: dict, rate_name: str) -> None:
    """The one progress line of a trained booster (``[tfpipe gbdt] model 1/1: 120 rounds in 3.1 s ...``)."""
    paced = f", {rate_name} raised to {info['paced_rate']:.3f} to fit the time limit" if "paced_rate" in info else ""
    on = f" on {info['device']}" if tag == "gbdt" else ""
    log(f"[tfpipe {tag}] model {m + 1}/{n_models}: {info['rounds']} rounds in {info['seconds']:.1f} s{on} "
        f"({info['rows']} rows, data feed {info['feed_seconds']:.1f} s{paced})")


def feed(dataset, rows: int, width: int, config: TreeConfig):
    """``dataset`` cached in memory when its tree block fits ``config.cache_bytes`` (see :class:`TreeConfig`)."""
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


class TreeMembers(keras.layers.Layer):
    """``n_models`` tree members over ``inputs["tree"]`` → margins float32 [B, n_models, units] (zeros until fit).

    ``library``: ``xgboost`` (member kind ``gbdt``, :mod:`tfpipe.ensembles.xgboost_members`) or ``lightgbm``
    (``lgbm``, :mod:`tfpipe.ensembles.lightgbm_members`); its trainer is imported when the layer trains.
    ``include_base=False`` (boosting stages) serves the trees without XGBoost's intercept: the stage was trained
    on top of a given base margin.
    """

    def __init__(self, n_models: int, units: int, config: TreeConfig | None = None, seed: int = 0,
                 include_base: bool = True, library: str = "xgboost", **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(trainable=False, **kwargs)
        if library not in LIBRARY_OF_KIND.values():
            raise ValueError(f"library must be one of {sorted(LIBRARY_OF_KIND.values())}, got {library!r}")
        self.library = library
        self.n_models, self.units, self.seed = int(n_models), int(units), int(seed)
        self.config = config or TreeConfig()
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
        import importlib

        module, function = TRAINERS[self.library]
        train = getattr(importlib.import_module(module), function)
        from tfpipe.ensembles.base import TreeData

        boosters, infos = train(TreeData(train_ds, eval_ds, tree_features), task, self.n_models, self.config,
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
        if isinstance(layer, TreeMembers) and layer.fitted:
            os.makedirs(directory, exist_ok=True)
            suffix = "txt" if layer.library == "lightgbm" else "json"
            for i, booster in enumerate(layer.boosters):
                paths.append(os.path.join(directory, f"{layer.name}_{i}.{suffix}"))
                booster.save_model(paths[-1])
    return paths
