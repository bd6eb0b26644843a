"""HTML training report with PNG plots: members vs ensemble (per split) and training curves.

Plots are drawn with matplotlib (Agg backend, no display needed).

Example::

    >>> write_report("/tmp/model", metrics, history, metadata)       # doctest: +SKIP
    '/tmp/model/report.html'
"""
from __future__ import annotations

import html
import os

import numpy as np

from tfpipe.ensembles.metrics import primary_metric

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


def write_report(output_dir: str, metrics: dict, history: list, metadata: dict) -> str:
    """Writes ``output_dir/report.html`` and its PNG plots (``output_dir/report/``); returns the HTML path."""
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
    path = os.path.join(output_dir, "report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return path
