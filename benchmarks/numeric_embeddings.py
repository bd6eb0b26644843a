"""Numeric embeddings (issue 13): NN-only ensembles on ``tfpipe features init``'s default config with each
``--numeric-embedding`` (none = the config before issue 13, periodic, piecewise_linear), side by side in one run,
each with its training seconds on this machine.

Tasks on the real UCI Adult rows (bundled): ``binary`` (income; test AUC / log loss), ``multiclass``
(relationship, 6 classes; test accuracy / log loss; income is then a feature), ``regression`` (hours-per-week; test
RMSE). Ensembles: bagging of 8 (wide_deep), gradient boosting (6 dnn stages), stacking (linear, dnn, wide_deep;
4 folds). Goal (issue 13): binary bagging AUC >= 0.925 and better than its best member; no loss on the other tasks;
training time at most 2x the ``none`` config.

    python benchmarks/numeric_embeddings.py [--work DIR] [--tasks binary,multiclass,regression]
        [--embeddings none,periodic,piecewise_linear] [--ensembles bagging,boosting,stacking] [--out r.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time



TASKS = {"binary": ("income", ("auc", "logloss")), "multiclass": ("relationship", ("accuracy", "logloss")),
         "regression": ("hours-per-week", ("rmse", "mae"))}
SETTINGS = {   # the ensemble's options (tfpipe.ensembles.ensemble_options), the Keras members' hidden widths
    "bagging": ("BaggingOptions", dict(members=8), (64, 32)),
    "boosting": ("BoostingOptions", dict(members=6), (32,)),
    "stacking": ("StackingOptions", dict(members=3, folds=4, member_kinds="linear,dnn,wide_deep"), (64, 32)),
}


def prepare(work: str, task: str) -> str:
    """Preprocessed Adult with the task's label (made once per work folder)."""
    from tfpipe.demo import adult_preprocess_options
    from tfpipe.pipelines import run_preprocess

    out = os.path.join(work, f"adult_{task}")
    if not os.path.exists(os.path.join(out, "manifest.json")):
        run_preprocess(adult_preprocess_options(out, label=TASKS[task][0], progress=False))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default=None, help="folder for data and models (temporary by default)")
    p.add_argument("--tasks", default="binary,multiclass,regression")
    p.add_argument("--embeddings", default="none,periodic,piecewise_linear")
    p.add_argument("--ensembles", default="bagging,boosting,stacking")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--out", default="")
    args = p.parse_args(argv)

    from tfpipe import features as tff
    from tfpipe.ensembles import ensemble_options
    from tfpipe.ensembles.train_options import KerasOptions, RuntimeOptions, TrainOptions
    from tfpipe.serving.export_config import ExportOptions
    from tfpipe.train import train_ensemble

    work = args.work or tempfile.mkdtemp(prefix="numeric_embeddings_")
    rows = []
    for task in args.tasks.split(","):
        label, metrics = TASKS[task]
        data = prepare(work, task)
        for embedding in args.embeddings.split(","):
            config = os.path.join(work, f"features_{task}_{embedding}.pbtxt")
            tff.save_config(tff.default_config(data, data, label=label, numeric_embedding=embedding), config)
            for kind in args.ensembles.split(","):
                start = time.time()
                cls, own, hidden = SETTINGS[kind]
                options = TrainOptions(
                    ensemble=getattr(ensemble_options, cls)(**own),
                    keras=KerasOptions(epochs=args.epochs, batch_size=512, hidden=hidden, learning_rate=1e-3,
                                       patience=2),
                    runtime=RuntimeOptions(precision="auto", strategy="default", seed=0, verbose=0))
                res = train_ensemble(data, os.path.join(work, f"{task}_{embedding}_{kind}"), options, label=label,
                                     features_config=config, export=ExportOptions(report=False))
                test = res.metrics["test"]
                best = "F_1" if kind == "boosting" else test["best_member"]
                row = {"task": task, "ensemble": kind, "embedding": embedding, "seconds": time.time() - start,
                       "best_member": best, **{m: test["ensemble"][m] for m in metrics},
                       "best_member_" + metrics[0]: test["members"][best][metrics[0]]}
                rows.append(row)
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "w") as f:
                        json.dump(rows, f, indent=2)
    lines = ["| task | ensemble | numeric embedding | test metric | 2nd metric | best member | training s | "
             "time vs none |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        metrics = TASKS[r["task"]][1]
        base = next((b for b in rows if (b["task"], b["ensemble"], b["embedding"]) == (r["task"], r["ensemble"],
                                                                                       "none")), None)
        ratio = f"{r['seconds'] / base['seconds']:.2f}x" if base else "-"
        lines.append(f"| {r['task']} | {r['ensemble']} | {r['embedding']} | {metrics[0]} {r[metrics[0]]:.4f} | "
                     f"{metrics[1]} {r[metrics[1]]:.4f} | {r['best_member']} {r['best_member_' + metrics[0]]:.4f} | "
                     f"{r['seconds']:.1f} | {ratio} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
