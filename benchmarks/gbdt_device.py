"""XGBoost GBDT training on the GPU vs the CPU, same rows, same run (issue 14).

Sections (``--sections``, comma list):

``native``  ``xgb.train`` with tfpipe's ``ensembles/xgboost_members.DEFAULT_PARAMS`` (hist, binary:logistic) on the Adult tree
            block (the rows tfpipe's gbdt member trains on: the train split less its 10% key carve-out, the carve-out
            for early stopping, the test split for AUC): fixed ``--rounds`` and early stopping (``--max-rounds``,
            ``--early-stopping``), device=cpu vs device=cuda. One ``QuantileDMatrix`` per data set (built on the
            host, "build s") is trained on by both devices; "s" columns are ``xgb.train`` seconds.
``large``   ``--rows`` rows so that the device matters: ``synthetic`` (seeded numpy, ``--cols`` columns of which
            ``--cats`` categorical, 2% missing numbers, nonlinear logistic label) and/or ``adult`` (the Adult
            train rows resampled to ``--rows`` with numbers jittered, tested on the real Adult test split); fixed
            ``--rounds``.
``tfpipe``  tfpipe's own path: ``tfpipe.ensembles.train._tree_data`` + ``gbdt.train_boosters`` (``TreeBatches`` from
            ``tf.data`` into ``QuantileDMatrix``, feed included) with ``TreeConfig(device="cpu")`` vs ``"cuda"`` on
            ``--data``; fixed rounds (no eval set) and early stopping (tfpipe's default). Needs TensorFlow.

Only ``tfpipe`` and the extraction of the Adult arrays (``--data`` without ``--arrays``) import TensorFlow. On a
machine without a GPU (or an XGBoost built without CUDA) the cuda cells say "no GPU". Results are written to
``--out`` (JSON, after every section) and printed as a table last.

    python benchmarks/gbdt_device.py --data /tmp/adult [--rows 2000000] [--rounds 500] [--out r.json]
    python benchmarks/gbdt_device.py --data /tmp/adult --save-arrays adult_tree.npz --sections none
    python benchmarks/gbdt_device.py --arrays adult_tree.npz --sections native,large     # no TensorFlow needed
    python benchmarks/gbdt_device.py --table r.json                                       # table of a saved run
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NO_GPU = "no GPU"


# ----------------------------------------------------------------------------------------------- machine / params
def default_params() -> dict:
    """``DEFAULT_PARAMS`` of ``ensembles/xgboost_members.py``, read from its source (importing it would import Keras/TF)."""
    import importlib.util

    # find_spec imports the parent package only: tfpipe.ensembles itself (TensorFlow) is not imported
    source = os.path.join(os.path.dirname(importlib.util.find_spec("tfpipe.ensembles").origin), "xgboost_members.py")
    tree = ast.parse(open(source, encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "DEFAULT_PARAMS" for t in node.targets):
            return dict(ast.literal_eval(node.value))
    raise RuntimeError("DEFAULT_PARAMS not found in ensembles/xgboost_members.py")


def booster_params(device: str, nthread: int) -> dict:
    params = {**default_params(), "objective": "binary:logistic", "eval_metric": "logloss", "seed": 0,
              "device": device}
    if nthread > 0:
        params["nthread"] = nthread
    return params


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _gpus() -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        return []


def _booster_device(booster) -> str:
    return json.loads(booster.save_config())["learner"]["generic_param"].get("device", "?")


def probe_cuda() -> dict:
    """Whether XGBoost really trains on a GPU here (it silently falls back to the CPU when it finds none), and
    the one-off cost of the first CUDA training (context creation), paid here so the timings exclude it."""
    import xgboost as xgb

    info = {"use_cuda_build": bool(xgb.build_info().get("USE_CUDA"))}
    x = np.random.default_rng(0).random((2048, 4), dtype=np.float32)
    y = (x[:, 0] > 0.5).astype("int32")
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            booster = xgb.train({"device": "cuda", "tree_method": "hist", "objective": "binary:logistic"},
                                xgb.QuantileDMatrix(x, y), 5)
            info["device"] = _booster_device(booster)
        except xgb.core.XGBoostError as exc:
            info["device"], info["error"] = "cpu", str(exc).splitlines()[0][:200]
    info["init_seconds"] = time.perf_counter() - start
    info["warnings"] = [str(w.message)[:200] for w in caught]
    info["available"] = info["device"].startswith("cuda")
    return info


def machine_info(nthread: int) -> dict:
    import xgboost as xgb

    return {"host": platform.node(), "cpu_model": _cpu_model(), "cpu_count": os.cpu_count(),
            "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "xgboost_nthread": nthread or "all", "gpus": _gpus(), "xgboost": xgb.__version__,
            "numpy": np.__version__, "python": platform.python_version()}


# ------------------------------------------------------------------------------------------------------ metrics
def auc(y, p) -> float:
    """ROC AUC with tied scores averaged (Mann-Whitney U)."""
    from scipy.stats import rankdata

    y = np.asarray(y).reshape(-1).astype(bool)
    ranks = rankdata(np.asarray(p, dtype=np.float64).reshape(-1))
    pos, neg = int(y.sum()), int((~y).sum())
    if not pos or not neg:
        return float("nan")
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def predict(booster, x, kinds, rounds: int) -> np.ndarray:
    import xgboost as xgb

    booster.set_param({"device": "cpu"})    # prediction is not timed; host data, no device-mismatch warning
    return booster.predict(xgb.DMatrix(x, feature_types=kinds, enable_categorical=True),
                           iteration_range=(0, rounds))


# ------------------------------------------------------------------------------------------------ Adult arrays
def adult_arrays(data: str, label: str | None = None, eval_fraction: float = 0.1, seed: int = 0) -> dict:
    """Tree-block arrays of a preprocessed dir, as ``train_ensemble`` carves them (needs TensorFlow)."""
    
    from tfpipe import features as tff
    from tfpipe.features import artifacts, key_filters
    from tfpipe.ensembles.tree_members import feature_types
    from tfpipe.ensembles.train import _load_definitions

    label = label or artifacts.load_manifest(data)["label"]
    fitted, schema, stats, _ = _load_definitions(data, None, label)
    label_spec = tff.fit_label(schema, stats, label)
    compiled = tff.compile_features(fitted, label_spec=label_spec)
    splits = artifacts.available_splits(data)
    carve = None if "eval" in splits else {"fraction": float(eval_fraction), "seed": int(seed)}

    def rows(split, mode):
        ds = tff.make_dataset(data, split, compiled, 8192, label=label_spec, blocks="tree",
                              read=tff.ReadOptions(deterministic=True, keep=key_filters.carve_filter(mode, carve)))
        parts = [(x["tree"].numpy(), y.numpy()) for x, y in ds]
        return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts]).astype("int32")

    test_split = "test" if "test" in splits else "eval"
    (xtr, ytr), (xev, yev) = (rows("train", "keep"), rows("train", "holdout")) if carve else (
        rows("train", None), rows("eval", None))
    xte, yte = rows(test_split, None)
    return {"xtr": xtr, "ytr": ytr, "xev": xev, "yev": yev, "xte": xte, "yte": yte,
            "kinds": np.array(feature_types(compiled.tree_features)),
            "names": np.array([f.name for f in compiled.tree_features])}


def load_arrays(args) -> dict | None:
    if args.arrays and os.path.exists(args.arrays):
        with np.load(args.arrays) as f:
            return {k: f[k] for k in f.files}
    if args.data:
        arrays = adult_arrays(args.data, args.label)
        if args.save_arrays:
            os.makedirs(os.path.dirname(os.path.abspath(args.save_arrays)), exist_ok=True)
            np.savez_compressed(args.save_arrays, **arrays)
            print(f"[gbdt_device] wrote {args.save_arrays}", flush=True)
        return arrays
    return None


# ------------------------------------------------------------------------------------------------- large data
def synthetic(rows: int, cols: int, cats: int, seed: int = 0):
    """``rows`` × ``cols`` float32 (the last ``cats`` columns categorical ids, cardinalities 4..1000), label from a
    nonlinear logit with per-category effects; 2% NaN in the first 10 numbers."""
    rng = np.random.default_rng(seed)
    cats = min(cats, cols - 8)
    x = rng.standard_normal((rows, cols), dtype=np.float32)
    cards = np.unique(np.geomspace(4, 1000, max(cats, 1)).astype(int))[:cats] if cats else []
    logit = (0.8 * x[:, 0] - 0.6 * x[:, 1] + 0.5 * x[:, 2] * x[:, 3] + 0.7 * np.sin(2 * x[:, 4])
             + 0.6 * (x[:, 5] > 0.5) * x[:, 6] + 0.3 * x[:, 7] ** 2 - 0.6)
    for j, card in enumerate(cards):
        col = cols - len(cards) + j
        ids = rng.integers(0, card, rows)
        x[:, col] = ids
        logit += rng.normal(0.0, 0.4, card)[ids]
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype("int32")
    miss = rng.random((rows, min(10, cols))) < 0.02
    x[:, : min(10, cols)][miss] = np.nan
    kinds = ["q"] * (cols - len(cards)) + ["c"] * len(cards)
    return x, y, kinds


def jittered_adult(arrays: dict, rows: int, seed: int = 0):
    """Adult train rows resampled to ``rows``; numbers get N(0, (0.02·std)²) noise, categories unchanged."""
    rng = np.random.default_rng(seed)
    x0, y0, kinds = arrays["xtr"], arrays["ytr"], [str(k) for k in arrays["kinds"]]
    idx = rng.integers(0, len(x0), rows)
    x, y = x0[idx], y0[idx]
    for j, kind in enumerate(kinds):
        if kind == "q":
            std = float(np.nanstd(x0[:, j])) or 1.0
            x[:, j] += rng.normal(0.0, 0.02 * std, rows).astype(np.float32)
    return x, y, kinds


# ------------------------------------------------------------------------------------------------------ runners
def train_on(dtrain, device: str, rounds: int, nthread: int, evals=(), early: int = 0) -> tuple:
    import xgboost as xgb

    start = time.perf_counter()
    booster = xgb.train(booster_params(device, nthread), dtrain, rounds, evals=list(evals),
                        early_stopping_rounds=early or None, verbose_eval=False)
    seconds = time.perf_counter() - start
    used = booster.num_boosted_rounds() if not early else booster.best_iteration + 1
    return booster, seconds, used, _booster_device(booster)


def compare(name: str, dtrain, build_seconds: float, devices, test, kinds, args, shape, evals=(), early=0,
            rounds=None, repeat: int = 1) -> dict:
    """Trains on ``dtrain`` per device (min of ``repeat`` runs) and scores ``test`` → one table row."""
    row = {"run": name, "rows": shape[0], "cols": shape[1], "build_seconds": build_seconds, "devices": {}}
    for device in devices:
        if device == "cuda" and not args.cuda["available"]:
            row["devices"][device] = {"skipped": NO_GPU}
            continue
        best = None
        for _ in range(max(repeat, 1)):
            booster, seconds, used, actual = train_on(dtrain, device, rounds or args.rounds, args.nthread, evals, early)
            if best is None or seconds < best[1]:
                best = (booster, seconds, used, actual)
        booster, seconds, used, actual = best
        cell = {"seconds": seconds, "rounds": used, "device_used": actual}
        if test is not None:
            cell["test_auc"] = auc(test[1], predict(booster, test[0], kinds, used))
        row["devices"][device] = cell
        print(f"[gbdt_device] {name} {device}: {json.dumps(cell)}", flush=True)
    return row


def run_native(arrays: dict, args, devices) -> list:
    import xgboost as xgb

    kinds = [str(k) for k in arrays["kinds"]]
    common = dict(feature_types=kinds, enable_categorical=True, max_bin=int(default_params()["max_bin"]))
    start = time.perf_counter()
    dtrain = xgb.QuantileDMatrix(arrays["xtr"], arrays["ytr"], **common)
    deval = xgb.QuantileDMatrix(arrays["xev"], arrays["yev"], ref=dtrain, **common)
    build = time.perf_counter() - start
    test, shape = (arrays["xte"], arrays["yte"]), arrays["xtr"].shape
    return [
        compare(f"Adult native, {args.rounds} rounds", dtrain, build, devices, test, kinds, args, shape,
                repeat=args.repeat),
        compare(f"Adult native, early stop {args.early_stopping} (max {args.max_rounds})", dtrain, build, devices,
                test, kinds, args, shape, evals=[(deval, "eval")], early=args.early_stopping, rounds=args.max_rounds,
                repeat=args.repeat),
    ]


def run_large(arrays: dict | None, args, devices) -> list:
    import xgboost as xgb

    out = []
    for kind in [k for k in args.large.split(",") if k]:
        start = time.perf_counter()
        if kind == "synthetic":
            n_test = min(200_000, max(args.rows // 10, 1000))
            x, y, kinds = synthetic(args.rows + n_test, args.cols, args.cats, seed=0)
            (x, xt), (y, yt) = (x[:args.rows], x[args.rows:]), (y[:args.rows], y[args.rows:])
            label = f"synthetic {args.cols - args.cats}q+{args.cats}c"
        elif kind == "adult":
            if arrays is None:
                print("[gbdt_device] large adult: no Adult arrays (--arrays / --data), skipped", flush=True)
                continue
            x, y, kinds = jittered_adult(arrays, args.rows, seed=0)
            xt, yt = arrays["xte"], arrays["yte"]
            label = "Adult resampled+jittered"
        else:
            raise ValueError(f"--large: unknown data set {kind!r}")
        made = time.perf_counter() - start
        start = time.perf_counter()
        dtrain = xgb.QuantileDMatrix(x, y, feature_types=kinds, enable_categorical=True,
                                     max_bin=int(default_params()["max_bin"]))
        build = time.perf_counter() - start
        print(f"[gbdt_device] {label}: {x.shape} made in {made:.1f} s, QuantileDMatrix {build:.1f} s", flush=True)
        del x
        out.append(compare(f"{label}, {args.rounds} rounds", dtrain, build, devices, (xt, yt), kinds, args,
                           (args.rows, len(kinds))))
        del dtrain
    return out


def run_tfpipe(arrays: dict | None, args, devices) -> list:
    
    from tfpipe import features as tff
    from tfpipe.ensembles.tree_members import TreeConfig, resolve_device
    from tfpipe.ensembles.xgboost_members import train_boosters
    from tfpipe.ensembles.task import task_from_label_spec
    from tfpipe.ensembles.train import _load_definitions, _tree_data
    from tfpipe.features import artifacts

    data = args.data
    label = args.label or artifacts.load_manifest(data)["label"]
    fitted, schema, stats, _ = _load_definitions(data, None, label)
    label_spec = tff.fit_label(schema, stats, label)
    compiled = tff.compile_features(fitted, label_spec=label_spec)
    task = task_from_label_spec(label_spec)
    carve = None if "eval" in artifacts.available_splits(data) else {"fraction": 0.1, "seed": 0}
    if arrays is None or arrays["xte"].shape[1] != compiled.tree_width:
        arrays = adult_arrays(data, label)
    kinds = [str(k) for k in arrays["kinds"]]
    import tfpipe

    auto = resolve_device("auto")
    print(f"[gbdt_device] tfpipe from {os.path.dirname(tfpipe.__file__)}; TreeConfig(device='auto') resolves to "
          f"{auto!r} here", flush=True)
    rows = []
    for mode in ("fixed", "early"):
        name = (f"tfpipe train_boosters, {args.rounds} rounds" if mode == "fixed" else
                f"tfpipe train_boosters, early stop {args.early_stopping} (max {args.max_rounds})")
        row = {"run": name, "rows": int(len(arrays["xtr"])), "cols": compiled.tree_width, "build_seconds": None,
               "devices": {}, "auto_device": auto, "feed_included": True,
               "tfpipe_source": os.path.dirname(tfpipe.__file__)}
        for device in devices:
            if device == "cuda" and not args.cuda["available"]:
                row["devices"][device] = {"skipped": NO_GPU}
                continue
            params = (("nthread", args.nthread),) if args.nthread > 0 else ()
            config = TreeConfig(num_boost_round=args.rounds if mode == "fixed" else args.max_rounds,
                                early_stopping_rounds=0 if mode == "fixed" else args.early_stopping,
                                device=device, params=params)
            tree = _tree_data(data, compiled, label_spec, carve, config, blocks="tree")
            start = time.perf_counter()
            data = tree if mode != "fixed" else dataclasses.replace(tree, eval=None)
            boosters, infos = train_boosters(data, task, 1, config, seed=0, log=lambda *_: None)
            seconds = time.perf_counter() - start
            info = infos[0]
            cell = {"seconds": seconds, "feed_seconds": info["feed_seconds"], "train_seconds": info["seconds"],
                    "rounds": info["rounds"], "device_used": _booster_device(boosters[0]), "rows_fed": info["rows"],
                    "test_auc": auc(arrays["yte"], predict(boosters[0], arrays["xte"], kinds, info["rounds"]))}
            row["devices"][device] = cell
            print(f"[gbdt_device] {name} {device}: {json.dumps(cell)}", flush=True)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------------- table
def _fmt(v, spec=".2f"):
    return "—" if v is None else format(v, spec)


def table(result: dict) -> str:
    m, cuda = result["machine"], result.get("cuda", {})
    gpu = "; ".join(m.get("gpus") or []) or "none"
    lines = [f"machine: {m['host']} | CPU {m['cpu_model']} | {m['cpu_count']} cores "
             f"({m['cpu_affinity']} usable), XGBoost nthread={m['xgboost_nthread']} | GPU: {gpu}",
             f"xgboost {m['xgboost']} (CUDA build: {cuda.get('use_cuda_build')}, GPU training: "
             f"{cuda.get('device')}, first CUDA train {_fmt(cuda.get('init_seconds'))} s, not counted) | "
             f"params: {json.dumps(result.get('params'))}",
             "",
             "| run | rows × cols | build s | cpu s | cuda s | cpu/cuda | rounds cpu/cuda | AUC cpu | AUC cuda |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        c, g = row["devices"].get("cpu", {}), row["devices"].get("cuda", {})
        cell = lambda d, k, spec=".2f": d.get("skipped") or _fmt(d.get(k), spec)  # noqa: E731
        ratio = (f"{c['seconds'] / g['seconds']:.1f}x" if c.get("seconds") and g.get("seconds") else "—")
        secs = lambda d: (cell(d, "seconds") + (f" (feed {d['feed_seconds']:.2f})" if "feed_seconds" in d else ""))  # noqa
        lines.append(f"| {row['run']} | {row['rows']:,} × {row['cols']} | {_fmt(row.get('build_seconds'))} | "
                     f"{secs(c)} | {secs(g)} | {ratio} | {c.get('rounds', '—')}/{g.get('rounds', '—')} | "
                     f"{cell(c, 'test_auc', '.4f')} | {cell(g, 'test_auc', '.4f')} |")
    for row in result["rows"]:
        for d, cell in row["devices"].items():
            if cell.get("device_used") and not cell["device_used"].startswith(d):
                lines.append(f"WARNING: {row['run']} asked for {d} but XGBoost trained on {cell['device_used']}")
    if any("auto_device" in r for r in result["rows"]):
        lines.append(f"tfpipe TreeConfig(device='auto') -> {[r for r in result['rows'] if 'auto_device' in r][0]['auto_device']}")
    for err in result.get("errors", []):
        lines.append(f"ERROR in {err['section']}: {err['error']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="preprocessed dir (tfpipe preprocess), e.g. /tmp/adult")
    p.add_argument("--label", default=None, help="label column (default: the manifest's)")
    p.add_argument("--arrays", default=None, help="Adult tree-block arrays (.npz from --save-arrays); no TF needed")
    p.add_argument("--save-arrays", default=None, help="write the arrays extracted from --data here")
    p.add_argument("--sections", default="native,large,tfpipe", help="native,large,tfpipe (or none)")
    p.add_argument("--devices", default="cpu,cuda")
    p.add_argument("--rounds", type=int, default=500, help="fixed boosting rounds")
    p.add_argument("--max-rounds", type=int, default=2000, help="cap of the early-stopping runs")
    p.add_argument("--early-stopping", type=int, default=50)
    p.add_argument("--rows", type=int, default=2_000_000, help="rows of the large data sets")
    p.add_argument("--cols", type=int, default=50, help="columns of the synthetic data set")
    p.add_argument("--cats", type=int, default=8, help="categorical columns among --cols")
    p.add_argument("--large", default="synthetic,adult", help="large data sets: synthetic,adult")
    p.add_argument("--nthread", type=int, default=0, help="XGBoost CPU threads (0: all cores)")
    p.add_argument("--repeat", type=int, default=1, help="runs per Adult-native cell (min reported)")
    p.add_argument("--out", default="", help="JSON results (rewritten after every section)")
    p.add_argument("--table", default=None, help="print the table of a saved --out JSON and exit")
    args = p.parse_args(argv)
    if args.table:
        print(table(json.load(open(args.table, encoding="utf-8"))))
        return 0

    sections = [s for s in args.sections.split(",") if s and s != "none"]
    devices = [d for d in args.devices.split(",") if d]
    result = {"machine": machine_info(args.nthread), "args": dict(vars(args)), "params": default_params(), "rows": [],
              "errors": []}
    print(f"[gbdt_device] machine: {json.dumps(result['machine'])}", flush=True)
    args.cuda = result["cuda"] = probe_cuda() if "cuda" in devices else {"available": False, "device": "not asked"}
    print(f"[gbdt_device] cuda probe: {json.dumps(args.cuda)}", flush=True)
    needs_arrays = bool({"native", "large"} & set(sections)) or args.save_arrays
    arrays = load_arrays(args) if needs_arrays else None

    def save():
        if args.out:
            os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
            with open(args.out, "w", encoding="utf-8") as f:
                json.dump(result, f, indent=1, default=str)

    runners = {"native": run_native, "large": run_large, "tfpipe": run_tfpipe}
    for section in sections:
        if section not in runners:
            raise SystemExit(f"--sections: unknown section {section!r}")
        if section == "native" and arrays is None:
            result["errors"].append({"section": section, "error": "no Adult arrays: give --arrays or --data"})
            continue
        if section == "tfpipe" and not args.data:
            result["errors"].append({"section": section, "error": "needs --data (a preprocessed dir)"})
            continue
        start = time.perf_counter()
        try:
            result["rows"].extend(runners[section](arrays, args, devices))
        except Exception as exc:  # noqa: BLE001 (one section's failure must not lose the others' numbers)
            import traceback

            traceback.print_exc()
            result["errors"].append({"section": section, "error": f"{type(exc).__name__}: {exc}"[:500]})
        result.setdefault("section_seconds", {})[section] = time.perf_counter() - start
        save()
    save()
    print(table(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
