"""The ensemble kinds ``tfpipe train`` knows: the one place that lists them.

Each entry names the class (imported only when a model is built, so the CLI and ``--help`` stay free of
TensorFlow), the member kinds used when ``--member-kind`` is not given, and the ``train_ensemble`` options only
that ensemble reads (others refuse them: :func:`tfpipe.ensembles.train.check_applicable`). The class maps the
options to its constructor in its own ``from_options`` classmethod, so adding an ensemble is one class plus one
line here — no if/elif elsewhere.

Example::

    >>> names()
    ('bagging', 'boosting', 'stacking', 'selection')
    >>> get("selection").members_for(("gbdt", "lgbm", "wide_deep")), get("bagging").members_for(("dnn",))
    (3, 8)
    >>> get("stacking").default_member_kinds
    ('gbdt', 'lgbm', 'wide_deep', 'dnn')
    >>> get("bagging").options
    ('feature_fraction', 'bootstrap')
"""
from __future__ import annotations

import dataclasses
import importlib


@dataclasses.dataclass(frozen=True)
class EnsembleKind:
    """``target``: ``"module:Class"`` of a class with ``from_options(task, members, kinds, **options)``."""

    name: str
    target: str
    default_member_kinds: tuple[str, ...]
    options: tuple[str, ...] = ()
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

    def load(self):
        """The ensemble class (imports its module, and with it Keras)."""
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)


# Default member kinds: stacking and selection mix trees and neural members (ensembles/README.md has the
# measurements behind it); bagging and boosting stay neural. Selection is tfpipe train's default ensemble.
_KINDS = (
    EnsembleKind("bagging", "tfpipe.ensembles.bagging:BaggingEnsemble", ("wide_deep",),
                 ("feature_fraction", "bootstrap"), "K bootstrap members trained in one pass, averaged"),
    EnsembleKind("boosting", "tfpipe.ensembles.boosting:BoostingEnsemble", ("dnn",),
                 ("boosting", "shrinkage", "corrective"), "stages fitted one after another on the residuals"),
    EnsembleKind("stacking", "tfpipe.ensembles.stacking:StackingEnsemble", ("gbdt", "lgbm", "wide_deep", "dnn"),
                 ("folds",), "base members by K-fold, a meta-learner on their out-of-fold predictions"),
    EnsembleKind("selection", "tfpipe.ensembles.selection:SelectionEnsemble", ("gbdt", "lgbm", "wide_deep"), (),
                 "members trained once each, weighted by greedy selection on the eval rows; the useless dropped",
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
