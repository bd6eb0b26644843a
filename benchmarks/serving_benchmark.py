"""Serving speed of an exported SavedModel on CPU: batch-1 latency (p50/p99) and batch-1024 throughput from
serialized tf.Examples, beside XGBoost's and LightGBM's own ``predict`` on the same rows for the model's gbdt and
lgbm members (what the trees alone cost natively; the SavedModel also parses, preprocesses and runs every other
member).

    python benchmarks/serving_benchmark.py --model MODEL_DIR --data DIR [--split test] [--calls 500]

Goal (issue 14): batch-1 p50 <= 2 ms for the stacking model that ``tfpipe train --ensemble stacking`` exports.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time




def served_booster_files(model_dir: str, suffix: str = "json") -> list[str]:
    """The tree models the SavedModel evaluates (``json``: XGBoost, ``txt``: LightGBM): stacking serves only each
    tree member's full-data copy (the last of its ``folds + 1`` boosters), bagging and boosting all of them."""
    paths = sorted(glob.glob(os.path.join(model_dir, "gbdt", f"*.{suffix}")))
    with open(os.path.join(model_dir, "metrics.json")) as f:
        metadata = json.load(f)["metadata"]
    if metadata["ensemble"] == "stacking":
        full_copy = f"_{metadata['options']['folds']}.{suffix}"
        paths = [p for p in paths if p.endswith(full_copy)]
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="MODEL_DIR of tfpipe train")
    p.add_argument("--data", required=True, help="tfpipe preprocess DIR")
    p.add_argument("--split", default="test")
    p.add_argument("--calls", type=int, default=500)
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf
    import xgboost as xgb

    from tfpipe import features as tff
    from tfpipe.ensembles.tree_members import feature_types
    from tfpipe.serving.predictions import serialized_dataset

    examples = next(iter(serialized_dataset(args.data, args.split, batch_size=1024)))
    serve = tf.saved_model.load(os.path.join(args.model, "saved_model")).signatures["serving_default"]
    for _ in range(20):
        serve(examples=examples[:1])
    latencies = []
    for i in range(args.calls):
        one = examples[i % 1024:i % 1024 + 1]
        start = time.perf_counter()
        serve(examples=one)
        latencies.append(time.perf_counter() - start)
    serve(examples=examples)
    start = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        serve(examples=examples)
    saved_rate = rounds * 1024 / (time.perf_counter() - start)

    compiled = tff.compile_features(tff.load_config(os.path.join(args.model, "features.pbtxt")))
    tree = compiled.preprocessor.tree_block(tf.io.parse_example(examples, compiled.parse_spec)).numpy()
    kinds = feature_types(compiled.tree_features)
    boosters = []
    for path in served_booster_files(args.model):
        booster = xgb.Booster()
        booster.load_model(path)
        boosters.append(booster)
    native_rate = lgbm_rate = None
    if boosters:
        matrix = xgb.DMatrix(tree, feature_types=kinds, enable_categorical=True)
        start = time.perf_counter()
        for _ in range(rounds):
            for booster in boosters:
                booster.predict(matrix)
        native_rate = rounds * 1024 / (time.perf_counter() - start)
    light = served_booster_files(args.model, "txt")
    if light:
        import lightgbm as lgb

        models = [lgb.Booster(model_file=path) for path in light]
        start = time.perf_counter()
        for _ in range(rounds):
            for model in models:
                model.predict(tree, raw_score=True)
        lgbm_rate = rounds * 1024 / (time.perf_counter() - start)
    ms = np.asarray(latencies) * 1e3
    result = {"batch1_p50_ms": float(np.percentile(ms, 50)), "batch1_p99_ms": float(np.percentile(ms, 99)),
              "batch1024_examples_per_s": saved_rate, "xgboost_predict_examples_per_s": native_rate,
              "xgboost_boosters": len(boosters), "lightgbm_predict_examples_per_s": lgbm_rate,
              "lightgbm_boosters": len(light)}
    print(json.dumps(result))
    print(f"| SavedModel batch-1 p50 / p99 | {result['batch1_p50_ms']:.2f} ms / {result['batch1_p99_ms']:.2f} ms |")
    print(f"| SavedModel batch 1024 (parse + preprocess + all members) | {saved_rate:,.0f} ex/s |")
    if native_rate:
        print(f"| XGBoost predict, the {len(boosters)} served boosters only, same 1024 rows (DMatrix prebuilt) | "
              f"{native_rate:,.0f} ex/s |")
    if lgbm_rate:
        print(f"| LightGBM predict, the {len(light)} served boosters only, same 1024 rows | {lgbm_rate:,.0f} ex/s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
