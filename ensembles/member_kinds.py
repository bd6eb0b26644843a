"""The member kinds an ensemble can hold, and how a list of them is written: the one place that names them.

It imports neither Keras nor a tree library, so that options can be checked (:mod:`tfpipe.ensembles.train_options`)
and ``tfpipe train --help`` printed before TensorFlow loads.

- Keras members (:mod:`tfpipe.ensembles.members`): ``linear``, ``dnn``, ``wide_deep``;
- tree members (:mod:`tfpipe.ensembles.tree_members`), compiled to TF ops: ``gbdt`` (XGBoost), ``lgbm`` (LightGBM).

Example::

    >>> parse_member_kinds("gbdt, wide_deep"), cycle_kinds(("gbdt", "dnn"), 3)
    (('gbdt', 'wide_deep'), ('gbdt', 'dnn', 'gbdt'))
    >>> [is_tree_kind(kind) for kind in ("lgbm", "dnn")]
    [True, False]
"""
from __future__ import annotations

KERAS_KINDS = ("linear", "dnn", "wide_deep")
# Tree member kind -> the library that trains it.
LIBRARY_OF_KIND = {"gbdt": "xgboost", "lgbm": "lightgbm"}
TREE_KINDS = tuple(LIBRARY_OF_KIND)
MEMBER_KINDS = KERAS_KINDS + TREE_KINDS


def is_tree_kind(kind: str) -> bool:
    """True for member kinds trained by a GBDT library (they skip the Keras pass and need the tree data)."""
    return kind in TREE_KINDS


def parse_member_kinds(value) -> tuple | None:
    """``"gbdt,dnn"`` / ``("gbdt", "dnn")`` → ``("gbdt", "dnn")`` (validated); None stays None."""
    if value is None:
        return None
    kinds = tuple(k.strip() for k in (value.split(",") if isinstance(value, str) else value) if k.strip())
    bad = [k for k in kinds if k not in MEMBER_KINDS]
    if not kinds or bad:
        raise ValueError(f"member kinds must be a comma list of {MEMBER_KINDS}, got {value!r}")
    return kinds


def cycle_kinds(kinds, n: int) -> tuple:
    """The kinds of ``n`` members cycling through ``kinds``."""
    return tuple(kinds[i % len(kinds)] for i in range(n))
