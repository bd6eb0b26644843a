"""HTML training report with PNG plots: members vs ensemble, ROC and calibration curves (per split), permutation
feature importance (through the serving function, :mod:`tfpipe.serving.importance`) and training curves.

Plots are drawn with matplotlib (Agg backend, no display needed).

Example (``model_dir``: a ``tfpipe train`` output directory)::

    >>> import json
    >>> with open(os.path.join(model_dir, "metrics.json")) as f:
    ...     saved = json.load(f)
    >>> os.path.basename(write_report(".", saved["splits"], saved["history"], saved["metadata"]))
    'report.html'
"""
from __future__ import annotations

import html
import os

import numpy as np

from tfpipe.ensembles.metrics import primary_metric
from tfpipe.ensembles.model_dir import ModelDir

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127)]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_members(path: str, split: str, split_metrics: dict, task_kind: str) -> None:
    """Bar chart of the primary metric (AUC / RMSE) of every member and the ensemble."""
    key, _ = primary_metric(task_kind)
    names = list(split_metrics["members"]) + ["ensemble"]
    values = [split_metrics["members"][n].get(key, np.nan) for n in names[:-1]] + [split_metrics["ensemble"].get(key)]
    colors = [PALETTE[0]] * (len(names) - 1) + [PALETTE[3]]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(range(len(names)), values, color=[tuple(c / 255 for c in col) for col in colors])
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    finite = [v for v in values if v is not None and np.isfinite(v)]
    if finite:
        span = max(finite) - min(finite)
        ax.set_ylim(min(finite) - span * 0.5 - 1e-3, max(finite) + span * 0.5 + 1e-3)
    ax.set_ylabel(key)
    ax.set_title(f"{split}: members vs ensemble ({key})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_history(path: str, history: list) -> None:
    """Training (solid) and eval (dashed / second colour) loss per epoch of every training phase."""
    series = []
    for i, phase in enumerate(history):
        series.append((phase.get("loss", []), PALETTE[(2 * i) % len(PALETTE)], f"{phase['phase']} loss", "-"))
        if phase.get("val_loss"):
            series.append((phase["val_loss"], PALETTE[(2 * i + 1) % len(PALETTE)], f"{phase['phase']} val_loss", "--"))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for values, color, label, style in series:
        ax.plot(range(1, len(values) + 1), values, style, color=tuple(c / 255 for c in color), label=label,
                marker="o")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if len(series) <= 12:
        ax.legend(fontsize=7)
    ax.set_title("training curves")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def roc_points(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) of ``scores`` for binary ``labels``, one point per threshold."""
    y = np.asarray(labels).reshape(-1).astype(bool)
    s = np.asarray(scores, "float64").reshape(-1)
    order = np.argsort(-s, kind="stable")
    y, s = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]            # the last index of every distinct score
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    return np.r_[0.0, fp / max(fp[-1], 1)], np.r_[0.0, tp / max(tp[-1], 1)]


def calibration_points(labels, predicted, bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean predicted, mean observed, count) per quantile bin of ``predicted``."""
    predicted = np.asarray(predicted, "float64").reshape(-1)
    observed = np.asarray(labels, "float64").reshape(-1)
    edges = np.unique(np.quantile(predicted, np.linspace(0, 1, bins + 1)))
    index = np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, max(len(edges) - 2, 0))
    count = np.bincount(index, minlength=max(len(edges) - 1, 1)).astype(float)
    keep = count > 0
    mean_p = np.bincount(index, predicted, minlength=len(count))[keep] / count[keep]
    mean_y = np.bincount(index, observed, minlength=len(count))[keep] / count[keep]
    return mean_p, mean_y, count[keep]


def plot_curves(path: str, split: str, labels, predictions, task_kind: str) -> None:
    """ROC (classification) and calibration of the ensemble on one split: binary P(positive); multi-class one-vs-rest
    ROC per class and the top class's confidence vs accuracy; regression binned predicted vs actual."""
    plt = _pyplot()
    labels, predictions = np.asarray(labels), np.asarray(predictions, "float64")
    panels = 1 if task_kind == "regression" else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.6))
    axes = np.atleast_1d(axes)
    if task_kind == "regression":
        p, y, _ = calibration_points(labels, predictions.reshape(-1), bins=20)
        lo, hi = float(min(p.min(), y.min())), float(max(p.max(), y.max()))
        axes[0].plot([lo, hi], [lo, hi], ":", color="grey")
        axes[0].plot(p, y, "o-", color=tuple(c / 255 for c in PALETTE[0]))
        axes[0].set_xlabel("mean predicted (20 quantile bins)")
        axes[0].set_ylabel("mean actual")
        axes[0].set_title(f"calibration, {split}")
    else:
        if task_kind == "binary":
            curves = [("ensemble", labels.reshape(-1) == 1, predictions.reshape(-1))]
            p, y, _ = calibration_points(labels.reshape(-1) == 1, predictions.reshape(-1))
            xlabel, ylabel = "mean predicted P(positive)", "observed positive rate"
        else:
            classes = predictions.shape[1]
            curves = [(f"class {c}", labels.astype(int) == c, predictions[:, c]) for c in range(min(classes, 8))]
            top = predictions.argmax(axis=1)
            p, y, _ = calibration_points(top == labels.astype(int), predictions.max(axis=1))
            xlabel, ylabel = "mean top-class probability", "accuracy"
        for i, (name, positive, score) in enumerate(curves):
            if positive.any() and (~positive).any():
                fpr, tpr = roc_points(positive, score)
                axes[0].plot(fpr, tpr, color=tuple(c / 255 for c in PALETTE[i % len(PALETTE)]), label=name)
        axes[0].plot([0, 1], [0, 1], ":", color="grey")
        axes[0].set_xlabel("false positive rate")
        axes[0].set_ylabel("true positive rate")
        axes[0].set_title(f"ROC, {split}")
        axes[0].legend(fontsize=7)
        axes[1].plot([0, 1], [0, 1], ":", color="grey")
        axes[1].plot(p, y, "o-", color=tuple(c / 255 for c in PALETTE[3]))
        axes[1].set_xlabel(xlabel)
        axes[1].set_ylabel(ylabel)
        axes[1].set_title(f"calibration, {split} (10 quantile bins)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_importance(path: str, importance: dict, metric: str) -> None:
    """Horizontal bars: the drop of ``metric`` when each input column is shuffled (± its spread)."""
    plt = _pyplot()
    names = list(importance)[:40]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(names) + 1.2))
    ax.barh(range(len(names)), [importance[n]["mean"] for n in names], xerr=[importance[n]["std"] for n in names],
            color=tuple(c / 255 for c in PALETTE[0]))
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric} lost when the column is shuffled")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _table(split_metrics: dict) -> str:
    ens = split_metrics["ensemble"]
    cols = [k for k in ("auc", "logloss", "accuracy", "rmse", "mae") if k in ens]
    head = "<tr><th>model</th>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>"
    rows = [("<b>ensemble</b>", ens)] + [(html.escape(n) + (" (best)" if n == split_metrics.get("best_member")
                                                              else ""), m)
                                           for n, m in split_metrics["members"].items()]
    body = "".join("<tr><td>" + name + "</td>" + "".join(f"<td>{m.get(c, float('nan')):.4f}</td>" for c in cols)
                   + "</tr>" for name, m in rows)
    return f"<table border=1 cellpadding=3>{head}{body}</table>"


def write_report(output_dir: str, metrics: dict, history: list, metadata: dict, predictions: dict | None = None,
                 importance: dict | None = None) -> str:
    """Writes ``output_dir/report.html`` and its PNG plots (``output_dir/report/``); returns the HTML path.

    ``predictions``: ``{split: {"labels", "predictions"}}`` for the ROC / calibration curves; ``importance``:
    ``{"split", "metric", "columns": permutation_importance(...)}``."""
    plots = os.path.join(output_dir, "report")
    os.makedirs(plots, exist_ok=True)
    task_kind = metadata["task"]["kind"]
    parts = [f"<html><head><meta charset='utf-8'><title>tfpipe {html.escape(metadata['ensemble'])}</title></head>"
             f"<body><h1>tfpipe {html.escape(metadata['ensemble'])} ensemble</h1>",
             "<p>" + ", ".join(f"{k}: {html.escape(str(metadata.get(k)))}" for k in
                               ("label", "task", "members", "precision", "strategy")) + "</p>"]
    for split, m in metrics.items():
        png = f"members_{split}.png"
        plot_members(os.path.join(plots, png), split, m, task_kind)
        parts.append(f"<h2>{html.escape(split)}</h2>{_table(m)}<p><img src='report/{png}'></p>")
        if predictions and split in predictions and len(predictions[split]["labels"]):
            curves = f"curves_{split}.png"
            plot_curves(os.path.join(plots, curves), split, predictions[split]["labels"],
                        predictions[split]["predictions"], task_kind)
            parts.append(f"<p><img src='report/{curves}'></p>")
    if importance and importance.get("columns"):
        plot_importance(os.path.join(plots, "importance.png"), importance["columns"], importance["metric"])
        rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{v['mean']:.4f}</td><td>{v['std']:.4f}</td></tr>"
                       for name, v in importance["columns"].items())
        parts.append(f"<h2>Permutation feature importance ({html.escape(importance['split'])} split, "
                     f"{importance['rows']} examples, {importance['repeats']} shuffles)</h2><p>How much "
                     f"{html.escape(importance['metric'])} the served model loses when one input column's values "
                     "are shuffled across examples (serialized tf.Example in, as served).</p>"
                     f"<p><img src='report/importance.png'></p><table border=1 cellpadding=3><tr><th>column</th>"
                     f"<th>mean drop</th><th>std</th></tr>{rows}</table>")
    plot_history(os.path.join(plots, "training_curves.png"), history)
    legend = []
    for i, h in enumerate(history):
        for j, name in enumerate(("loss", "val_loss")):
            if h.get(name):
                rgb = PALETTE[(2 * i + j) % len(PALETTE)]
                legend.append(f"<span style='color:rgb{rgb}'>&#9632;</span> {html.escape(h['phase'])} {name} "
                              f"({len(h[name])} epochs, last {h[name][-1]:.4f})")
    parts.append("<h2>Training curves</h2><p>" + "<br>".join(legend) +
                 "</p><p><img src='report/training_curves.png'></p></body></html>")
    path = ModelDir(output_dir).report
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return path
