"""UCI Adult test split, side by side in one run: GBDT libraries natively (scikit-learn's
HistGradientBoosting, XGBoost, LightGBM on the raw CSV with pandas), tfpipe's gbdt member through its SavedModel
and XGBoost natively on the SAME rows (must agree to 4 decimals; time ratio goal <= 1.5), the NN ensembles
(bagging, boosting, stacking), and the stack of gbdt + NN members; each with its training seconds.

    pip install ".[bench]"
    python benchmarks/adult_accuracy.py [--data /tmp/adult] [--out results.json] [--ensembles ...]

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

from tfpipe.demo import adult_dir

ADULT = adult_dir()
COLUMNS = ("age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,"
           "capital-gain,capital-loss,hours-per-week,native-country,income")


def preprocess(out: str) -> str:
    cmd = [sys.executable, "-m", "tfpipe.cli", "preprocess", "--input", f"train={ADULT}/adult.data",
           f"test={ADULT}/adult.test", "--output", out, "--label", "income", "--column-names", COLUMNS,
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


def _raw_frames():
    import pandas as pd

    names = COLUMNS.split(",")
    read = lambda f, skip: pd.read_csv(f, names=names, skipinitialspace=True, na_values="?", skiprows=skip)  # noqa
    train, test = read(f"{ADULT}/adult.data", 0), read(f"{ADULT}/adult.test", 1)
    for c in [c for c in names[:-1] if not pd.api.types.is_numeric_dtype(train[c])]:
        kinds = pd.CategoricalDtype(sorted(train[c].dropna().unique()))
        train[c], test[c] = train[c].astype(kinds), test[c].astype(kinds)
    y = lambda df: df["income"].str.rstrip(".").eq(">50K").astype(int).values  # noqa
    return train[names[:-1]], y(train), test[names[:-1]], y(test)


def _scores(y, p) -> dict:
    from sklearn.metrics import log_loss, roc_auc_score

    return {"test_auc": float(roc_auc_score(y, p)), "test_logloss": float(log_loss(y, p))}


def native_baselines() -> dict:
    """The three libraries as a user would call them on the raw CSV (early stopping on a random 10%)."""
    import lightgbm as lgb
    import numpy as np
    import xgboost as xgb
    from sklearn.ensemble import HistGradientBoostingClassifier

    from tfpipe.ensembles.xgboost_members import DEFAULT_PARAMS

    x, y, xt, yt = _raw_frames()
    hold = np.random.default_rng(0).random(len(x)) < 0.1
    out = {}
    start = time.time()
    hgb = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0).fit(x, y)
    out["sklearn HistGradientBoosting"] = {**_scores(yt, hgb.predict_proba(xt)[:, 1]), "seconds": time.time() - start}
    start = time.time()
    params = {**DEFAULT_PARAMS, "objective": "binary:logistic", "eval_metric": "logloss", "seed": 0}
    dtrain = xgb.DMatrix(x[~hold], y[~hold], enable_categorical=True)
    deval = xgb.DMatrix(x[hold], y[hold], enable_categorical=True)
    booster = xgb.train(params, dtrain, 2000, evals=[(deval, "eval")], early_stopping_rounds=50, verbose_eval=False)
    p = booster.predict(xgb.DMatrix(xt, enable_categorical=True), iteration_range=(0, booster.best_iteration + 1))
    out["XGBoost (pandas, tfpipe's params)"] = {**_scores(yt, p), "seconds": time.time() - start}
    start = time.time()
    model = lgb.train({"objective": "binary", "learning_rate": 0.05, "verbose": -1, "seed": 0}, lgb.Dataset(x[~hold], y[~hold]),
                      2000, valid_sets=[lgb.Dataset(x[hold], y[hold])], callbacks=[lgb.early_stopping(50, verbose=False)])
    out["LightGBM (pandas)"] = {**_scores(yt, model.predict(xt, num_iteration=model.best_iteration)),
                                "seconds": time.time() - start}
    return out


def same_rows_native(data: str, result, library: str = "xgboost") -> dict:
    """The tree library natively on the rows tfpipe's tree member trained on (the tree block of the carved train
    split), with the member's parameters: XGBoost (``gbdt``) or LightGBM (``lgbm``)."""
    import numpy as np

    from tfpipe import features as tff
    from tfpipe.ensembles.tree_members import TreeConfig, feature_types
    from tfpipe.ensembles.task import Task
    from tfpipe.features.key_filters import carve_filter

    meta = result.metadata
    compiled = tff.compile_features(tff.load_config(os.path.join(result.output_dir, "features.pbtxt")))
    label = tff.fit_label(data, data, "income")
    rows = lambda split, mode: [(x["tree"].numpy(), y.numpy()) for x, y in tff.make_dataset(  # noqa: E731
        data, split, compiled, 8192, label=label, blocks="tree",
        read=tff.ReadOptions(deterministic=True, keep=carve_filter(mode, meta["eval_carve"])))]
    stack = lambda parts: (np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts]))  # noqa
    (xtr, ytr), (xev, yev), (xte, yte) = stack(rows("train", "keep")), stack(rows("train", "holdout")), stack(
        rows("test", None))
    kinds = feature_types(compiled.tree_features)
    if library == "lightgbm":
        import lightgbm as lgb

        from tfpipe.ensembles.lightgbm_members import lightgbm_params

        params = lightgbm_params(TreeConfig(), Task("binary"), seed=0)
        cats = [i for i, k in enumerate(kinds) if k == "c"]
        start = time.time()
        dtrain = lgb.Dataset(xtr, ytr, categorical_feature=cats)
        model = lgb.train(params, dtrain, 2000, valid_sets=[lgb.Dataset(xev, yev, reference=dtrain)],
                          callbacks=[lgb.early_stopping(50, verbose=False)])
        seconds = time.time() - start
        p = model.predict(xte, num_iteration=model.best_iteration)
        return {**_scores(yte, p), "seconds": seconds, "rounds": model.best_iteration}
    import xgboost as xgb

    from tfpipe.ensembles.xgboost_members import booster_params

    params = booster_params(TreeConfig(device="cpu"), Task("binary"), seed=0)
    start = time.time()
    dtrain = xgb.QuantileDMatrix(xtr, ytr, feature_types=kinds, enable_categorical=True, max_bin=256)
    deval = xgb.QuantileDMatrix(xev, yev, feature_types=kinds, enable_categorical=True, ref=dtrain)
    booster = xgb.train(params, dtrain, 2000, evals=[(deval, "eval")], early_stopping_rounds=50, verbose_eval=False)
    seconds = time.time() - start
    p = booster.predict(xgb.DMatrix(xte, feature_types=kinds, enable_categorical=True),
                        iteration_range=(0, booster.best_iteration + 1))
    return {**_scores(yte, p), "seconds": seconds, "rounds": booster.best_iteration + 1}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None)
    p.add_argument("--work", default=None, help="folder for the models (temporary by default)")
    p.add_argument("--ensembles", default="gbdt,lgbm,bagging,boosting,stacking,stack_gbdt_nn")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--out", default="")
    p.add_argument("--features", default="default", choices=["tuned", "default"],
                   help="default: what `tfpipe features init` writes (periodic number embeddings included); "
                        "tuned: the hand-made config below")
    args = p.parse_args(argv)

    from tfpipe.train import train_ensemble

    work = args.work or tempfile.mkdtemp(prefix="adult_bench_")
    os.makedirs(work, exist_ok=True)
    data = args.data or preprocess(os.path.join(work, "adult"))
    config = feature_config(os.path.join(work, "features.pbtxt")) if args.features == "tuned" else None
    from tfpipe.ensembles.train_options import (BaggingOptions, BoostingOptions, KerasOptions, RuntimeOptions,
                                                StackingOptions, TrainOptions)

    def keras(hidden, batch_size=512):
        return KerasOptions(epochs=args.epochs, batch_size=batch_size, hidden=hidden, learning_rate=1e-3, patience=2)

    settings = {   # ensemble options, Keras options
        "gbdt": (BaggingOptions(members=1, member_kinds="gbdt", bootstrap=False), keras((64, 32), 256)),
        "lgbm": (BaggingOptions(members=1, member_kinds="lgbm", bootstrap=False), keras((64, 32), 256)),
        "bagging": (BaggingOptions(members=8), keras((64, 32))),
        "boosting": (BoostingOptions(members=6), keras((32,))),
        "stacking": (StackingOptions(members=3, folds=4, member_kinds="linear,dnn,wide_deep"), keras((64, 32))),
        "stack_gbdt_nn": (StackingOptions(members=4, folds=5), keras((64, 32))),
    }
    results = native_baselines()
    for name, r in results.items():
        print(json.dumps({name: r}), flush=True)
    for kind in args.ensembles.split(","):
        start = time.time()
        ensemble, keras_options = settings[kind]
        options = TrainOptions(ensemble=ensemble, keras=keras_options,
                               runtime=RuntimeOptions(precision="auto", strategy="default", seed=0, verbose=2))
        res = train_ensemble(data, os.path.join(work, kind), options, label="income", features_config=config)
        test = res.metrics["test"]
        best = "F_1" if kind == "boosting" else test["best_member"]
        r = {"test_auc": test["ensemble"]["auc"], "test_logloss": test["ensemble"]["logloss"],
             "best_member": best, "best_member_test_auc": test["members"][best]["auc"],
             "seconds": time.time() - start, "model_dir": res.output_dir, "members": res.metadata["member_names"]}
        if kind in ("gbdt", "lgbm"):
            info = [h for h in res.history if "models" in h][0]["models"][0]
            r["gbdt_seconds"] = info["seconds"] + info["feed_seconds"]
            library = "lightgbm" if kind == "lgbm" else "xgboost"
            native = same_rows_native(data, res, library)
            results[f"{'LightGBM' if kind == 'lgbm' else 'XGBoost'} natively on tfpipe's rows"] = native
            r["native_same_rows"] = native
            r["time_ratio"] = r["gbdt_seconds"] / native["seconds"]
        results[kind] = r
        print(json.dumps({kind: {k: v for k, v in r.items() if k != "model_dir"}}), flush=True)
    lines = ["| model | test AUC | test log loss | training s | notes |", "|---|---|---|---|---|"]
    for name, r in results.items():
        note = ""
        if "best_member" in r:
            note = f"best member {r['best_member']} {r['best_member_test_auc']:.4f}"
        if name in ("gbdt", "lgbm"):
            note = (f"through the SavedModel; vs native same rows {r['native_same_rows']['test_auc']:.4f}; "
                    f"time {r['gbdt_seconds']:.1f} s (feed incl.) = {r['time_ratio']:.2f}x native")
        lines.append(f"| {name} | {r['test_auc']:.4f} | {r['test_logloss']:.4f} | {r['seconds']:.1f} | {note} |")
    print("\n".join(lines))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
