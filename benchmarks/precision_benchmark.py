"""float32 vs mixed_float16 vs mixed_bfloat16: training throughput (examples/s) and test AUC.

Models: a wide (linear) member and K=16 bagging of wide_deep members in one pass. Data: synthetic Adult-shaped
tensors (``benchmarks/synthetic.py``), so no Beam / preprocessed data is needed (runs on the lent GPU).
Throughput = training examples per second over the timed epochs (after one warm-up epoch that compiles).

    python benchmarks/precision_benchmark.py                      # GPU sizes
    python benchmarks/precision_benchmark.py --quick              # small CPU smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time





def run_one(policy: str, model_kind: str, args) -> dict:
    import keras
    import tensorflow as tf

    from tfpipe.ensembles.bagging import BaggingEnsemble
    from tfpipe.ensembles.base import FitOptions
    from tfpipe.ensembles.metrics import roc_auc
    from tfpipe.ensembles.precision import policy_scope
    from synthetic import ADULT_VOCAB, synthetic_arrays
    from tfpipe.ensembles.task import Task

    keras.utils.set_random_seed(0)
    task = Task("binary")
    x, y = synthetic_arrays(args.train, task, seed=0)
    xt, yt = synthetic_arrays(args.test, task, seed=1, key_offset=10 ** 7)
    if model_kind == "wide":
        k, kind, hidden = 1, "linear", ()
    else:
        k, kind, hidden = args.members, "wide_deep", tuple(args.hidden)
    with policy_scope(policy):
        ens = BaggingEnsemble(task, k, kind, hidden=hidden, embedding_specs={n: (v, 8, "mean") for n, v in ADULT_VOCAB.items()},
                              seed=0, bootstrap=k > 1)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size)
    train = ens.training_dataset(ds).cache().prefetch(tf.data.AUTOTUNE)
    for _ in train:  # fill the cache before timing
        pass
    options = FitOptions(epochs=1, learning_rate=3e-3, patience=0, verbose=0, policy=policy,
                         jit_compile=args.jit)
    with policy_scope(policy):
        ens.build_on(next(iter(ds))[0], options)
        from tfpipe.ensembles.base import fit_keras
        fit_keras(ens, train, None, task.pointwise_loss, options, phase="warmup")     # compile + 1 epoch
        start = time.perf_counter()
        ens.fit(train, epochs=args.epochs, verbose=0, shuffle=False)
        seconds = time.perf_counter() - start
    test = tf.data.Dataset.from_tensor_slices((xt, yt)).batch(8192)
    pred = ens.predict_dataset(test)
    members_compute = ens.stack.hidden_layers[0].compute_dtype if hidden else ens.stack.linear_out.compute_dtype
    out = {"policy": policy, "model": model_kind, "members": k, "ex_per_s": args.train * args.epochs / seconds,
           "auc": roc_auc(pred["labels"], pred["predictions"]), "seconds": seconds,
           "compute_dtype": str(ens.stack.compute_dtype), "hidden_compute_dtype": str(members_compute),
           "variable_dtypes": sorted({str(v.dtype) for v in ens.weights}),
           "output_dtype": str(pred["predictions"].dtype)}
    print(json.dumps(out), flush=True)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train", type=int, default=500_000)
    p.add_argument("--test", type=int, default=100_000)
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--epochs", type=int, default=3, help="timed epochs (after one warm-up epoch)")
    p.add_argument("--members", type=int, default=16)
    p.add_argument("--hidden", type=int, nargs="*", default=[256, 128])
    p.add_argument("--jit", action="store_true", help="jit_compile=True (XLA)")
    p.add_argument("--policies", default="float32,mixed_float16,mixed_bfloat16")
    p.add_argument("--models", default="wide,bagging")
    p.add_argument("--quick", action="store_true", help="small sizes for a CPU smoke test")
    p.add_argument("--out", default=os.environ.get("OUT", ""))
    args = p.parse_args(argv)
    if args.quick:
        args.train, args.test, args.batch_size, args.epochs, args.members, args.hidden = 8192, 4096, 1024, 1, 4, [32]
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = "CPU"
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = f"{details.get('device_name', 'GPU')} (cc {details.get('compute_capability')})"
    print(f"device: {device}; TF {tf.__version__}", flush=True)
    results = [run_one(policy, model, args) for model in args.models.split(",") for policy in args.policies.split(",")]
    base = {r["model"]: r["ex_per_s"] for r in results if r["policy"] == "float32"}
    lines = [f"device: {device}; train={args.train} batch={args.batch_size} jit={args.jit} hidden={args.hidden}",
             "| model | policy | ex/s | vs float32 | test AUC |", "|---|---|---|---|---|"]
    for r in results:
        name = "wide (linear) member" if r["model"] == "wide" else f"bagging K={r['members']} wide_deep"
        ratio = r["ex_per_s"] / base[r["model"]] if r["model"] in base else float("nan")
        lines.append(f"| {name} | {r['policy']} | {r['ex_per_s']:,.0f} | {ratio:.2f}x | {r['auc']:.4f} |")
    table = "\n".join(lines)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "precision_benchmark.json"), "w") as f:
            json.dump({"device": device, "args": vars(args), "results": results}, f, indent=2)
        with open(os.path.join(args.out, "precision_benchmark.md"), "w") as f:
            f.write(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
