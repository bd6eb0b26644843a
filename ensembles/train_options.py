"""What ``tfpipe train`` can be told, as frozen dataclasses checked on creation (the google/grain ``ReadOptions``
style): defaults live on the classes, not in a function signature.

:class:`TrainOptions` nests one group per concern:

- ``ensemble``: the ensemble kind IS the type of this field (one class per kind, holding only what that kind
  reads: :mod:`tfpipe.ensembles.ensemble_options`); default :class:`SelectionOptions`;
- ``keras``: :class:`KerasOptions` of the Keras members (epochs, batch size, hidden widths, learning rate,
  patience);
- ``trees``: :class:`TreeOptions` of the tree members, rounds and early stopping of both libraries, with
  :class:`XGBoostOptions` (``gbdt`` members) and :class:`LightGBMOptions` (``lgbm`` members) apart;
- ``runtime``: :class:`RuntimeOptions` (precision, strategy, XLA, seed, verbosity);
- ``data``: :class:`DataOptions` (the eval carve-out, the cache budget);
- ``task`` (None: from the label) and ``time_limit`` (seconds, ``"auto"`` or None).

Tree options set while the ensemble has no member of that library are refused on creation, naming them; the
command-line flags are a view of these fields (:mod:`tfpipe.ensembles.train_config`).

Example::

    >>> options = TrainOptions(ensemble=BaggingOptions(members=2, member_kinds="linear"),
    ...                        keras=KerasOptions(epochs=1), runtime=RuntimeOptions(verbose=0))
    >>> options.kind, options.member_kinds, options.keras.batch_size
    ('bagging', ('linear',), 256)
    >>> TrainOptions().kind, TrainOptions().member_kinds
    ('selection', ('gbdt', 'lgbm', 'wide_deep'))
    >>> TrainOptions(ensemble=BaggingOptions(), trees=TreeOptions(rounds=10))
    Traceback (most recent call last):
    ...
    ValueError: TrainOptions.trees (rounds=10) applies to gbdt or lgbm members; this is a bagging of wide_deep members: drop it or add a tree member kind
"""
from __future__ import annotations

import dataclasses

from tfpipe.ensembles import registry
from tfpipe.ensembles.ensemble_options import (BaggingOptions, BoostingOptions, EnsembleOptions,  # noqa: F401
                                               SelectionOptions, StackingOptions, _fail, _is_int, _is_number)
from tfpipe.ensembles.member_kinds import is_tree_kind
from tfpipe.ensembles.tree_params import parse_params

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "default", "mirrored", "multi_worker")
JIT_COMPILE = ("auto", "on", "off", True, False)
TREE_DEVICES = ("auto", "cpu", "cuda")
TASKS = ("binary", "multiclass", "regression")


@dataclasses.dataclass(frozen=True)
class KerasOptions:
    """The Keras members' training: ``hidden`` widths of dnn members (wide_deep's deep part; boosting stages use
    the last), ``patience`` epochs without improvement of the eval loss before early stopping."""

    epochs: int = 5
    batch_size: int = 256
    hidden: tuple[int, ...] = (64, 32)
    learning_rate: float = 1e-3
    patience: int = 2

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            if not (_is_int(getattr(self, name)) and getattr(self, name) >= 1):
                _fail(self, name, "an integer >= 1")
        hidden = self.hidden
        if isinstance(hidden, str):
            hidden = tuple(int(w) for w in hidden.split(",") if w.strip())
        if not all(_is_int(w) and w >= 1 for w in hidden):
            _fail(self, "hidden", "integers >= 1")
        object.__setattr__(self, "hidden", tuple(hidden))
        if not (_is_number(self.learning_rate) and self.learning_rate > 0):
            _fail(self, "learning_rate", "a number > 0")
        if not (_is_int(self.patience) and self.patience >= 0):
            _fail(self, "patience", "an integer >= 0")


@dataclasses.dataclass(frozen=True)
class XGBoostOptions:
    """``gbdt`` members: ``params`` XGBoost parameters over tfpipe's defaults (``KEY=VALUE`` strings, pairs or
    a dict), ``device`` auto (CUDA when TensorFlow sees a GPU) | cpu | cuda."""

    params: tuple = ()
    device: str = "auto"

    def __post_init__(self):
        object.__setattr__(self, "params", parse_params(self.params, "--gbdt-param"))
        if self.device not in TREE_DEVICES:
            _fail(self, "device", f"one of {TREE_DEVICES}")


@dataclasses.dataclass(frozen=True)
class LightGBMOptions:
    """``lgbm`` members: ``params`` LightGBM parameters over tfpipe's defaults."""

    params: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "params", parse_params(self.params, "--lgbm-param"))


@dataclasses.dataclass(frozen=True)
class TreeOptions:
    """Tree members of both libraries: ``rounds`` at most, ``early_stopping`` rounds without improvement on the
    eval rows; each library's own options apart."""

    rounds: int = 2000
    early_stopping: int = 50
    xgboost: XGBoostOptions = XGBoostOptions()
    lightgbm: LightGBMOptions = LightGBMOptions()

    def __post_init__(self):
        if not (_is_int(self.rounds) and self.rounds >= 1):
            _fail(self, "rounds", "an integer >= 1")
        if not (_is_int(self.early_stopping) and self.early_stopping >= 0):
            _fail(self, "early_stopping", "an integer >= 0")
        for name, kind in (("xgboost", XGBoostOptions), ("lightgbm", LightGBMOptions)):
            if not isinstance(getattr(self, name), kind):
                _fail(self, name, f"a {kind.__name__}")

    def config(self, **runtime):
        """The trainers' :class:`~tfpipe.ensembles.tree_members.TreeConfig` (``runtime``: its ``cache_bytes`` /
        ``batch_size``, decided by the data, not by the user)."""
        from tfpipe.ensembles.tree_members import TreeConfig

        return TreeConfig(num_boost_round=self.rounds, early_stopping_rounds=self.early_stopping,
                          params=self.xgboost.params, device=self.xgboost.device,
                          lgbm_params=self.lightgbm.params, **runtime)


@dataclasses.dataclass(frozen=True)
class RuntimeOptions:
    """Where and how the training runs: ``precision`` (auto: mixed_float16 for members with a hidden layer >= 512
    units on a GPU), ``strategy`` (``devices``: the mirrored strategy's devices), ``jit_compile`` (XLA: auto, on,
    off), ``seed``, ``verbose`` (0: quiet; "auto": Keras's)."""

    precision: str = "auto"
    strategy: str = "auto"
    devices: tuple | None = None
    jit_compile: bool | str = "auto"
    seed: int = 0
    verbose: int | str = "auto"

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            _fail(self, "precision", f"one of {PRECISIONS}")
        if self.strategy not in STRATEGIES:
            _fail(self, "strategy", f"one of {STRATEGIES}")
        if self.devices is not None:
            object.__setattr__(self, "devices", tuple(self.devices))
        if self.jit_compile not in JIT_COMPILE:
            _fail(self, "jit_compile", "auto, on, off, True or False")
        if not _is_int(self.seed):
            _fail(self, "seed", "an integer")
        if self.verbose not in ("auto", 0, 1, 2):
            _fail(self, "verbose", "auto, 0, 1 or 2")


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """``eval_fraction``: the share of train carved out (by example-key hash) as eval when the data has no eval
    split; ``cache_budget``: bytes (or ``"4G"``-style) for all of training's in-memory data caches together
    (None: a quarter of the RAM; 0 streams every epoch from the shards)."""

    eval_fraction: float = 0.1
    cache_budget: int | None = None

    def __post_init__(self):
        if not (_is_number(self.eval_fraction) and 0 < self.eval_fraction < 1):
            _fail(self, "eval_fraction", "a number in (0, 1)")
        if self.cache_budget is not None:
            from tfpipe.pipelines.storage import parse_bytes

            object.__setattr__(self, "cache_budget", parse_bytes(self.cache_budget, "cache budget"))


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """Everything ``tfpipe train`` can be told, one group per concern (see the module docstring)."""

    ensemble: EnsembleOptions = SelectionOptions()
    keras: KerasOptions = KerasOptions()
    trees: TreeOptions = TreeOptions()
    runtime: RuntimeOptions = RuntimeOptions()
    data: DataOptions = DataOptions()
    task: str | None = None
    time_limit: float | str | None = "auto"

    def __post_init__(self):
        for name, kind in (("ensemble", EnsembleOptions), ("keras", KerasOptions), ("trees", TreeOptions),
                           ("runtime", RuntimeOptions), ("data", DataOptions)):
            if not isinstance(getattr(self, name), kind):
                _fail(self, name, f"a {kind.__name__}")
        registry.of_options(self.ensemble)        # a kind the registry knows
        if self.task is not None and self.task not in TASKS:
            _fail(self, "task", f"None or one of {TASKS}")
        limit = self.time_limit
        if not (limit is None or limit == "auto" or (_is_number(limit) and limit > 0)):
            _fail(self, "time_limit", "seconds > 0, 'auto' or None")
        kinds = self.member_kinds
        checks = (("trees", TreeOptions, ("gbdt", "lgbm"), ("rounds", "early_stopping")),
                  ("trees.xgboost", XGBoostOptions, ("gbdt",), None),
                  ("trees.lightgbm", LightGBMOptions, ("lgbm",), None))
        for path, kind, needs, fields in checks:
            value = self.trees if path == "trees" else getattr(self.trees, path.split(".")[1])
            changed = [f.name for f in dataclasses.fields(kind) if (fields is None or f.name in fields)
                       and getattr(value, f.name) != getattr(kind(), f.name)]
            if changed and not set(needs) & set(kinds):
                given = ", ".join(f"{name}={getattr(value, name)!r}" for name in changed)
                raise ValueError(f"TrainOptions.{path} ({given}) applies to {' or '.join(needs)} members; this is "
                                 f"a {self.kind} of {','.join(kinds)} members: drop it or add a tree member kind")

    @property
    def kind(self) -> str:
        """The ensemble's name in :mod:`tfpipe.ensembles.registry`."""
        return registry.of_options(self.ensemble).name

    @property
    def member_kinds(self) -> tuple:
        """The member kinds the members cycle through: the given ones, else the kind's default."""
        return self.ensemble.member_kinds or registry.of_options(self.ensemble).default_member_kinds

    @property
    def has_trees(self) -> bool:
        return any(map(is_tree_kind, self.member_kinds))

    def replace(self, **changes) -> "TrainOptions":
        """A copy with some groups replaced (``dataclasses.replace``, checked again)."""
        return dataclasses.replace(self, **changes)
