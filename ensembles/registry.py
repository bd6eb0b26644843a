"""The ensemble kinds ``tfpipe train`` knows: the one place that lists them.

Each entry names the class (imported only when a model is built, so the CLI and ``--help`` stay free of
TensorFlow), the member kinds used when ``--member-kind`` is not given, and the frozen dataclass of the options
only that ensemble reads (:mod:`tfpipe.ensembles.ensemble_options`: an option of another kind has no field to go
in). The class maps its options to its constructor in its own ``from_options`` classmethod, so adding an
ensemble is one class, one options dataclass and one line here — no if/elif elsewhere.

Example::

    >>> names()
    ('bagging', 'boosting', 'stacking', 'selection')
    >>> get("selection").members_for(("gbdt", "lgbm", "wide_deep")), get("bagging").members_for(("dnn",))
    (3, 8)
    >>> get("stacking").default_member_kinds
    ('gbdt', 'lgbm', 'wide_deep', 'dnn')
    >>> get("bagging").options.__name__, of_options(StackingOptions(folds=3)).name
    ('BaggingOptions', 'stacking')
"""
from __future__ import annotations

import dataclasses
import importlib

from tfpipe.ensembles.ensemble_options import (BaggingOptions, BoostingOptions, EnsembleOptions, SelectionOptions,
                                               StackingOptions)


@dataclasses.dataclass(frozen=True)
class EnsembleKind:
    """``target``: ``"module:Class"`` of a class with ``from_options(task, members, kinds, options, **common)``;
    ``options``: the :class:`~tfpipe.ensembles.ensemble_options.EnsembleOptions` subclass of this kind."""

    name: str
    target: str
    default_member_kinds: tuple[str, ...]
    options: type = SelectionOptions
    summary: str = ""
    default_members: int = 8          # members when --members is not given; 0: one per member kind

    def members_for(self, kinds) -> int:
        """The number of members when none is given, for these member kinds."""
        return self.default_members or len(tuple(kinds))

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"ensemble name must be an identifier, got {self.name!r}")
        if self.target.count(":") != 1:
            raise ValueError(f"target must be 'module:Class', got {self.target!r}")
        if not self.default_member_kinds:
            raise ValueError(f"{self.name}: default_member_kinds must not be empty")
        if not issubclass(self.options, EnsembleOptions):
            raise ValueError(f"{self.name}: options must be an EnsembleOptions subclass, got {self.options!r}")

    def load(self):
        """The ensemble class (imports its module, and with it Keras)."""
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)


# Default member kinds: stacking and selection mix trees and neural members (ensembles/README.md has the
# measurements behind it); bagging and boosting stay neural. Selection is tfpipe train's default ensemble.
_KINDS = (
    EnsembleKind("bagging", "tfpipe.ensembles.bagging:BaggingEnsemble", ("wide_deep",),
                 BaggingOptions, "K bootstrap members trained in one pass, averaged"),
    EnsembleKind("boosting", "tfpipe.ensembles.boosting:BoostingEnsemble", ("dnn",),
                 BoostingOptions, "stages fitted one after another on the residuals"),
    EnsembleKind("stacking", "tfpipe.ensembles.stacking:StackingEnsemble", ("gbdt", "lgbm", "wide_deep", "dnn"),
                 StackingOptions, "base members by K-fold, a meta-learner on their out-of-fold predictions"),
    EnsembleKind("selection", "tfpipe.ensembles.selection:SelectionEnsemble", ("gbdt", "lgbm", "wide_deep"),
                 SelectionOptions, "members trained once each, weighted by greedy selection on the eval rows; the useless dropped",
                 default_members=0),
)
DEFAULT = "selection"   # tfpipe train without --ensemble
_REGISTRY = {kind.name: kind for kind in _KINDS}


def names() -> tuple[str, ...]:
    """The ensemble names, in registry order."""
    return tuple(_REGISTRY)


def get(name: str) -> EnsembleKind:
    """The :class:`EnsembleKind` called ``name`` (ValueError naming the known ones otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"ensemble must be one of {names()}, got {name!r}") from None


def of_options(options) -> EnsembleKind:
    """The :class:`EnsembleKind` whose options class ``options`` is an instance of (exactly: a subclass of a
    kind's options is not that kind)."""
    for kind in _KINDS:
        if type(options) is kind.options:
            return kind
    raise ValueError(f"ensemble options must be one of {[k.options.__name__ for k in _KINDS]}, got {options!r}")
