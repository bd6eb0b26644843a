"""LightGBM boosters compiled into the same node arrays as XGBoost's (:class:`~tfpipe.ensembles.trees.CompiledTrees`).

Why: a stack of an XGBoost and a LightGBM member is the strongest default measured on Adult (the two libraries
grow different trees: leaf-wise vs depth-wise, different categorical splits), and both must serve as plain TF
ops from the one SavedModel. Hand-written for the reason of :mod:`tfpipe.ensembles.trees` (no converter emits
plain TF ops); the source is ``Booster.dump_model()``, LightGBM's documented JSON dump.

Semantics reproduced (LightGBM 4.x ``Tree::NumericalDecision`` / ``CategoricalDecision``), mapped onto the
arrays' XGBoost conventions (NaN → default child; numeric ``x < threshold`` → left; categorical "in the set" →
right):

* numeric ``x <= t`` (``t`` a double) → left, where LightGBM's predictor first reads every ``|x| <= 1e-35f``
  (``kZeroThreshold``) as 0.0. For float32 ``x`` that is ``x < t'`` with ``t'`` the smallest float32 whose
  zeroed value exceeds ``t`` (:func:`strict_threshold`): exact, no rounding case left.
* missing: ``missing_type`` ``NaN`` → the node's ``default_left``; ``None`` → NaN is read as 0.0, so the default
  child is where 0.0 goes; ``Zero`` (``zero_as_missing=true``) cannot be expressed and is refused.
* categorical: the category in the node's set → LightGBM's left child, otherwise (NaN, negative, never seen) →
  its right child; stored with the children swapped. (Fractional codes in (-1, 0) would differ: LightGBM truncates
  them to category 0; tfpipe's codes are integers.)

LightGBM has no separate intercept (``boost_from_average`` is folded into the first trees), and it sums a
prediction's leaves in float64: the compiled trees say so (``sum_dtype="float64"``), so margins equal
``Booster.predict(raw_score=True)`` to float32 rounding of the result.

Example::

    >>> import lightgbm as lgb, numpy as np
    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]] * 10, "float32"); y = np.array([0, 0, 1, 1] * 10)
    >>> booster = lgb.train({"objective": "binary", "min_data_in_leaf": 1, "verbose": -1}, lgb.Dataset(x, y), 3)
    >>> from tfpipe.ensembles.trees import tree_margins
    >>> margins = tree_margins(compile_lightgbm([booster]), x).numpy()[:, 0, 0]
    >>> bool(np.allclose(margins, booster.predict(x, raw_score=True), atol=1e-6))
    True
"""
from __future__ import annotations

import numpy as np

from tfpipe.ensembles.trees import CompiledTrees, assemble

# LightGBM objective (first word of the dump's "objective") → does tfpipe's task link match its raw score?
SUPPORTED_OBJECTIVES = ("binary", "multiclass", "regression")
ZERO_THRESHOLD = np.float32(1e-35)   # LightGBM's kZeroThreshold (1e-35f): its predictor reads |x| <= it as 0.0


def _float32_below_or_at(t: float) -> np.float32:
    """The largest float32 <= ``t``."""
    t32 = np.float32(t)
    if float(t32) > t:
        t32 = np.nextafter(t32, np.float32(-np.inf))
    return t32


def strict_threshold(t: float) -> np.float32:
    """The float32 ``t'`` with ``x < t'`` ⇔ ``zeroed(x) <= t`` for every float32 ``x`` (see the module docstring).

    ``zeroed`` is monotone, so ``t'`` is the smallest float32 whose zeroed value is above ``t``."""
    above = np.nextafter(_float32_below_or_at(t), np.float32(np.inf))       # smallest float32 > t
    if t < 0.0:          # the zero zone reads as 0.0 > t: its lowest value may come first
        return min(above, -ZERO_THRESHOLD)
    if float(above) <= float(ZERO_THRESHOLD):   # values in the zero zone read as 0.0 <= t: skip the zone
        return np.nextafter(ZERO_THRESHOLD, np.float32(np.inf))
    return above


def _check_objective(objective: str) -> None:
    words = objective.split()
    name = words[0] if words else ""
    if name not in SUPPORTED_OBJECTIVES:
        raise ValueError(f"LightGBM objective {objective!r} cannot be compiled; supported: {SUPPORTED_OBJECTIVES}")
    if name == "binary" and "sigmoid:1" not in words:
        raise ValueError(f"LightGBM objective {objective!r}: only sigmoid:1 matches tfpipe's logistic link")


def model_dump(booster) -> dict:
    """``Booster.dump_model()`` (a dict passes through)."""
    return booster if isinstance(booster, dict) else booster.dump_model()


def _flatten(root: dict, offset: int, arrays: dict, cat_table: list, cat_offset: int) -> tuple[int, int, int]:
    """Appends one tree's nodes (breadth first) to ``arrays``; returns (nodes, depth, new cat_offset)."""
    order, depth_of = [root], [0]
    rows = []
    i = 0
    while i < len(order):
        node = order[i]
        if "split_index" not in node:
            if node.get("leaf_coeff"):
                raise ValueError("LightGBM linear trees (linear_tree=true) cannot be compiled")
            rows.append((i, i, 0, 0.0, False, False, 0, 0, float(node["leaf_value"])))
            i += 1
            continue
        lgb_left, lgb_right = len(order), len(order) + 1
        order += [node["left_child"], node["right_child"]]
        depth_of += [depth_of[i] + 1] * 2
        missing = node.get("missing_type", "None")
        feature = int(node["split_feature"])
        if node["decision_type"] == "==":
            chosen = sorted({int(c) for c in str(node["threshold"]).split("||") if c != ""})
            size = (chosen[-1] + 1) if chosen else 0
            bits = np.zeros(size, bool)
            bits[np.asarray(chosen, "int64")] = True
            cat_table.append(bits)
            # in the set → LightGBM's left = the arrays' right; NaN / negative / unseen → LightGBM's right.
            rows.append((lgb_right, lgb_left, feature, 0.0, True, True, cat_offset, size, 0.0))
            cat_offset += size
        elif node["decision_type"] == "<=":
            if missing == "Zero":
                raise ValueError("LightGBM splits with missing_type Zero (zero_as_missing=true) cannot be compiled")
            t = float(node["threshold"])
            threshold = float(strict_threshold(t))
            default_left = bool(node["default_left"]) if missing == "NaN" else (0.0 <= t)
            rows.append((lgb_left, lgb_right, feature, threshold, default_left, False, 0, 0, 0.0))
        else:
            raise ValueError(f"LightGBM decision type {node['decision_type']!r} cannot be compiled")
        i += 1
    left, right, feature, threshold, default_left, categorical, offsets, sizes, leaf = zip(*rows)
    arrays["left"].append(np.asarray(left, "int64") + offset)
    arrays["right"].append(np.asarray(right, "int64") + offset)
    arrays["feature"].append(np.asarray(feature, "int64"))
    arrays["threshold"].append(np.asarray(threshold, "float32"))
    arrays["default_left"].append(np.asarray(default_left, bool))
    arrays["categorical"].append(np.asarray(categorical, bool))
    arrays["cat_offset"].append(np.asarray(offsets, "int64"))
    arrays["cat_size"].append(np.asarray(sizes, "int64"))
    arrays["leaf_value"].append(np.asarray(leaf, "float32"))
    return len(rows), max(depth_of), cat_offset


def compile_lightgbm(boosters) -> CompiledTrees:
    """Flattens LightGBM boosters (same objective and outputs; ``Booster`` or its ``dump_model()`` dict) into
    :class:`CompiledTrees`. Raises ``ValueError`` for what cannot be compiled (linear trees, ``zero_as_missing``,
    objectives whose raw score tfpipe's links do not match)."""
    models = [model_dump(b) for b in boosters]
    if not models:
        raise ValueError("no boosters to compile")
    arrays = {k: [] for k in ("feature", "threshold", "left", "right", "default_left", "categorical",
                              "cat_offset", "cat_size", "leaf_value")}
    cat_table, roots, per_output = [], [], []
    units = num_features = None
    depth = offset = cat_offset = 0
    for model in models:
        _check_objective(str(model.get("objective", "")))
        model_units = int(model["num_tree_per_iteration"])
        if units not in (None, model_units):
            raise ValueError("all boosters must have the same number of outputs")
        units = model_units
        num_features = max(num_features or 0, int(model["max_feature_idx"]) + 1)
        by_output = [[] for _ in range(units)]
        for info in model["tree_info"]:
            n, tree_depth, cat_offset = _flatten(info["tree_structure"], offset, arrays, cat_table, cat_offset)
            by_output[int(info["tree_index"]) % units].append(len(roots))
            roots.append(offset)
            depth = max(depth, tree_depth)
            offset += n
        per_output.append(by_output)
    return assemble(arrays, cat_table, roots, per_output, np.zeros((len(models), units)), depth, num_features,
                    sum_dtype="float64")
