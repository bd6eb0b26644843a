"""Bagging K members in ONE pass (vectorized) vs K separate fits, same data, CPU.

Both train wide_deep members with Poisson(1) bootstrap weights for the same number of epochs on the same
synthetic Adult-shaped data (32,561 rows like Adult's train file); timings include each fit's graph building,
as a user would pay them. Prints the speed-up (goal >= 3x) and both ensembles' test AUC.

    python benchmarks/bagging_benchmark.py [--members 8 --epochs 3]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time





def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=8)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--rows", type=int, default=32561)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--hidden", type=int, nargs="*", default=[64, 32])
    p.add_argument("--out", default="")
    args = p.parse_args(argv)

    import keras
    import numpy as np

    from tfpipe.ensembles.bagging import BaggingEnsemble
    from tfpipe.ensembles.base import FitOptions
    from tfpipe.ensembles.metrics import roc_auc
    from synthetic import synthetic_dataset
    from tfpipe.ensembles.task import Task

    task = Task("binary")
    train, vocab = synthetic_dataset(args.rows, task, batch_size=args.batch_size, seed=0)
    test, _ = synthetic_dataset(16281, task, batch_size=4096, seed=1, key_offset=10 ** 7)
    for _ in train:   # fill the cache
        pass
    specs = {name: (size, 8, "mean") for name, size in vocab.items()}   # one table per feature, all members
    options = FitOptions(epochs=args.epochs, verbose=0, patience=0)

    def fit(k, seed):
        keras.utils.set_random_seed(seed)
        ens = BaggingEnsemble(task, k, "wide_deep", hidden=tuple(args.hidden), embedding_specs=specs, seed=seed)
        ens.build_on(next(iter(train))[0])
        ens.fit_ensemble(train, None, options)
        return ens

    start = time.perf_counter()
    one = fit(args.members, 0)
    t_one = time.perf_counter() - start
    pred_one = one.predict_dataset(test)

    start = time.perf_counter()
    separate = [fit(1, 100 + k) for k in range(args.members)]
    t_sep = time.perf_counter() - start
    preds = [m.predict_dataset(test) for m in separate]
    avg = np.mean([p["predictions"] for p in preds], axis=0)
    labels = preds[0]["labels"]

    res = {"members": args.members, "epochs": args.epochs, "rows": args.rows, "threads": os.cpu_count(),
           "one_pass_s": t_one, "separate_s": t_sep, "speedup": t_sep / t_one,
           "auc_one_pass": roc_auc(labels, pred_one["predictions"]), "auc_separate": roc_auc(labels, avg),
           "auc_single_member_mean": float(np.mean([roc_auc(labels, p["predictions"]) for p in preds]))}
    print(json.dumps(res))
    print(f"bagging K={args.members}, {args.epochs} epochs x {args.rows} rows on {os.cpu_count()} CPUs: one pass "
          f"{t_one:.1f}s vs {args.members} separate fits {t_sep:.1f}s -> {res['speedup']:.2f}x faster "
          f"(goal >= 3x); test AUC one pass {res['auc_one_pass']:.4f}, separate {res['auc_separate']:.4f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
