"""Evaluation metrics in plain numpy (no scikit-learn needed at run time).

Classification: ``auc`` (binary ROC AUC, multi-class macro one-vs-rest), ``logloss``, ``accuracy``;
regression: ``rmse``, ``mae``. ``count`` is the number of examples.

Example::

    >>> compute_metrics("binary", [0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3])["auc"]
    1.0
"""
from __future__ import annotations

import numpy as np

EPS = 1e-7


def roc_auc(labels, scores) -> float:
    """Binary ROC AUC with ties counted half (Mann-Whitney U); NaN when one class is absent."""
    labels = np.asarray(labels).reshape(-1).astype(bool)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def compute_metrics(task_kind: str, labels, predictions) -> dict:
    """Metrics of one prediction array: [N] (binary P(positive) / regression value) or [N, C] (multi-class)."""
    y = np.asarray(labels).reshape(-1)
    p = np.asarray(predictions, dtype=np.float64)
    out = {"count": int(len(y))}
    if len(y) == 0:
        return out
    if task_kind == "binary":
        p = p.reshape(-1)
        pc = np.clip(p, EPS, 1 - EPS)
        out["auc"] = roc_auc(y, p)
        out["logloss"] = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
        out["accuracy"] = float(np.mean((p > 0.5) == (y == 1)))
    elif task_kind == "multiclass":
        yi = y.astype(int)
        pc = np.clip(p, EPS, 1.0)
        out["auc"] = float(np.nanmean([roc_auc(yi == c, p[:, c]) for c in range(p.shape[1])]))
        out["logloss"] = float(-np.mean(np.log(pc[np.arange(len(yi)), yi])))
        out["accuracy"] = float(np.mean(np.argmax(p, axis=1) == yi))
    else:
        err = p.reshape(-1) - y.astype(np.float64)
        out["rmse"] = float(np.sqrt(np.mean(err ** 2)))
        out["mae"] = float(np.mean(np.abs(err)))
    return out


def primary_metric(task_kind: str) -> tuple[str, bool]:
    """(name, higher_is_better) of the metric used to rank members: AUC or RMSE."""
    return ("auc", True) if task_kind != "regression" else ("rmse", False)


def ensemble_metrics(task_kind: str, labels, predictions, member_predictions, member_names) -> dict:
    """``{"ensemble": {...}, "members": {name: {...}}, "best_member": name}`` for one split.

    Example::

        >>> m = ensemble_metrics("regression", [1., 2.], [1., 2.], [[1., 0.], [2., 0.]], ["a", "b"])
        >>> m["best_member"], m["ensemble"]["rmse"]
        ('a', 0.0)
    """
    member_predictions = np.asarray(member_predictions)
    members = {name: compute_metrics(task_kind, labels, member_predictions[:, i])
               for i, name in enumerate(member_names)}
    key, higher = primary_metric(task_kind)
    scored = [(m.get(key, float("nan")), name) for name, m in members.items()]
    scored = [s for s in scored if not np.isnan(s[0])]
    best = (max(scored) if higher else min(scored))[1] if scored else None
    return {"ensemble": compute_metrics(task_kind, labels, predictions), "members": members, "best_member": best}


def format_metrics(metrics: dict) -> str:
    """A short text table of ``{split: ensemble_metrics(...)}`` for the console."""
    lines = []
    for split, m in metrics.items():
        ens = m["ensemble"]
        cols = [k for k in ("auc", "logloss", "accuracy", "rmse", "mae") if k in ens]
        of = f" (key-hash sample of {m['sample']['of_rows']} rows)" if "sample" in m else ""
        lines.append(f"[{split}] n={ens.get('count', 0)}{of}  " + "  ".join(f"{k}={ens[k]:.4f}" for k in cols))
        for name, mm in m.get("members", {}).items():
            mark = " *" if name == m.get("best_member") else ""
            lines.append(f"    {name:>14}: " + "  ".join(f"{k}={mm[k]:.4f}" for k in cols if k in mm) + mark)
    return "\n".join(lines)
