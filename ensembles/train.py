"""Training an ensemble on a preprocessed DIR: features -> data -> precision / strategy -> a fitted ensemble.

Steps of :func:`fit_ensemble_model` (``tfpipe train`` is these steps, then the export and the metrics through
the SavedModel, published atomically: :mod:`tfpipe.train`):

1. Features: ``features_config`` (a ``features.pbtxt``), else ``DIR/features.pbtxt`` written by
   ``tfpipe features init``, else ``tfpipe.features.default_config``; fitted on the train statistics and
   compiled (float32 preprocessing). The label and task come from ``tfpipe.features.fit_label`` (``task=``
   overrides).
2. Data: ``make_dataset(DIR, "train")``. Eval split: the data's ``eval`` split if it has one, otherwise a
   deterministic ``eval_fraction`` (default 10%) of ``train`` chosen by the hash of each example's key (the
   rest is used for training). Early stopping watches the eval loss.
3. Precision policy (``auto|float32|mixed_float16|mixed_bfloat16``) set AFTER building the preprocessing;
   strategy (``auto|default|mirrored|multi_worker``); the ensemble (one of :mod:`tfpipe.ensembles.registry`)
   trained with Keras progress output and TensorBoard logs under ``MODEL_DIR/logs``; gbdt / lgbm boosters saved
   under ``MODEL_DIR/gbdt``; the metadata the export stores beside the model.
"""
from __future__ import annotations

import dataclasses
import math

from tfpipe.ensembles import registry
from tfpipe.ensembles.member_kinds import is_tree_kind
from tfpipe.ensembles.model_dir import ModelDir
from tfpipe.features.config import FEATURES_FILE
from tfpipe.pipelines import storage


@dataclasses.dataclass
class FittedEnsemble:
    """What :func:`fit_ensemble_model` produced: the trained model, the features it reads, its metadata."""

    model: object                    # the trained EnsembleModel
    compiled: object                 # tfpipe.features.CompiledFeatures (parse spec + preprocessor)
    metadata: dict                   # stored with the SavedModel (serving/export.py) and in metrics.json
    history: list
    task: object                     # tfpipe.ensembles.task.Task
    splits: list                     # the splits of the data


def _load_definitions(data_dir: str, features_config: str | None, label: str):
    from tfpipe import features as tff
    from tfpipe.features import artifacts

    schema, stats = artifacts.load_schema(data_dir), artifacts.load_statistics(data_dir)
    source = features_config
    if source is None and storage.exists(storage.join(data_dir, FEATURES_FILE)):
        source = storage.join(data_dir, FEATURES_FILE)
    if source is not None:
        definitions = tff.load_config(source)
    else:
        definitions = tff.default_config(schema, stats, label=label)
        source = "default_config"
    definitions = tuple(d for d in definitions if getattr(d, "key", None) != label)
    fitted = tff.fit(definitions, stats, schema=schema)
    return fitted, schema, stats, source


def build_ensemble(options, task, embedding_factory=None, embedding_specs: dict | None = None, gbdt_config=None):
    """Constructs the (unbuilt) ensemble that ``options`` (a :class:`~tfpipe.ensembles.train_options.TrainOptions`)
    describes: its kind is the type of ``options.ensemble``, which is handed to the class's ``from_options``;
    ``members`` None gives the registry's ``members_for`` of the member kinds. ``gbdt_config``: the tree members'
    :class:`~tfpipe.ensembles.tree_members.TreeConfig` (default ``options.trees.config()``).

    Example::

        >>> from tfpipe.ensembles.task import Task
        >>> from tfpipe.ensembles.train_options import StackingOptions, TrainOptions
        >>> build_ensemble(TrainOptions(ensemble=StackingOptions(members=4)), Task("binary")).member_names()
        ['gbdt_0', 'lgbm_1', 'wide_deep_2', 'dnn_3']
    """
    entry = registry.of_options(options.ensemble)
    kinds = options.member_kinds
    members = options.ensemble.members or entry.members_for(kinds)
    return entry.load().from_options(task, members, kinds, options.ensemble, hidden=options.keras.hidden,
                                     embedding_factory=embedding_factory, seed=options.runtime.seed,
                                     embedding_specs=embedding_specs,
                                     gbdt_config=gbdt_config or options.trees.config())


@dataclasses.dataclass(frozen=True)
class CachePlan:
    """Which of training's data caches are kept in memory under one budget (``--cache-budget``).

    ``keras_train`` / ``keras_eval``: the ``cache`` argument of the Keras members' train / eval
    ``make_dataset`` ("preprocessed", True = serialized records, False = stream from the shards every epoch);
    ``tree_bytes``: the tree members' share (``TreeConfig.cache_bytes``: their float32 tree block is cached when
    it fits, otherwise every pass of XGBoost / LightGBM streams from the shards); ``used``: bytes planned."""

    budget: int
    keras_train: bool | str
    keras_eval: bool
    tree_bytes: int
    used: int


def plan_caches(data_dir, compiled, member_kinds, carve, train_rows: int, budget: int, parts: int = 1) -> CachePlan:
    """Shares ``budget`` bytes among the caches, all of them together never above it: the eval rows first (read
    every epoch, usually small), then the tree block (a tenth of a preprocessed row: it is read 3-4 times per
    booster), then the Keras members' training split (:func:`~tfpipe.features.dataset.choose_cache`)."""
    from tfpipe.features import artifacts
    from tfpipe.features.dataset import choose_cache, preprocessed_bytes, split_record_bytes

    kinds = tuple(member_kinds)
    trees, keras_members = any(map(is_tree_kind, kinds)), not all(map(is_tree_kind, kinds))
    left = max(0, int(budget))
    train_bytes = split_record_bytes(data_dir, "train") // parts
    if carve:
        eval_rows, eval_bytes = int(train_rows * carve["fraction"]) + 1, int(train_bytes * carve["fraction"]) + 1
    else:
        eval_rows, eval_bytes = artifacts.split_rows(data_dir, "eval"), split_record_bytes(data_dir, "eval")
    keras_eval = keras_members and eval_bytes <= left
    left -= eval_bytes if keras_eval else 0
    tree_need = (train_rows + eval_rows) * max(compiled.tree_width, 1) * 4
    tree_bytes = tree_need if trees and tree_need <= (left // 2 if keras_members else left) else 0
    left -= tree_bytes
    keras_train = choose_cache(compiled, train_rows, train_bytes, left) if keras_members else False
    keras_bytes = {"preprocessed": preprocessed_bytes(compiled, train_rows), True: train_bytes}.get(keras_train, 0)
    return CachePlan(int(budget), keras_train, bool(keras_eval), int(tree_bytes),
                     int(budget) - left + keras_bytes)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def has_gbdt(model) -> bool:
    """True when an ensemble has gbdt members (they need :class:`~tfpipe.ensembles.base.TreeData`)."""
    return any(map(is_tree_kind, getattr(model, "member_kinds", ())))


def _carve(dataset, mode, carve):
    """Keeps the train (``keep``) or eval (``holdout``) part of each batch by example-key hash (batches shrink:
    only for the gbdt members' feed; the Keras members' data is carved before batching, ``ReadOptions(keep=)``)."""
    import tensorflow as tf

    from tfpipe.features.graph import plain

    from tfpipe.features.key_filters import split_filter

    def select(x, y):
        mask = split_filter(x["example_key"], mode, carve)
        return tf.nest.map_structure(lambda t: tf.boolean_mask(t, mask), (x, y))

    return dataset.map(plain(select), num_parallel_calls=tf.data.AUTOTUNE).filter(plain(lambda x, y: tf.size(y) > 0))


def _tree_data(data_dir, compiled, label_spec, carve, config, blocks: str):
    """Unshuffled train / eval batches for gbdt members (same carve-out as the Keras members)."""
    from tfpipe import features as tff
    from tfpipe.ensembles.base import TreeData
    from tfpipe.ensembles.tree_members import feed
    from tfpipe.features import artifacts

    rows = artifacts.load_manifest(data_dir)["rows_written"]

    def split(name):
        data = tff.make_dataset(data_dir, name, compiled, config.batch_size, label=label_spec, blocks=blocks,
                                read=tff.ReadOptions(deterministic=True))
        return feed(data, rows.get(name, 0), compiled.tree_width, config)

    if carve:
        # One read of the train split for both parts: the first pass over the kept part fills the cache (when the
        # block fits it), and the eval part is then filtered from memory instead of parsing the shards again.
        whole = split("train")
        return TreeData(_carve(whole, "keep", carve), _carve(whole, "holdout", carve), compiled.tree_features)
    return TreeData(split("train"), split("eval"), compiled.tree_features)


def fit_ensemble_model(*, data_dir, output_dir, label, dist, role, options, features_config=None, stages=None,
                       deadline=None) -> FittedEnsemble:
    """Steps 1-3 of the module docstring for ``options`` (a :class:`~tfpipe.ensembles.train_options.TrainOptions`)
    under ``dist`` (a ``tf.distribute`` strategy made before any TF op) for worker ``role``, writing
    ``features.pbtxt``, ``logs/`` and ``gbdt/`` into ``output_dir``. ``deadline``: a ``time.monotonic()`` or a
    :class:`~tfpipe.ensembles.time_budget.AutoDeadline` (measured here, on the data)."""
    import keras

    from tfpipe import features as tff
    from tfpipe.features import artifacts, key_filters
    from tfpipe.ensembles.base import FitOptions
    from tfpipe.ensembles.distribute import resolve_jit_compile, strategy_name
    from tfpipe.ensembles.ensemble_options import own_options
    from tfpipe.ensembles.precision import policy_scope, resolve_precision
    from tfpipe.ensembles.stages import stage
    from tfpipe.ensembles.task import task_from_label_spec
    from tfpipe.ensembles.time_budget import AutoDeadline
    from tfpipe.ensembles.tree_members import feature_types, resolve_device, save_boosters
    from tfpipe.features.dataset import default_cache_budget

    ensemble, run, fit, seed = options.kind, options.runtime, options.keras, options.runtime.seed
    keras.utils.set_random_seed(seed)

    # 1. features (float32, built before any mixed policy is set)
    with stage(stages, "features"):
        fitted, schema, stats, source = _load_definitions(data_dir, features_config, label)
        tff.save_config(fitted, ModelDir(output_dir).features)
        label_spec = tff.fit_label(schema, stats, label, task=options.task)
        compiled = tff.compile_features(fitted, label_spec=label_spec)
        the_task = task_from_label_spec(label_spec)

    # 2. data
    splits = artifacts.available_splits(data_dir)
    carve = None if "eval" in splits else {"fraction": float(options.data.eval_fraction), "seed": int(seed)}
    # Several workers: each trains on its own part of the train split, at batch_size / workers (the global batch
    # stays batch_size). Bagging reads only its part (by shard file, else by example key); boosting and stacking
    # compute stage weights / out-of-fold predictions over the whole split, so every worker reads all of it and
    # trains on its rows (FitOptions.data_shard). Eval: the whole split, on every worker.
    read_part = role.count > 1 and ensemble == "bagging"
    train_rows = artifacts.split_rows(data_dir, "train") // (role.count if read_part else 1)
    cache_budget = options.data.cache_budget
    budget = plan_caches(data_dir, compiled, options.member_kinds, carve, train_rows,
                         default_cache_budget() if cache_budget is None else cache_budget,
                         (role.count if read_part else 1))
    cache = budget.keras_train
    gbdt_config = options.trees.config(cache_bytes=budget.tree_bytes)
    if run.verbose != 0:
        print(f"[tfpipe train] caches (budget {_mb(budget.budget)}, planned {_mb(budget.used)}): Keras train "
              f"{ {'preprocessed': 'preprocessed', True: 'records'}.get(budget.keras_train, 'streamed')}, eval "
              f"{'records' if budget.keras_eval else 'streamed'}, tree block "
              f"{_mb(budget.tree_bytes) if budget.tree_bytes else 'streamed'}", flush=True)
    # A carved eval set is chosen before batching (make_dataset's keep): full batches, one shape for XLA.
    read_batch = max(1, fit.batch_size // role.count) if read_part else fit.batch_size
    part = tff.ReadOptions(shard=(role.index, role.count) if read_part else None,
                           keep=key_filters.carve_filter("keep" if carve else None, carve))
    train_ds = tff.make_dataset(data_dir, "train", compiled, read_batch, label=label_spec,
                                read=dataclasses.replace(part, shuffle=True, seed=seed, cache=cache))
    eval_split, eval_mode = key_filters.source_split("eval", data_dir, carve)
    eval_keep = key_filters.carve_filter(eval_mode, carve)
    eval_ds = tff.make_dataset(data_dir, eval_split, compiled, 2048, label=label_spec,
                               read=tff.ReadOptions(cache=budget.keras_eval, keep=eval_keep))

    # 3. precision + strategy + ensemble
    policy = resolve_precision(run.precision, widest_hidden=max(fit.hidden or (0,)))
    log_dir = ModelDir(output_dir).logs
    batches_per_epoch = math.ceil(train_rows * (1 - carve["fraction"] if carve else 1) / read_batch) or None
    fit_options = FitOptions(epochs=fit.epochs, learning_rate=fit.learning_rate, patience=fit.patience,
                             verbose=run.verbose, log_dir=log_dir, policy=policy, strategy=dist,
                             jit_compile=resolve_jit_compile(run.jit_compile, dist, steps=batches_per_epoch and
                                                             batches_per_epoch * fit.epochs),
                             data_shard=(role.index, role.count) if role.count > 1 and not read_part else None,
                             batches_per_epoch=batches_per_epoch, stages=stages,
                             deadline=None if isinstance(deadline, AutoDeadline) else deadline)
    with policy_scope(policy):
        with dist.scope():
            model = build_ensemble(options, the_task, compiled.new_embedding_block,
                                   embedding_specs={**compiled.embedding_specs, **compiled.periodic_specs},
                                   gbdt_config=gbdt_config)
        if has_gbdt(model):
            fit_options.tree_data = _tree_data(data_dir, compiled, label_spec, carve, gbdt_config,
                                               blocks="all" if ensemble == "boosting" else "tree")
        if isinstance(deadline, AutoDeadline) and ensemble == "selection" and has_gbdt(model):
            # --time-limit auto: measured on these rows (see time_budget); other ensembles train without a deadline
            with stage(stages, "time limit"):
                def probe():       # made only when the probe runs (not for a table below SKIP_CELLS)
                    return tff.make_dataset(data_dir, "train", compiled, gbdt_config.batch_size, label=label_spec,
                                            blocks="tree", read=tff.ReadOptions(deterministic=True))

                fit_options.deadline = deadline.resolve(
                    probe, the_task, feature_types(compiled.tree_features),
                    round(train_rows * (1 - carve["fraction"])) if carve else train_rows,
                    device=resolve_device(gbdt_config.device),
                    log=print if run.verbose != 0 else (lambda message: None))
        with stage(stages, "first batch + build", f"cache={cache}"):
            # one batch read uncached: the first batch of train_ds would fill its whole cache before any tree trains
            first = tff.make_dataset(data_dir, "train", compiled, read_batch, label=label_spec, read=part)
            fit_options.sample_inputs = next(iter(first.take(1)))[0]
            model.build_on(fit_options.sample_inputs, fit_options)
        members = options.ensemble.members or len(model.member_names())   # the default, before any is dropped
        print(f"[tfpipe train] {ensemble} of {members} ({the_task.kind}), precision={policy}, "
              f"strategy={strategy_name(dist)} x{dist.num_replicas_in_sync}, features={source}", flush=True)
        with stage(stages, "fit"):
            history = model.fit_ensemble(train_ds, eval_ds, fit_options)
    if role.count > 1:   # the workers' weights must be identical: a fingerprint each worker prints
        import hashlib

        digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()[:16]
        print(f"[tfpipe train] worker {role.index} of {role.count}{' (chief)' if role.is_chief else ''}: "
              f"weights sha256 {digest}", flush=True)

    # the metadata stored with the model
    metadata = {
        "format": "tfpipe.ensemble/1", "ensemble": ensemble, "task": the_task.to_json(), "label": label,
        "label_dtype": label_spec.dtype, "classes": None if label_spec.classes is None else list(label_spec.classes),
        "member_names": model.member_names(), "precision": policy, "strategy": strategy_name(dist),
        "workers": role.count, "replicas": dist.num_replicas_in_sync,
        "eval_carve": carve, "members": members, "seed": seed, "data_dir": storage.absolute(data_dir),
        "features_source": source,
        "member_kinds": list(getattr(model, "member_kinds", ())),
        "gbdt": {"params": dict(gbdt_config.params), "lgbm_params": dict(gbdt_config.lgbm_params),
                 "num_boost_round": gbdt_config.num_boost_round,
                 "early_stopping_rounds": gbdt_config.early_stopping_rounds} if has_gbdt(model) else None,
        "options": {"epochs": fit.epochs, "batch_size": fit.batch_size,
                    "member_kind": getattr(model, "member_kind", None), "jit_compile": fit_options.jit_compile,
                    "learning_rate": fit.learning_rate, **own_options(options.ensemble)},
    }
    save_boosters(model, ModelDir(output_dir).trees)
    return FittedEnsemble(model, compiled, metadata, history, the_task, splits)
