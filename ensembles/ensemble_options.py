"""The options of each ensemble kind: one frozen dataclass per kind, holding only what that kind reads.

An option that does not apply to an ensemble has no field to go in (``--folds`` is a field of
:class:`StackingOptions` only), so it cannot be passed by mistake and silently ignored. Every kind has
``members`` (None: the registry's default for the member kinds) and ``member_kinds`` (empty: the kind's
``default_member_kinds`` in :mod:`tfpipe.ensembles.registry`, which names the class of each kind). Values are
checked on creation; the error names the field and echoes the value.

Example::

    >>> BaggingOptions(members=4, member_kinds="linear,dnn", bootstrap=False)
    BaggingOptions(members=4, member_kinds=('linear', 'dnn'), feature_fraction=1.0, bootstrap=False)
    >>> StackingOptions(folds=1)
    Traceback (most recent call last):
    ...
    ValueError: StackingOptions.folds must be an integer >= 2, got 1
"""
from __future__ import annotations

import dataclasses

from tfpipe.ensembles.member_kinds import parse_member_kinds


def _fail(options, name: str, expected: str) -> None:
    raise ValueError(f"{type(options).__name__}.{name} must be {expected}, got {getattr(options, name)!r}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class EnsembleOptions:
    """What every ensemble kind reads: how many members, of which kinds (see the module docstring)."""

    members: int | None = None
    member_kinds: tuple[str, ...] = ()

    def __post_init__(self):
        if self.members is not None and not (_is_int(self.members) and self.members >= 1):
            _fail(self, "members", "None or an integer >= 1")
        kinds = self.member_kinds
        object.__setattr__(self, "member_kinds", () if not kinds else parse_member_kinds(kinds))


@dataclasses.dataclass(frozen=True)
class BaggingOptions(EnsembleOptions):
    """Bagging: ``feature_fraction`` a random subset of the input columns per member; ``bootstrap`` False: every
    member sees every example once (members differ by seed only)."""

    feature_fraction: float = 1.0
    bootstrap: bool = True

    def __post_init__(self):
        super().__post_init__()
        if not (_is_number(self.feature_fraction) and 0 < self.feature_fraction <= 1):
            _fail(self, "feature_fraction", "a number in (0, 1]")
        if not isinstance(self.bootstrap, bool):
            _fail(self, "bootstrap", "True or False")


BOOSTING_ALGORITHMS = ("gradient", "adaboost")


@dataclasses.dataclass(frozen=True)
class BoostingOptions(EnsembleOptions):
    """Boosting: ``algorithm`` gradient | adaboost; ``shrinkage`` the learning rate per stage; ``corrective``
    False skips the joint re-fit of gradient boosting."""

    algorithm: str = "gradient"
    shrinkage: float = 0.5
    corrective: bool = True

    def __post_init__(self):
        super().__post_init__()
        if self.algorithm not in BOOSTING_ALGORITHMS:
            _fail(self, "algorithm", f"one of {BOOSTING_ALGORITHMS}")
        if not (_is_number(self.shrinkage) and self.shrinkage > 0):
            _fail(self, "shrinkage", "a number > 0")
        if not isinstance(self.corrective, bool):
            _fail(self, "corrective", "True or False")


@dataclasses.dataclass(frozen=True)
class StackingOptions(EnsembleOptions):
    """Stacking: ``folds`` K of the K-fold (by example-key hash) that gives the out-of-fold predictions."""

    folds: int = 5

    def __post_init__(self):
        super().__post_init__()
        if not (_is_int(self.folds) and self.folds >= 2):
            _fail(self, "folds", "an integer >= 2")


@dataclasses.dataclass(frozen=True)
class SelectionOptions(EnsembleOptions):
    """Greedy ensemble selection (the default ensemble): no options of its own."""


def own_options(options: EnsembleOptions) -> dict:
    """The options a kind has beyond ``members`` / ``member_kinds`` (what its ``from_options`` reads).

    >>> own_options(BoostingOptions(shrinkage=0.25))
    {'algorithm': 'gradient', 'shrinkage': 0.25, 'corrective': True}
    """
    common = {field.name for field in dataclasses.fields(EnsembleOptions)}
    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options) if f.name not in common}
