"""``tfpipe train`` with no ensemble flag against the GBDT libraries' defaults, side by side in one run (issue 22):
scikit-learn's HistGradientBoosting, XGBoost and LightGBM, each with its defaults on the raw CSV read by pandas
(categoricals as pandas ``category``), and the default ``tfpipe train`` on the ``tfpipe preprocess`` output of the
same CSV. Test-split AUC and log loss (binary) or RMSE (regression), and seconds; the last column is tfpipe's
train wall time (reading shards, fitting, export, metrics, report) over the slowest library's fit.

    pip install ".[bench]"
    python benchmarks/default_vs_gbdt.py --work /tmp/dvg --table adult --table wide:1000000 \\
        --table wide-regression:250000 [--out results.json] [--train-args="--time-limit 300"]

Tables: ``adult`` (the bundled UCI Adult files), ``wide:ROWS`` (``benchmarks/wide_table.py``: 8 numbers and 33
categoricals of 2-60 values, binary label) and ``wide-regression:ROWS`` (the same columns, a numeric label). Goals:
tfpipe at least as good as the best of the three (AUC and log loss; RMSE), and its wall time <= 3x the slowest's
at 1M rows, <= 30 s on Adult. CSV and preprocess times are printed beside, not counted in the ratio. With no
``--time-limit`` in ``--train-args`` tfpipe's default ``auto`` limit applies: the script prints it and its
probe's estimate of XGBoost's default fit beside the fit measured here.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wide_table  # noqa: E402

ADULT_COLUMNS = ("age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,"
                 "capital-gain,capital-loss,hours-per-week,native-country,income")
ADULT_VALUE_MAP = {"income": {">50K.": ">50K", "<=50K.": "<=50K"}}


def _tfpipe(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfpipe.cli", *args], check=True, **kwargs)


def prepare(table: str, work: str) -> dict:
    """Writes the table's CSVs (when not there yet) and returns how to read them."""
    if table == "adult":
        from tfpipe.demo import adult_dir

        return {"name": "adult", "train": os.path.join(adult_dir(), "adult.data"),
                "test": os.path.join(adult_dir(), "adult.test"), "label": "income", "task": "binary",
                "names": ADULT_COLUMNS.split(","), "value_map": ADULT_VALUE_MAP,
                "preprocess": ["--column-names", ADULT_COLUMNS, "--value-map", json.dumps(ADULT_VALUE_MAP),
                               "--max-rejected-fraction", "0.01"]}
    kind, _, rows = table.partition(":")
    if kind not in ("wide", "wide-regression") or not rows.isdigit():
        raise SystemExit(f"--table {table!r}: expected adult, wide:ROWS or wide-regression:ROWS")
    target = "regression" if kind == "wide-regression" else "binary"
    out = os.path.join(work, f"{kind}-{rows}")
    if not os.path.exists(os.path.join(out, "test.csv")):
        os.makedirs(out, exist_ok=True)
        wide_table.write(os.path.join(out, "train.csv"), int(rows), 0, 0, target)
        wide_table.write(os.path.join(out, "test.csv"), max(int(rows) // 10, 10_000), 10_000_000, 0, target)
    return {"name": f"{kind} {int(rows):,}", "train": os.path.join(out, "train.csv"),
            "test": os.path.join(out, "test.csv"), "label": "label", "task": target, "names": None,
            "value_map": {}, "preprocess": []}


def read_frames(spec: dict):
    """(x_train, y_train, x_test, y_test) as pandas, strings as ``category`` with the train split's categories."""
    import pandas as pd

    kwargs = dict(skipinitialspace=True, na_values=["?", ""])
    if spec["names"]:
        kwargs.update(header=None, names=spec["names"])
    train = pd.read_csv(spec["train"], **kwargs)
    test = pd.read_csv(spec["test"], comment="|", **kwargs).dropna(subset=[spec["label"]])
    y, positive = {}, None
    for name, frame in (("train", train), ("test", test)):
        label = frame.pop(spec["label"])
        if spec["task"] == "binary":      # tfpipe's positive class: the last of the sorted train labels
            label = label.astype(str).str.strip().replace(spec["value_map"].get(spec["label"], {}))
            positive = positive or sorted(set(label))[-1]
            y[name] = (label == positive).to_numpy(np.int32)
        else:
            y[name] = label.to_numpy(np.float64)
    for column in train.columns:
        if not pd.api.types.is_numeric_dtype(train[column]):
            train[column] = train[column].astype("category")
            test[column] = pd.Categorical(test[column], categories=train[column].cat.categories)
    return train, y["train"], test, y["test"]


def _scores(task: str, y, p) -> dict:
    if task == "regression":
        return {"rmse": float(np.sqrt(np.mean((y - p) ** 2)))}
    from sklearn.metrics import log_loss, roc_auc_score

    return {"auc": float(roc_auc_score(y, p)), "logloss": float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)))}


def natives(spec: dict, frames) -> dict:
    """Each library with its defaults (fit seconds only; the CSV read is timed once, beside)."""
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    x, y, xt, yt = frames
    regression = spec["task"] == "regression"
    models = {
        "HistGradientBoosting": (HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier)(
            categorical_features="from_dtype", random_state=0),
        "XGBoost": (xgb.XGBRegressor if regression else xgb.XGBClassifier)(
            enable_categorical=True, tree_method="hist", random_state=0),
        "LightGBM": (lgb.LGBMRegressor if regression else lgb.LGBMClassifier)(random_state=0, verbose=-1),
    }
    out = {}
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(x, y)
        seconds = time.perf_counter() - start
        p = model.predict(xt) if regression else model.predict_proba(xt)[:, 1]
        out[name] = {**_scores(spec["task"], yt, p), "seconds": seconds}
    return out


def run_tfpipe(spec: dict, work: str, train_args: list[str]) -> dict:
    slug = spec["name"].replace(" ", "-").replace(",", "")
    data, model = os.path.join(work, f"{slug}-data"), os.path.join(work, f"{slug}-model")
    start = time.perf_counter()
    if not os.path.exists(os.path.join(data, "manifest.json")):
        _tfpipe("preprocess", "--input", f"train={spec['train']}", f"test={spec['test']}", "--output", data,
                "--label", spec["label"], "--runner", "DirectRunner", *spec["preprocess"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    preprocess_seconds = time.perf_counter() - start
    start = time.perf_counter()
    _tfpipe("train", "--data", data, "--output", model, "--overwrite", *train_args, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    with open(os.path.join(model, "metrics.json")) as f:
        saved = json.load(f)
    test = saved["splits"]["test"]
    keys = ("rmse",) if spec["task"] == "regression" else ("auc", "logloss")
    selection = [h for h in saved["history"] if h.get("phase") == "selection"]
    return {**{k: float(test["ensemble"][k]) for k in keys}, "seconds": seconds,
            "preprocess_seconds": preprocess_seconds, "ensemble": saved["metadata"]["ensemble"],
            "served": saved["metadata"].get("member_names"),
            "weights": selection[0]["weights"] if selection else None, "stages": saved.get("stages"),
            "time_limit": saved.get("time_limit")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--table", action="append", help="adult, wide:ROWS or wide-regression:ROWS (repeatable)")
    p.add_argument("--work", required=True, help="folder for the generated CSVs, datasets and models")
    p.add_argument("--train-args", default="", help="extra tfpipe train flags, one string")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    results = {}
    for table in args.table or ["adult"]:
        spec = prepare(table, args.work)
        start = time.perf_counter()
        frames = read_frames(spec)
        csv_seconds = time.perf_counter() - start
        rows = natives(spec, frames)
        rows["tfpipe train (default)"] = run_tfpipe(spec, args.work, args.train_args.split())
        results[spec["name"]] = {"csv_read_seconds": csv_seconds, "rows": len(frames[1]), "results": rows}
        keys = ("rmse",) if spec["task"] == "regression" else ("auc", "logloss")
        slowest = max(r["seconds"] for n, r in rows.items() if not n.startswith("tfpipe"))
        print(f"\n{spec['name']} ({len(frames[1]):,} train rows; pandas CSV read {csv_seconds:.1f} s, "
              f"tfpipe preprocess {rows['tfpipe train (default)']['preprocess_seconds']:.1f} s)")
        print(f"  {'':26s}" + "".join(f"{k:>9s}" for k in keys) + f"{'seconds':>9s}{'/slowest':>9s}")
        for name, r in rows.items():
            print(f"  {name:26s}" + "".join(f"{r[k]:9.4f}" for k in keys)
                  + f"{r['seconds']:9.1f}{r['seconds'] / slowest:9.2f}")
        tf_row = rows["tfpipe train (default)"]
        if tf_row["weights"]:
            print("  tfpipe served: " + ", ".join(f"{m} {w:.2f}" for m, w in tf_row["weights"].items()))
        limit = tf_row.get("time_limit") or {}
        estimate = limit.get("native_estimate")
        if limit.get("seconds"):   # --time-limit auto's probe beside the XGBoost fit it estimates, same run
            print(f"  tfpipe time limit ({limit['source']}): {limit['seconds']:.0f} s" + (
                f"; its probe's estimate of XGBoost's defaults {estimate['seconds']:.1f} s vs XGBoost measured "
                f"{rows['XGBoost']['seconds']:.1f} s" if estimate else ""))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
