"""``tfpipe train``: preprocessed DIR -> a fitted ensemble (:mod:`tfpipe.ensembles.train`) -> ONE SavedModel
(:mod:`tfpipe.serving.export`) + ``metrics.json`` + ``report.html``, published atomically as ``MODEL_DIR``.

The stages meet here, not in each other: ensembles train, serving exports, and the metrics are computed through
the exported serving function on the raw tf.Examples of every split (``MODEL_DIR/metrics.json``: the ensemble
and each member).

Example::

    >>> from tfpipe.ensembles.train_options import BaggingOptions, KerasOptions, RuntimeOptions, TrainOptions
    >>> from tfpipe.serving.export_config import ExportOptions
    >>> options = TrainOptions(ensemble=BaggingOptions(members=2, member_kinds="linear"),
    ...                        keras=KerasOptions(epochs=1, batch_size=512), runtime=RuntimeOptions(verbose=0))
    >>> result = train_ensemble(adult, "model", options, export=ExportOptions(report=False))  # a preprocessed DIR
    [tfpipe train] bagging of 2 (binary), ...
    >>> sorted(os.listdir("model")), result.metrics["test"]["ensemble"]["auc"] > 0.8
    (['features.pbtxt', 'logs', 'metrics.json', 'model.json', 'saved_model'], True)
"""
from __future__ import annotations

import dataclasses
import os
import time


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


TRAIN_METRIC_ROWS = 200_000     # train-split metrics on a key-hash sample of about this many rows when larger
REPORT_SECONDS = 3.0             # kept for writing the report after the importance
IMPORTANCE_SHARE = 0.1           # permutation importance costs at most this share of the fit's seconds (>= 1 s)
IMPORTANCE_ROW_SECONDS = 60e-6   # one proto copy + serve per row and column, measured on the wide table (2 cores);
                                 # the served model's own cost a row is measured and added (_importance)
EXPORT_SECONDS = 5.0             # tracing + saving the serving function (3.6 s at 1M rows, wide table, 2 cores)
SCORE_ROW_SECONDS = 35e-6        # metrics through the serving function, per row (9.1-12.4 s for 350k rows, same)


def post_fit_seconds(rows: dict, eval_fraction: float) -> float:
    """What export, metrics, importance and report cost after the fit, estimated from the split sizes in the
    manifest (``rows_written``) with the constants above: a time limit keeps this much for them.

    The eval rows count twice: the ensemble's own weighing of its members (selection, stacking) predicts them
    after the last member, before export.

    >>> round(post_fit_seconds({"train": 1_000_000, "test": 50_000}, 0.1), 1)   # the 1M-row wide table
    24.8
    """
    train = rows.get("train", 0)
    evaluated = rows.get("eval", eval_fraction * train)   # an eval split, else the carve-out of the train split
    scored = train if train <= 1.5 * TRAIN_METRIC_ROWS else TRAIN_METRIC_ROWS
    scored += sum(n for split, n in rows.items() if split not in ("train", "eval")) + 2 * evaluated
    return EXPORT_SECONDS + REPORT_SECONDS + 1.0 + scored * SCORE_ROW_SECONDS


def fit_deadline(time_limit: float | None, rows: dict, eval_fraction: float, since: float) -> float | None:
    """The ``time.monotonic()`` by which the fit must end so that a call that began at ``since`` (a
    ``time.monotonic()``) ends near ``time_limit`` seconds after it: :func:`post_fit_seconds` is kept back, at
    least 15% and at most half of the limit.

    >>> fit_deadline(100.0, {"train": 1_000_000, "test": 50_000}, 0.1, since=0.0)    # 100 - 24.8
    75.25
    >>> fit_deadline(10.0, {"train": 1_000_000}, 0.1, since=0.0)                     # at most half
    5.0
    >>> fit_deadline(None, {}, 0.1, since=0.0) is None
    True
    """
    if time_limit is None:
        return None
    keep = min(0.5 * time_limit, max(0.15 * time_limit, post_fit_seconds(rows, eval_fraction)))
    return since + float(time_limit) - keep


def _importance(serve_fn, data_dir: str, metadata: dict, task_kind: str, columns: list, limit: int = 4096,
                repeats: int = 3, seconds: float | None = None) -> dict:
    """Permutation importance of every input column on the eval split (the carve-out when there is no eval
    split), at most ``limit`` examples, through the serving function. ``seconds`` (what is left of a time limit):
    fewer repeats, then fewer rows (down to 256) so that ``columns x repeats x rows`` fits it."""
    import numpy as np

    from tfpipe.serving import predictions
    from tfpipe.serving.importance import permutation_importance
    from tfpipe.ensembles.metrics import primary_metric

    columns = [c for c in columns if c != metadata["label"]]
    serialized, labels = [], []
    spec = predictions.label_spec(metadata)
    for batch in predictions.serialized_dataset(data_dir, "eval", 2048, metadata.get("eval_carve"), limit=limit):
        y, valid = predictions.labels_from_examples(batch, spec)
        serialized += [bytes(b) for b, ok in zip(batch.numpy(), valid) if ok]
        labels.append(y[valid])
    labels = np.concatenate(labels) if labels else np.zeros([0])
    if seconds is not None and serialized:
        # the served model's own cost a row, measured (a stacking of 24 boosters and 12 Keras copies costs many
        # times the selection's few members): 256 rows, plus the proto copy of the permuted column
        import tensorflow as tf

        probe = serialized[:256]
        begun = time.perf_counter()
        serve_fn(examples=tf.constant(probe))
        per_row = (time.perf_counter() - begun) / len(probe) + IMPORTANCE_ROW_SECONDS
        fits = max(seconds, 0.0) / per_row / max(len(columns), 1)
        repeats = max(1, min(repeats, int(fits // limit)))
        limit = int(min(limit, max(256, fits // repeats)))
        serialized, labels = serialized[:limit], labels[:limit]
    found = permutation_importance(serve_fn, serialized, labels, task_kind,
                                   columns, repeats=repeats, seed=int(metadata.get("seed", 0)), limit=limit)
    return {"split": "eval", "rows": len(serialized), "repeats": repeats, "metric": primary_metric(task_kind)[0],
            "columns": found}


def train_ensemble(data_dir: str, output_dir: str, options=None, *, label: str | None = None,
                   features_config: str | None = None, overwrite: bool = False, export=None) -> TrainResult:
    """Trains the ensemble that ``options`` (a :class:`~tfpipe.ensembles.train_options.TrainOptions`; None: its
    defaults, the ``selection`` of gbdt, lgbm and wide_deep members) describes on a preprocessed DIR and writes
    ``output_dir/{saved_model,metrics.json,report.html}`` as ``export`` (a
    :class:`~tfpipe.serving.export_config.ExportOptions`) says.

    The model is built in a temporary sibling and moved into place at the end (a crash or ``kill -9`` leaves no
    half-written ``output_dir``); an existing ``output_dir`` is replaced only with ``overwrite`` and only when it is
    a previous ``tfpipe train`` output (its ``model.json``), see :mod:`tfpipe.pipelines.publish`.

    ``label`` defaults to the manifest label; ``features_config`` to ``DIR/features.pbtxt``, else the default
    features. ``options.time_limit`` (seconds, from the start of the call): training stops adding members and
    stops the member in training so that the run ends near it with a valid, exported model;
    :func:`post_fit_seconds` of it (15-50%) is kept for the export and the metrics. The default ``"auto"`` measures
    the limit on the data (:mod:`tfpipe.ensembles.time_budget`: 2.2x what XGBoost's defaults would take on the
    same rows, at least 120 s; ``selection`` only); None trains without a limit. ``options.data.cache_budget``
    bounds all of training's in-memory data caches together; what does not fit streams from the shards
    (:func:`tfpipe.ensembles.train.plan_caches`). Returns a :class:`TrainResult`; see
    :mod:`tfpipe.ensembles.train` for the training steps and ``ensembles/README.md`` for the options.
    """
    start, started = time.time(), time.monotonic()     # the time limit counts the imports below (TensorFlow: ~5 s)
    import shutil
    import tempfile

    from tfpipe.ensembles.base import is_multi_worker
    from tfpipe.ensembles.distribute import WorkerRole, make_strategy, worker_role
    from tfpipe.ensembles.model_dir import ModelDir, ModelMetadata
    from tfpipe.ensembles.stages import StageLog
    from tfpipe.ensembles.train import fit_ensemble_model
    from tfpipe.ensembles.train_options import TrainOptions
    from tfpipe.features import artifacts
    from tfpipe.pipelines import publish, storage
    from tfpipe.serving.export_config import ExportOptions

    options = TrainOptions() if options is None else options
    export = ExportOptions() if export is None else export
    if not isinstance(options, TrainOptions) or not isinstance(export, ExportOptions):
        raise TypeError(f"options must be a TrainOptions and export an ExportOptions, got {type(options).__name__} "
                        f"and {type(export).__name__}")
    # First, before any TensorFlow op: a MultiWorkerMirroredStrategy must configure collective ops at start-up.
    dist = make_strategy(options.runtime.strategy, devices=options.runtime.devices)
    role = worker_role() if is_multi_worker(dist) else WorkerRole()
    manifest = artifacts.load_manifest(data_dir)
    label = label or manifest.get("label")
    if not label:
        raise ValueError("no --label given and the manifest names none")
    rows = manifest.get("rows_written", {})
    if not rows.get("train"):
        raise ValueError(f"{data_dir} has no rows in its train split (rows written: {rows}); nothing to train on")
    time_limit, eval_fraction = options.time_limit, options.data.eval_fraction
    if time_limit == "auto":
        from tfpipe.ensembles.time_budget import AutoDeadline

        deadline = AutoDeadline(lambda seconds: fit_deadline(seconds, rows, eval_fraction, since=started))
    else:
        deadline = fit_deadline(time_limit, rows, eval_fraction, since=started)
    if role.is_chief:
        final_dir = publish.check_replaceable(output_dir, publish.MODEL, overwrite)   # refuse before any work
        if storage.is_local(final_dir):
            work_dir = publish.make_work_dir(final_dir)
        else:   # TensorFlow writes SavedModels to local disk only: built here, uploaded and published at the end
            publish.clean_stale_work_dirs(final_dir)
            work_dir = tempfile.mkdtemp(prefix="tfpipe-model-")
    else:   # another worker: the same steps (collective ops need every worker), into a folder deleted at the end
        final_dir = work_dir = tempfile.mkdtemp(prefix=f"tfpipe-worker-{role.index}-")
    try:
        # verbose=0: the stages are recorded in metrics.json only
        stages = StageLog(log=None if options.runtime.verbose == 0 else print)
        fitted = fit_ensemble_model(data_dir=data_dir, output_dir=work_dir, label=label, dist=dist, role=role,
                                    options=options, features_config=features_config, stages=stages,
                                    deadline=deadline)
        if time_limit == "auto":
            time_limit = deadline.limit        # None: no probe ran (no tree member, or not `selection`)
            limit_info = deadline.to_json()
        else:
            limit_info = {"source": "given" if time_limit else "none", "seconds": time_limit}
        end = None if time_limit is None else start + float(time_limit)
        result = _export_and_measure(fitted, data_dir, (work_dir, final_dir), export, start, stages, end=end,
                                     time_limit=limit_info)
        if not role.is_chief:   # it wrote nothing that stays
            shutil.rmtree(work_dir, ignore_errors=True)
            return dataclasses.replace(result, output_dir=None, saved_model_dir=None, metrics_path=None,
                                       report_path=None)
        ModelDir(work_dir).write_metadata(ModelMetadata(ensemble=options.kind, label=label,
                                                        data_dir=storage.absolute(data_dir),
                                                        members=result.metadata["member_names"]))
        publish.publish(work_dir, final_dir, publish.MODEL, overwrite)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    return result


def _export_and_measure(fitted, data_dir: str, dirs: tuple, export, start: float, stages, end: float | None = None,
                        time_limit: dict | None = None) -> TrainResult:
    """Exports the SavedModel into ``dirs[0]`` (the work dir that becomes ``dirs[1]``) as ``export`` (an
    ``ExportOptions``) says, then the metrics of
    every split through the exported serving function (the train split's on a key-hash sample of about
    :data:`TRAIN_METRIC_ROWS` rows when larger: it is a diagnostic of over-fitting, and a 1M-row pass costs what
    the trees cost), permutation importance (sized to :data:`IMPORTANCE_SHARE` of the fit's time and to what is
    left before ``end``, a ``time.time()``) and the report; the paths in the result are the final ones."""
    from tfpipe.features import artifacts
    from tfpipe.serving.predictions import predict_split
    from tfpipe.ensembles.metrics import ensemble_metrics, format_metrics
    from tfpipe.ensembles.model_dir import ModelDir
    from tfpipe.ensembles.stages import stage
    from tfpipe.serving.export import export_saved_model, make_serving_function

    output_dir, final_dir = dirs
    report, estimator_signatures = export.report, export.estimator_signatures
    model, compiled, metadata, history = fitted.model, fitted.compiled, fitted.metadata, fitted.history
    the_task, splits = fitted.task, fitted.splits
    with stage(stages, "export"):
        serve_fn = make_serving_function(model, compiled.parse_spec, compiled.preprocessor)
        saved_model_dir = export_saved_model(model, compiled.parse_spec, compiled.preprocessor,
                                             ModelDir(output_dir).saved_model, metadata, serve_fn=serve_fn,
                                             estimator_signatures=estimator_signatures)
    metric_splits = export.metric_splits or tuple(["train", "eval"] + [s for s in splits if s not in ("train", "eval")])
    metrics, predictions = {}, {}
    for split in metric_splits:
        rows = artifacts.split_rows(data_dir, "train") if split == "train" else 0
        sample = TRAIN_METRIC_ROWS / rows if rows > 1.5 * TRAIN_METRIC_ROWS else None
        with stage(stages, f"metrics {split}"):
            out = predict_split(serve_fn, data_dir, split, metadata, sample=sample)
            metrics[split] = ensemble_metrics(the_task.kind, out["labels"], out["predictions"],
                                              out["member_predictions"], metadata["member_names"])
        if sample is not None:
            metrics[split]["sample"] = {"fraction": sample, "of_rows": rows, "by": "example_key hash"}
        predictions[split] = {"labels": out["labels"], "predictions": out["predictions"]}
    importance = None
    if report:
        with stage(stages, "permutation importance"):
            fit = next((r["seconds"] for r in stages.records if r["stage"] == "fit"), None)
            left = None if fit is None else max(1.0, IMPORTANCE_SHARE * fit)   # a diagnostic: a bounded cost
            if end is not None:
                left = min(left if left is not None else float("inf"), end - time.time() - REPORT_SECONDS)
            importance = _importance(serve_fn, data_dir, metadata, the_task.kind, list(compiled.parse_spec),
                                     seconds=left)
    metrics_path = ModelDir(output_dir).metrics
    ModelDir(output_dir).write_metrics({"metadata": metadata, "splits": metrics, "history": history,
                                        "permutation_importance": importance, "stages": stages.records,
                                        "time_limit": time_limit})
    print(format_metrics(metrics), flush=True)
    report_path = None
    if report:
        from tfpipe.ensembles.report import write_report

        with stage(stages, "report"):
            report_path = write_report(output_dir, metrics, history, metadata, predictions, importance)
    from tfpipe.pipelines import storage

    final = lambda path: None if path is None else storage.join(final_dir, os.path.relpath(path, output_dir))  # noqa: E731
    return TrainResult(final_dir, final(saved_model_dir), final(metrics_path), final(report_path), metrics, history,
                       metadata, ensemble=model, serve_fn=serve_fn, seconds=time.time() - start)
