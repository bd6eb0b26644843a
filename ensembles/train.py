"""End to end training: preprocessed DIR -> features -> ensemble -> ONE SavedModel + metrics.json + report.

Steps of :func:`train_ensemble`:

1. Features: ``features_config`` (a ``features.pbtxt``), else ``DIR/features.pbtxt`` written by
   ``tfpipe features init``, else ``tfpipe.features.default_config``; fitted on the train statistics and
   compiled (float32 preprocessing). The label and task come from ``tfpipe.features.fit_label`` (``task=``
   overrides).
2. Data: ``make_dataset(DIR, "train")``. Eval split: the data's ``eval`` split if it has one, otherwise a
   deterministic ``eval_fraction`` (default 10%) of ``train`` chosen by the hash of each example's key (the
   rest is used for training). Early stopping watches the eval loss.
3. Precision policy (``auto|float32|mixed_float16|mixed_bfloat16``) set AFTER building the preprocessing;
   strategy (``auto|default|mirrored|multi_worker``); the ensemble (bagging / boosting / stacking) trained
   with Keras progress output and TensorBoard logs under ``MODEL_DIR/logs``.
4. Export ``MODEL_DIR/saved_model`` (``serving_default``: ``examples`` -> ``predictions``,
   ``member_predictions``), ``MODEL_DIR/metrics.json`` (per split: ensemble and members, computed through
   the serving function on the raw tf.Examples), ``MODEL_DIR/report.html`` (+ PNG plots).

Example::

    >>> from tfpipe.ensembles.train import train_ensemble
    >>> result = train_ensemble(adult, "model", label="income", ensemble="bagging", members=2, member_kind="linear",
    ...                         epochs=1, batch_size=512, seed=0, verbose=0, report=False)  # adult: a preprocessed DIR
    [tfpipe train] bagging of 2 (binary), ...
    >>> sorted(os.listdir("model")), result.metrics["test"]["ensemble"]["auc"] > 0.8
    (['features.pbtxt', 'logs', 'metrics.json', 'model.json', 'saved_model'], True)
"""
from __future__ import annotations

import dataclasses
import os
import time

from tfpipe.ensembles import registry


@dataclasses.dataclass
class TrainResult:
    """What :func:`train_ensemble` produced."""

    output_dir: str
    saved_model_dir: str
    metrics_path: str
    report_path: str | None
    metrics: dict
    history: list
    metadata: dict
    ensemble: object = None          # the trained EnsembleModel (in memory)
    serve_fn: object = None          # the tf.function that was exported (examples -> outputs)
    seconds: float = 0.0


def _load_definitions(data_dir: str, features_config: str | None, label: str):
    from tfpipe import features as tff
    from tfpipe.features import artifacts

    schema, stats = artifacts.load_schema(data_dir), artifacts.load_statistics(data_dir)
    source = features_config
    if source is None and os.path.exists(os.path.join(data_dir, "features.pbtxt")):
        source = os.path.join(data_dir, "features.pbtxt")
    if source is not None:
        definitions = tff.load_config(source)
    else:
        definitions = tff.default_config(schema, stats, label=label)
        source = "default_config"
    definitions = tuple(d for d in definitions if getattr(d, "key", None) != label)
    fitted = tff.fit(definitions, stats, schema=schema)
    return fitted, schema, stats, source


def build_ensemble(kind: str, task, members: int, embedding_factory, seed: int = 0, member_kind=None,
                   hidden=(64, 32), feature_fraction: float = 1.0, folds: int = 5, boosting: str = "gradient",
                   shrinkage: float = 0.5, corrective: bool = True, embedding_specs: dict | None = None,
                   gbdt_config=None, bootstrap: bool = True):
    """Constructs an (unbuilt) ensemble model. ``members``: bagging K / boosting stages / stacking base members;
    ``member_kind``: a kind or comma list of kinds the members cycle through (default: the ensemble's
    ``default_member_kinds`` in :mod:`~tfpipe.ensembles.registry`). The ensemble's own options (its ``options`` in
    the registry) are passed to its ``from_options``; the others are not.

    Example::

        >>> from tfpipe.ensembles.task import Task
        >>> build_ensemble("stacking", Task("binary"), 4, None).member_names()
        ['gbdt_0', 'lgbm_1', 'wide_deep_2', 'dnn_3']
    """
    from tfpipe.ensembles.members import parse_member_kinds

    entry = registry.get(kind)
    kinds = parse_member_kinds(member_kind) or entry.default_member_kinds
    own = {"feature_fraction": feature_fraction, "bootstrap": bootstrap, "folds": folds, "boosting": boosting,
           "shrinkage": shrinkage, "corrective": corrective}
    return entry.load().from_options(task, members, kinds, hidden=tuple(hidden), embedding_factory=embedding_factory,
                                     seed=seed, embedding_specs=embedding_specs, gbdt_config=gbdt_config,
                                     **{name: value for name, value in own.items() if name in entry.options})


# The CLI flag of each option that only some ensembles read (which ones: their ``options`` in the registry).
ENSEMBLE_FLAGS = {"feature_fraction": "--feature-fraction", "bootstrap": "--no-bootstrap", "folds": "--folds",
                  "boosting": "--boosting", "shrinkage": "--shrinkage", "corrective": "--no-corrective"}
# Options that mean something only for some member kinds: (option name, CLI flag, applies-when, which)
_MEMBER_ONLY = (
    ("gbdt_params", "--gbdt-param", lambda e, k: "gbdt" in k, "gbdt members"),
    ("gbdt_device", "--gbdt-device", lambda e, k: "gbdt" in k, "gbdt members"),
    ("lgbm_params", "--lgbm-param", lambda e, k: "lgbm" in k, "lgbm members"),
    ("gbdt_rounds", "--gbdt-rounds", lambda e, k: bool({"gbdt", "lgbm"} & set(k)), "gbdt or lgbm members"),
    ("gbdt_early_stopping", "--gbdt-early-stopping", lambda e, k: bool({"gbdt", "lgbm"} & set(k)),
     "gbdt or lgbm members"),
)


def check_applicable(ensemble: str, member_kind, given: dict, defaults: dict) -> None:
    """Refuses options set to a non-default value that the chosen ensemble / member kinds would ignore.

    >>> check_applicable("bagging", None, {"folds": 3}, {"folds": 5})  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: --folds applies to stacking only; this is a bagging of wide_deep members: drop it
    """
    from tfpipe.ensembles.members import parse_member_kinds

    kinds = tuple(parse_member_kinds(member_kind) or registry.get(ensemble).default_member_kinds)
    only_for = [(name, flag, lambda e, k, name=name: name in registry.get(e).options,
                 " or ".join(e for e in registry.names() if name in registry.get(e).options))
                for name, flag in ENSEMBLE_FLAGS.items()]
    ignored = [(flag, which) for name, flag, applies, which in (*only_for, *_MEMBER_ONLY)
               if name in given and given[name] != defaults.get(name) and not applies(ensemble, kinds)]
    if ignored:
        listed = "; ".join(f"{flag} applies to {which} only" for flag, which in ignored)
        raise ValueError(f"{listed}; this is a {ensemble} of {','.join(kinds)} members: drop "
                         f"{'it' if len(ignored) == 1 else 'them'}")


def has_gbdt(model) -> bool:
    """True when an ensemble has gbdt members (they need :class:`~tfpipe.ensembles.base.TreeData`)."""
    from tfpipe.ensembles.members import is_tree_kind

    return any(map(is_tree_kind, getattr(model, "kinds", None) or getattr(model, "member_kinds", ())))


def _carve(dataset, mode, carve):
    """Keeps the train (``keep``) or eval (``holdout``) part of each batch by example-key hash."""
    import tensorflow as tf

    from tfpipe.ensembles.records import split_filter

    def select(x, y):
        mask = split_filter(x["example_key"], mode, carve)
        return tf.nest.map_structure(lambda t: tf.boolean_mask(t, mask), (x, y))

    return dataset.map(select, num_parallel_calls=tf.data.AUTOTUNE).filter(lambda x, y: tf.size(y) > 0)


def _tree_data(data_dir, compiled, label_spec, carve, config, blocks: str):
    """Unshuffled train / eval batches for gbdt members (same carve-out as the Keras members)."""
    from tfpipe import features as tff
    from tfpipe.ensembles.base import TreeData
    from tfpipe.ensembles.gbdt import feed
    from tfpipe.features import artifacts

    rows = artifacts.load_manifest(data_dir)["rows_written"]

    def split(name):
        data = tff.make_dataset(data_dir, name, compiled, config.batch_size, deterministic=True, label=label_spec,
                                blocks=blocks)
        return feed(data, rows.get(name, 0), compiled.tree_width, config)

    if carve:
        # One read of the train split for both parts: the first pass over the kept part fills the cache (when the
        # block fits it), and the eval part is then filtered from memory instead of parsing the shards again.
        whole = split("train")
        return TreeData(_carve(whole, "keep", carve), _carve(whole, "holdout", carve), compiled.tree_features)
    return TreeData(split("train"), split("eval"), compiled.tree_features)


def _importance(serve_fn, data_dir: str, metadata: dict, task_kind: str, columns: list, limit: int = 4096,
                repeats: int = 3) -> dict:
    """Permutation importance of every input column on the eval split (the carve-out when there is no eval
    split), at most ``limit`` examples, through the serving function."""
    import numpy as np

    from tfpipe.ensembles import records
    from tfpipe.ensembles.importance import permutation_importance
    from tfpipe.ensembles.metrics import primary_metric

    serialized, labels = [], []
    spec = records.label_spec(metadata)
    for batch in records.serialized_dataset(data_dir, "eval", 2048, metadata.get("eval_carve"), limit=limit):
        y, valid = records.labels_from_examples(batch, spec)
        serialized += [bytes(b) for b, ok in zip(batch.numpy(), valid) if ok]
        labels.append(y[valid])
    columns = [c for c in columns if c != metadata["label"]]
    found = permutation_importance(serve_fn, serialized, np.concatenate(labels) if labels else [], task_kind,
                                   columns, repeats=repeats, seed=int(metadata.get("seed", 0)), limit=limit)
    return {"split": "eval", "rows": len(serialized), "repeats": repeats, "metric": primary_metric(task_kind)[0],
            "columns": found}


def train_ensemble(data_dir: str, output_dir: str, label: str | None = None, ensemble: str = "bagging",
                   members: int = 8, epochs: int = 5, batch_size: int = 256, precision: str = "auto",
                   strategy: str = "auto", seed: int = 0, features_config: str | None = None, *,
                   task: str | None = None, member_kind: str | None = None, hidden=(64, 32),
                   feature_fraction: float = 1.0, folds: int = 5, boosting: str = "gradient",
                   shrinkage: float = 0.5, corrective: bool = True, learning_rate: float = 1e-3,
                   eval_fraction: float = 0.1, patience: int = 2, verbose="auto", report: bool = True,
                   metric_splits: tuple | None = None, jit_compile: bool | str = "auto",
                   strategy_devices: list | None = None, gbdt_params=(), gbdt_rounds: int = 2000,
                   gbdt_early_stopping: int = 50, gbdt_device: str = "auto", bootstrap: bool = True,
                   overwrite: bool = False, lgbm_params=()) -> TrainResult:
    """Trains an ensemble on a preprocessed DIR and writes ``output_dir/{saved_model,metrics.json,report.html}``.

    The model is built in a temporary sibling and moved into place at the end (a crash or ``kill -9`` leaves no
    half-written ``output_dir``); an existing ``output_dir`` is replaced only with ``overwrite`` and only when it is
    a previous ``tfpipe train`` output (its ``model.json``), see :mod:`tfpipe.pipelines.publish`.

    ``label`` defaults to the manifest label. ``members`` is K for bagging, the number of stages for boosting
    and the number of base members for stacking; ``member_kind`` a kind or comma list the members cycle
    through (``gbdt`` = XGBoost and ``lgbm`` = LightGBM trees compiled to TF ops; ``gbdt_params`` /
    ``lgbm_params`` are ``KEY=VALUE`` parameters of each library, ``gbdt_rounds`` / ``gbdt_early_stopping`` the
    rounds and patience of both, ``gbdt_device`` auto|cpu|cuda for XGBoost). Returns a
    :class:`TrainResult`; see the module docstring for the steps and ``ensembles/README.md`` for the options.
    """
    import shutil
    import tempfile

    from tfpipe.ensembles import records
    from tfpipe.ensembles.base import is_multi_worker
    from tfpipe.ensembles.distribute import WorkerRole, make_strategy, worker_role
    from tfpipe.ensembles.gbdt import GBDTConfig, parse_gbdt_params
    from tfpipe.features import artifacts
    from tfpipe.pipelines import publish

    start = time.time()
    registry.get(ensemble)          # a clear error for an unknown name, before any work
    import inspect

    defaults = {name: p.default for name, p in inspect.signature(train_ensemble).parameters.items()}
    check_applicable(ensemble, member_kind, dict(
        feature_fraction=feature_fraction, bootstrap=bootstrap, folds=folds, boosting=boosting, shrinkage=shrinkage,
        corrective=corrective, gbdt_params=tuple(gbdt_params), gbdt_device=gbdt_device,
        lgbm_params=tuple(lgbm_params), gbdt_rounds=gbdt_rounds, gbdt_early_stopping=gbdt_early_stopping),
        {name: tuple(value) if isinstance(value, (list, tuple)) else value for name, value in defaults.items()})
    # First, before any TensorFlow op: a MultiWorkerMirroredStrategy must configure collective ops at start-up.
    dist = make_strategy(strategy, devices=strategy_devices)
    role = worker_role() if is_multi_worker(dist) else WorkerRole()
    gbdt_config = GBDTConfig(num_boost_round=gbdt_rounds, early_stopping_rounds=gbdt_early_stopping,
                             params=parse_gbdt_params(gbdt_params), device=gbdt_device,
                             lgbm_params=parse_gbdt_params(lgbm_params))
    label = label or artifacts.load_manifest(data_dir).get("label")
    if not label:
        raise ValueError("no --label given and the manifest names none")
    rows = artifacts.load_manifest(data_dir).get("rows_written", {})
    if not rows.get("train"):
        raise ValueError(f"{data_dir} has no rows in its train split (rows written: {rows}); nothing to train on")
    if role.is_chief:
        final_dir = publish.check_replaceable(output_dir, publish.MODEL, overwrite)   # refuse before any work
        work_dir = publish.make_work_dir(final_dir)
    else:   # another worker: the same steps (collective ops need every worker), into a folder deleted at the end
        final_dir = work_dir = tempfile.mkdtemp(prefix=f"tfpipe-worker-{role.index}-")
    try:
        result = _train(output_dir=work_dir, final_dir=final_dir, data_dir=data_dir, label=label, dist=dist, role=role,
                        ensemble=ensemble, members=members, epochs=epochs, batch_size=batch_size,
                        precision=precision, strategy=strategy, seed=seed, features_config=features_config,
                        task=task, member_kind=member_kind, hidden=hidden, feature_fraction=feature_fraction,
                        folds=folds, boosting=boosting, shrinkage=shrinkage, corrective=corrective,
                        learning_rate=learning_rate, eval_fraction=eval_fraction, patience=patience,
                        verbose=verbose, report=report, metric_splits=metric_splits, jit_compile=jit_compile,
                        strategy_devices=strategy_devices, gbdt_config=gbdt_config, gbdt_rounds=gbdt_rounds,
                        gbdt_early_stopping=gbdt_early_stopping, bootstrap=bootstrap, start=start)
        if not role.is_chief:   # it wrote nothing that stays
            shutil.rmtree(work_dir, ignore_errors=True)
            return dataclasses.replace(result, output_dir=None, saved_model_dir=None, metrics_path=None,
                                       report_path=None)
        records.write_json(os.path.join(work_dir, publish.MODEL.marker),
                           {"format": "tfpipe.model/1", "ensemble": ensemble, "label": label,
                            "data_dir": os.path.abspath(data_dir), "members": result.metadata["member_names"]})
        publish.publish(work_dir, final_dir, publish.MODEL, overwrite)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    return result


def _train(*, data_dir, output_dir, final_dir, label, dist, role, ensemble, members, epochs, batch_size, precision, strategy,
           seed, features_config, task, member_kind, hidden, feature_fraction, folds, boosting, shrinkage,
           corrective, learning_rate, eval_fraction, patience, verbose, report, metric_splits, jit_compile,
           strategy_devices, gbdt_config, gbdt_rounds, gbdt_early_stopping, bootstrap, start) -> TrainResult:
    """The steps of :func:`train_ensemble`, writing into ``output_dir`` (the work dir that becomes
    ``final_dir``); the paths in the result are the final ones."""
    import keras

    from tfpipe import features as tff
    from tfpipe.ensembles import records
    from tfpipe.ensembles.base import FitOptions
    from tfpipe.ensembles.distribute import resolve_jit_compile, strategy_name
    from tfpipe.ensembles.export import export_saved_model, make_serving_function
    from tfpipe.ensembles.metrics import ensemble_metrics, format_metrics
    from tfpipe.ensembles.precision import policy_scope, resolve_precision
    from tfpipe.ensembles.task import task_from_label_spec

    keras.utils.set_random_seed(seed)

    from tfpipe.ensembles.gbdt import save_boosters

    # 1. features (float32, built before any mixed policy is set)
    fitted, schema, stats, source = _load_definitions(data_dir, features_config, label)
    tff.save_config(fitted, os.path.join(output_dir, "features.pbtxt"))
    label_spec = tff.fit_label(schema, stats, label, task=task)
    compiled = tff.compile_features(fitted, label_spec=label_spec)
    the_task = task_from_label_spec(label_spec)

    # 2. data
    splits = records.available_splits(data_dir)
    carve = None if "eval" in splits else {"fraction": float(eval_fraction), "seed": int(seed)}
    # Several workers: each trains on its own part of the train split, at batch_size / workers (the global batch
    # stays batch_size). Bagging reads only its part (by shard file, else by example key); boosting and stacking
    # compute stage weights / out-of-fold predictions over the whole split, so every worker reads all of it and
    # trains on its rows (FitOptions.data_shard). Eval: the whole split, on every worker.
    read_part = role.count > 1 and ensemble == "bagging"
    train_ds = tff.make_dataset(data_dir, "train", compiled, max(1, batch_size // role.count) if read_part
                                else batch_size, shuffle=True, seed=seed, cache=True, label=label_spec,
                                shard=(role.index, role.count) if read_part else None)
    if carve:
        eval_ds = _carve(tff.make_dataset(data_dir, "train", compiled, 2048, cache=True, label=label_spec),
                         "holdout", carve)
        train_ds = _carve(train_ds, "keep", carve)
    else:
        eval_ds = tff.make_dataset(data_dir, "eval", compiled, 2048, cache=True, label=label_spec)

    # 3. precision + strategy + ensemble
    policy = resolve_precision(precision, widest_hidden=max(tuple(hidden) or (0,)))
    log_dir = os.path.join(output_dir, "logs")
    options = FitOptions(epochs=epochs, learning_rate=learning_rate, patience=patience, verbose=verbose,
                         log_dir=log_dir, policy=policy, strategy=dist,
                         jit_compile=resolve_jit_compile(jit_compile, dist),
                         data_shard=(role.index, role.count) if role.count > 1 and not read_part else None)
    with policy_scope(policy):
        with dist.scope():
            model = build_ensemble(ensemble, the_task, members, compiled.new_embedding_block, seed=seed,
                                   member_kind=member_kind, hidden=tuple(hidden),
                                   feature_fraction=feature_fraction, folds=folds, boosting=boosting,
                                   shrinkage=shrinkage, corrective=corrective,
                                   embedding_specs={**compiled.embedding_specs, **compiled.periodic_specs},
                                   gbdt_config=gbdt_config,
                                   bootstrap=bootstrap)
        if has_gbdt(model):
            options.tree_data = _tree_data(data_dir, compiled, label_spec, carve, gbdt_config,
                                           blocks="all" if ensemble == "boosting" else "tree")
        x0 = next(iter(train_ds))[0]
        model.build_on(x0, options)
        print(f"[tfpipe train] {ensemble} of {members} ({the_task.kind}), precision={policy}, "
              f"strategy={strategy_name(dist)} x{dist.num_replicas_in_sync}, features={source}", flush=True)
        history = model.fit_ensemble(train_ds, eval_ds, options)
    if role.count > 1:   # the workers' weights must be identical: a fingerprint each worker prints
        import hashlib

        digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()[:16]
        print(f"[tfpipe train] worker {role.index} of {role.count}{' (chief)' if role.is_chief else ''}: "
              f"weights sha256 {digest}", flush=True)

    # 4. export + metrics
    metadata = {
        "format": "tfpipe.ensemble/1", "ensemble": ensemble, "task": the_task.to_json(), "label": label,
        "label_dtype": label_spec.dtype, "classes": None if label_spec.classes is None else list(label_spec.classes),
        "member_names": model.member_names(), "precision": policy, "strategy": strategy_name(dist),
        "workers": role.count, "replicas": dist.num_replicas_in_sync,
        "eval_carve": carve, "members": members, "seed": seed, "data_dir": os.path.abspath(data_dir),
        "features_source": source,
        "member_kinds": list(getattr(model, "kinds", None) or getattr(model, "member_kinds", ())),
        "gbdt": {"params": dict(gbdt_config.params), "lgbm_params": dict(gbdt_config.lgbm_params),
                 "num_boost_round": gbdt_rounds,
                 "early_stopping_rounds": gbdt_early_stopping} if has_gbdt(model) else None,
        "options": {"epochs": epochs, "batch_size": batch_size, "member_kind": getattr(model, "member_kind", None),
                    "feature_fraction": feature_fraction, "folds": folds, "boosting": boosting, "bootstrap": bootstrap,
                    "jit_compile": options.jit_compile,
                    "learning_rate": learning_rate},
    }
    save_boosters(model, os.path.join(output_dir, "gbdt"))
    serve_fn = make_serving_function(model, compiled.parse_spec, compiled.preprocessor)
    saved_model_dir = export_saved_model(model, compiled.parse_spec, compiled.preprocessor,
                                         os.path.join(output_dir, "saved_model"), metadata, serve_fn=serve_fn)
    metric_splits = metric_splits or tuple(["train", "eval"] + [s for s in splits if s not in ("train", "eval")])
    metrics, predictions = {}, {}
    for split in metric_splits:
        out = records.predict_split(serve_fn, data_dir, split, metadata)
        metrics[split] = ensemble_metrics(the_task.kind, out["labels"], out["predictions"],
                                          out["member_predictions"], metadata["member_names"])
        predictions[split] = {"labels": out["labels"], "predictions": out["predictions"]}
    importance = _importance(serve_fn, data_dir, metadata, the_task.kind, list(compiled.parse_spec)) if report \
        else None
    metrics_path = os.path.join(output_dir, "metrics.json")
    records.write_json(metrics_path, {"metadata": metadata, "splits": metrics, "history": history,
                                      "permutation_importance": importance})
    print(format_metrics(metrics), flush=True)
    report_path = None
    if report:
        from tfpipe.ensembles.report import write_report

        report_path = write_report(output_dir, metrics, history, metadata, predictions, importance)
    final = lambda path: None if path is None else os.path.join(final_dir, os.path.relpath(path, output_dir))  # noqa: E731
    return TrainResult(final_dir, final(saved_model_dir), final(metrics_path), final(report_path), metrics, history,
                       metadata, ensemble=model, serve_fn=serve_fn, seconds=time.time() - start)
