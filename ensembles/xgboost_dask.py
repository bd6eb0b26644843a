"""``gbdt`` members trained on a Dask cluster with XGBoost's own distributed engine (``xgboost.dask``), for data
that outgrows one process.

Each Dask worker reads its own part of the split's shards (``ReadOptions(shard=(index, workers))``: every
``workers``-th shard file, or a key-modulo share when there are fewer files) through the features stage's own
reader, so the tree block a worker holds is exactly what :func:`tfpipe.ensembles.xgboost_members.train_boosters`
would see of those rows; nothing passes through the driver but row counts. The parts become Dask arrays, then one
``DaskQuantileDMatrix`` per booster (the sketch is merged across workers by XGBoost), and ``xgboost.dask.train``
trains with the same parameters (:func:`~tfpipe.ensembles.xgboost_members.booster_params`), per-model example
weights computed on the workers from the example keys (the bagging / fold weights are pure functions of the key,
:mod:`tfpipe.ensembles.bootstrap`), early stopping on the eval part, and the cut at the best round. The boosters
are ordinary ``xgboost.Booster`` objects: :mod:`tfpipe.ensembles.trees` compiles them exactly as it compiles
single-process ones.

What the workers need: tfpipe, TensorFlow and XGBoost installed, and the dataset directory readable from every
worker (a shared disk or an object store :mod:`tfpipe.pipelines.storage` handles). Not covered yet: a base margin
(boosting's later tree stages), GPU training on the workers, and the wiring into ``tfpipe train`` (this module is
called directly for now: :func:`train_boosters_dask`).
"""
from __future__ import annotations

import time
from typing import Callable, Optional

import numpy as np

from tfpipe.ensembles.tree_members import TreeConfig, booster_info, feature_types
from tfpipe.ensembles.xgboost_members import booster_params


def read_part(data_dir: str, split: str, features_text: str, label_spec, index: int, count: int,
              keep: Optional[tuple], weights_fn: Optional[Callable], batch_size: int = 8192) -> dict:
    """On a worker: part ``index`` of ``count`` of ``split`` → ``{"x": float32 [N, width], "y", "w": [N, K] or
    None, "keys"}``; ``keep`` is a carve ``(mode, carve)`` of :mod:`tfpipe.features.key_filters` or None."""
    from google.protobuf import text_format

    from tfpipe import features as tff
    from tfpipe.features.key_filters import carve_filter
    from tfpipe.proto import feature_config_pb2

    definitions = tff.from_proto(text_format.Parse(features_text, feature_config_pb2.FeatureConfig()))
    compiled = tff.compile_features(definitions, label_spec=label_spec)
    read = tff.ReadOptions(deterministic=True, shard=(index, count), keep=None if keep is None else
                           carve_filter(*keep))
    xs, ys, keys = [], [], []
    for inputs, y in tff.make_dataset(data_dir, split, compiled, batch_size, label=label_spec, blocks="tree",
                                      read=read):
        xs.append(inputs["tree"].numpy())
        ys.append(np.asarray(y).reshape(-1))
        keys.append(inputs["example_key"].numpy())
    width = compiled.tree_width
    x = np.concatenate(xs) if xs else np.zeros((0, width), np.float32)
    key = np.concatenate(keys) if keys else np.zeros((0,), np.int64)
    y = (np.concatenate(ys) if ys else np.zeros((0,), np.float32)).astype(np.float32)   # class index or value
    w = None if weights_fn is None or not len(key) else np.asarray(weights_fn(key), np.float32)
    return {"x": x.astype(np.float32, copy=False), "y": y, "w": w, "keys": key}


def _rows(part: dict) -> int:
    return len(part["keys"])


def _column(part: dict, name: str, m: Optional[int] = None):
    value = part[name]
    return value if m is None else value[:, m]


def _distributed_parts(client, data_dir, split, features_text, label_spec, keep, weights_fn):
    """One ``read_part`` per worker, pinned to it; → (futures, row counts)."""
    workers = sorted(client.scheduler_info()["workers"])
    futures = [client.submit(read_part, data_dir, split, features_text, label_spec, index, len(workers), keep,
                             weights_fn, workers=[address], pure=False)
               for index, address in enumerate(workers)]
    sizes = client.gather([client.submit(_rows, future, workers=[address], pure=False)
                           for future, address in zip(futures, workers)])
    return [(future, size) for future, size in zip(futures, sizes) if size]


def _array(parts, name: str, shape_tail: tuple, dtype, m: Optional[int] = None):
    import dask
    import dask.array as da

    return da.concatenate([da.from_delayed(dask.delayed(_column)(future, name, m), (size, *shape_tail), dtype)
                           for future, size in parts])


def train_boosters_dask(client, data_dir: str, features, label_spec, n_models: int, config: TreeConfig, *,
                        seed: int = 0, weights_fn: Optional[Callable] = None, carve: Optional[dict] = None,
                        log=print) -> tuple[list, list]:
    """Trains ``n_models`` XGBoost boosters on the Dask cluster of ``client`` → (boosters, per-model info), as
    :func:`~tfpipe.ensembles.xgboost_members.train_boosters` does in one process.

    ``features``: the fitted definitions (``tfpipe.features.fit``); ``label_spec``: a ``LabelSpec`` (the task is
    its). The train rows are ``train``'s, minus the ``carve`` (``{"fraction", "seed"}``) held out as eval when
    given; eval rows are that carve-out, else the data's ``eval`` split if it has one (else no early stopping). ``weights_fn(keys int64 [N]) -> [N,
    n_models]`` must be picklable (it runs on the workers).
    """
    import xgboost as xgb
    import xgboost.dask  # noqa: F401  (not imported by `import xgboost`)
    from google.protobuf import text_format

    from tfpipe import features as tff
    from tfpipe.ensembles.task import task_from_label_spec
    from tfpipe.features.artifacts import available_splits

    task = task_from_label_spec(label_spec)
    eval_split = "eval" if "eval" in available_splits(data_dir) else None
    compiled = tff.compile_features(features, label_spec=label_spec)
    if not compiled.tree_features:
        raise ValueError("gbdt members need at least one number or single-valued categorical in the features")
    text = text_format.MessageToString(tff.to_proto(features))
    params = booster_params(config, task, seed)
    if params["device"] != "cpu":
        raise ValueError(f"gbdt members on Dask train on the workers' CPUs; device {params['device']!r} is not "
                         "supported there yet")
    kinds = feature_types(compiled.tree_features)
    width = compiled.tree_width
    common = dict(enable_categorical=True, max_bin=int(params["max_bin"]), feature_types=kinds)
    start = time.time()
    train = _distributed_parts(client, data_dir, "train", text, label_spec, ("keep", carve) if carve else None,
                               weights_fn)
    if not train:
        raise ValueError(f"{data_dir}: no train rows to train the gbdt members on")
    x, y = _array(train, "x", (width,), np.float32), _array(train, "y", (), np.float32)
    evals = []
    if carve or eval_split:
        held = _distributed_parts(client, data_dir, "train" if carve else eval_split, text, label_spec,
                                  ("holdout", carve) if carve else None, None)
        if held:
            evals = [(_array(held, "x", (width,), np.float32), _array(held, "y", (), np.float32))]
    rows = sum(size for _, size in train)
    feed_seconds = time.time() - start
    boosters, infos = [], []
    for m in range(n_models):
        begun = time.time()
        weight = None if weights_fn is None else _array(train, "w", (), np.float32, m)
        dtrain = xgb.dask.DaskQuantileDMatrix(client, x, y, weight=weight, **common)
        watch = [(xgb.dask.DaskQuantileDMatrix(client, ex, ey, ref=dtrain, **common), "eval") for ex, ey in evals]
        output = xgb.dask.train(client, {**params, "seed": int(params.get("seed", seed)) + m}, dtrain,
                                num_boost_round=config.num_boost_round, evals=watch,
                                early_stopping_rounds=config.early_stopping_rounds if watch else None,
                                verbose_eval=False)
        booster = output["booster"]
        best = getattr(booster, "best_iteration", None) if watch else None
        if best is not None and best + 1 < booster.num_boosted_rounds():
            booster = booster[: best + 1]
        info = booster_info(booster.num_boosted_rounds(), time.time() - begun, feed_seconds, rows, "cpu", None)
        info["workers"] = len(train)
        history = output.get("history", {}).get("eval", {}).get(params["eval_metric"])
        if history:
            info["eval_" + params["eval_metric"]] = float(history[booster.num_boosted_rounds() - 1])
        infos.append(info)
        boosters.append(booster)
        log(f"[tfpipe] gbdt {m + 1}/{n_models} on {len(train)} Dask workers: {info}")
    return boosters, infos

