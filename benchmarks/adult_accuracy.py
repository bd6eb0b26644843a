"""UCI Adult test split: the NN ensembles (bagging, boosting, stacking) side by side with scikit-learn's
HistGradientBoostingClassifier, each ensemble also against its best single member.

    python benchmarks/adult_accuracy.py [--data /tmp/adult] [--out results.json]

``--data``: output of ``tfpipe preprocess`` on the bundled Adult files (made in a temporary folder when not
given). The NN ensembles use ``benchmarks``' feature config below (z-scored / log numbers, quantile buckets,
capital gain/loss buckets, indicator columns, embeddings for the larger vocabularies); goal: test AUC >= 0.915 and better than
the best single member.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _bootstrap_path import REPO, ensure_tfpipe


ensure_tfpipe()
COLUMNS = ("age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,"
           "capital-gain,capital-loss,hours-per-week,native-country,income")


def preprocess(out: str) -> str:
    cmd = [sys.executable, "-m", "tfpipe.cli", "preprocess", "--input", f"train={REPO}/data/adult/adult.data",
           f"test={REPO}/data/adult/adult.test", "--output", out, "--label", "income", "--column-names", COLUMNS,
           "--value-map", json.dumps({"income": {">50K.": ">50K", "<=50K.": "<=50K"}}),
           "--max-rejected-fraction", "0.01"]
    subprocess.run(cmd, check=True)
    return out


def feature_config(path: str) -> str:
    """Writes the benchmark's feature config (see the module docstring) and returns its path."""
    from tfpipe import features as tff

    cat = {name: tff.categorical_column_with_vocabulary_list(name, min_count=5) for name in
           ("workclass", "education", "marital-status", "occupation", "relationship", "race", "sex",
            "native-country")}
    age = tff.numeric_column("age", normalizer="zscore")
    hours = tff.numeric_column("hours-per-week", normalizer="zscore")
    gain = tff.numeric_column("capital-gain", normalizer="log")
    loss = tff.numeric_column("capital-loss", normalizer="log")
    definitions = [
        age, hours, tff.numeric_column("education-num", normalizer="zscore"), gain, loss,
        tff.numeric_column("fnlwgt", normalizer="log"),
        tff.bucketized_column(age, num_buckets=10), tff.bucketized_column(hours, num_buckets=6),
        tff.bucketized_column(gain, boundaries=[1, 3000, 4000, 5000, 6000, 7000, 7500, 8000, 10000, 15000, 30000]),
        tff.bucketized_column(loss, boundaries=[1, 1500, 1700, 1800, 1900, 2000, 2200, 2500]),
        *[tff.indicator_column(c) for c in cat.values()],
        tff.embedding_column(cat["occupation"], dimension=6), tff.embedding_column(cat["education"], dimension=6),
        tff.embedding_column(cat["native-country"], dimension=6),
    ]
    tff.save_config(definitions, path)
    return path


def hgb_auc() -> float:
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    names = COLUMNS.split(",")
    read = lambda f, skip: pd.read_csv(f, names=names, skipinitialspace=True, na_values="?", skiprows=skip)  # noqa
    train, test = read(f"{REPO}/data/adult/adult.data", 0), read(f"{REPO}/data/adult/adult.test", 1)
    cats = [c for c in names[:-1] if not pd.api.types.is_numeric_dtype(train[c])]
    for c in cats:
        kinds = pd.CategoricalDtype(sorted(train[c].dropna().unique()))
        train[c], test[c] = train[c].astype(kinds), test[c].astype(kinds)
    y = lambda df: df["income"].str.rstrip(".").eq(">50K").astype(int)  # noqa
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    model.fit(train[names[:-1]], y(train))
    return float(roc_auc_score(y(test), model.predict_proba(test[names[:-1]])[:, 1]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None)
    p.add_argument("--work", default=None, help="folder for the models (temporary by default)")
    p.add_argument("--ensembles", default="bagging,boosting,stacking")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--out", default="")
    p.add_argument("--features", default="tuned", choices=["tuned", "default"],
                   help="tuned: the config below; default: what `tfpipe features init` writes")
    args = p.parse_args(argv)

    from tfpipe.ensembles.train import train_ensemble

    work = args.work or tempfile.mkdtemp(prefix="adult_bench_")
    data = args.data or preprocess(os.path.join(work, "adult"))
    config = feature_config(os.path.join(work, "features.pbtxt")) if args.features == "tuned" else None
    settings = {
        "bagging": dict(members=8, hidden=(64, 32), batch_size=512, learning_rate=1e-3),
        "boosting": dict(members=6, hidden=(32,), batch_size=512, learning_rate=1e-3),
        "stacking": dict(members=3, hidden=(64, 32), batch_size=512, learning_rate=1e-3, folds=4),
    }
    results = {"hist_gradient_boosting": {"test_auc": hgb_auc()}}
    print(f"HistGradientBoostingClassifier test AUC {results['hist_gradient_boosting']['test_auc']:.4f}", flush=True)
    for kind in args.ensembles.split(","):
        start = time.time()
        res = train_ensemble(data, os.path.join(work, kind), label="income", ensemble=kind, epochs=args.epochs,
                             precision="auto", strategy="default", seed=0, features_config=config, verbose=2,
                             patience=2, report=True, **settings[kind])
        test = res.metrics["test"]
        # Boosting's members are its staged ensembles F_1..F_M (F_M is the served model); its single learner
        # is F_1, the first stage alone. Bagging and stacking members are single models.
        best = "F_1" if kind == "boosting" else test["best_member"]
        results[kind] = {"test_auc": test["ensemble"]["auc"], "test_logloss": test["ensemble"]["logloss"],
                         "test_accuracy": test["ensemble"]["accuracy"], "best_member": best,
                         "best_member_test_auc": test["members"][best]["auc"], "seconds": time.time() - start,
                         "model_dir": res.output_dir}
        print(json.dumps({kind: results[kind]}), flush=True)
    lines = ["| model | test AUC | best single member (AUC; boosting: its first stage) | goal AUC >= 0.915 and > it |",
             "|---|---|---|---|",
             f"| HistGradientBoostingClassifier | {results['hist_gradient_boosting']['test_auc']:.4f} | | |"]
    for kind in args.ensembles.split(","):
        r = results[kind]
        ok = r["test_auc"] >= 0.915 and r["test_auc"] > r["best_member_test_auc"]
        lines.append(f"| {kind} | {r['test_auc']:.4f} | {r['best_member']} ({r['best_member_test_auc']:.4f}) | "
                     f"{'yes' if ok else 'no'} |")
    print("\n".join(lines))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
