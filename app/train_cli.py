"""``tfpipe train``: preprocessed DIR -> ensemble -> MODEL_DIR/{saved_model, metrics.json, report.html}.

Example::

    $ tfpipe train --data /tmp/adult --label income --ensemble bagging --members 8 --output /tmp/model
"""
from __future__ import annotations


def register(subparsers) -> None:
    """Adds the ``train`` subcommand. Its config flags are a view of ``TrainConfig`` (``proto/pipeline.proto``,
    :mod:`tfpipe.ensembles.train_config`): each sets one field, and a flag not given leaves it unset, so the
    defaults shown are those of :class:`~tfpipe.ensembles.train_options.TrainOptions`, the one place they are
    kept."""
    from tfpipe.ensembles import registry
    from tfpipe.ensembles.train_config import FLAGS, default_of, dest
    from tfpipe.serving.export_config import ExportOptions

    path_of = {flag: path for path, flag in FLAGS.items()}
    export_defaults = ExportOptions()

    def flag(name, *args, help="", **kwargs):     # noqa: A002  (argparse's name)
        value = (default_of(path_of[name]) if name in path_of else
                 getattr(export_defaults, dest(name)))
        value = ",".join(str(v) for v in value) if isinstance(value, tuple) else value
        shown = kwargs.get("action") != "store_false" and value not in ("", None)   # --no-X: the default is X
        text = f"{help} (default: {value})" if help and shown else (help or f"default: {value}")
        p.add_argument(name, *args, dest=dest(name), default=None, help=text, **kwargs)

    p = subparsers.add_parser("train", help="train a bagging/boosting/stacking ensemble and export one SavedModel",
                              description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="output DIR of `tfpipe preprocess` (local or s3://, gs://, ...)")
    p.add_argument("--label", default=None, help="label column (default: the manifest's label)")
    p.add_argument("--output", required=True, help="MODEL_DIR to write, local or on a store (built aside, published at the end)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing MODEL_DIR, only if it is an earlier `tfpipe train` output")
    p.add_argument("--features", default=None,
                   help="features.pbtxt (default: DIR/features.pbtxt from `features init`, else the default config)")
    flag("--ensemble", choices=registry.names(),
         help="; ".join(f"{name}: {registry.get(name).summary}" for name in registry.names()))
    flag("--members", type=int,
         help="bagging: K members; boosting: stages; stacking: base members; selection: members (None: 8; "
              "selection: one per member kind)")
    flag("--time-limit", type=time_limit_arg, metavar="SECONDS|auto|none",
         help="seconds for the whole command, counted from its start (imports included): members are added, "
              "and the one in training stopped, so that it ends near this with a valid, exported model; auto: "
              "2.2x what XGBoost's defaults take on the same rows, timed on a sample, at least 120 s (selection "
              "only); none: no limit")
    flag("--cache-budget", metavar="BYTES",
         help="memory for all of training's data caches together, e.g. 4G, 512M; 0 streams every epoch from the "
              "shards (None: a quarter of the RAM)")
    flag("--epochs", type=int)
    flag("--batch-size", type=int)
    flag("--precision", choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
         help="auto: mixed_float16 for members with a hidden layer >= 512 units on a GPU, else float32")
    flag("--strategy", choices=("auto", "default", "mirrored", "multi_worker"))
    flag("--seed", type=int)
    flag("--task", choices=("binary", "multiclass", "regression"),
         help="override the task inferred from the label's schema/statistics")
    flag("--member-kind", metavar="KIND[,KIND...]",
         help="member kinds the members cycle through, of linear, dnn, wide_deep, gbdt (XGBoost), lgbm (LightGBM); "
              "None = per ensemble: " + ", ".join(f"{name} {','.join(registry.get(name).default_member_kinds)}"
                                   for name in registry.names()))
    flag("--hidden", metavar="W[,W...]", help="hidden layer widths of dnn members")
    flag("--feature-fraction", type=float, help="bagging: random input-column subset per member")
    flag("--folds", type=int, help="stacking: K-fold by key hash")
    flag("--no-bootstrap", action="store_false",
         help="bagging: every member sees every example once (members differ by seed only)")
    flag("--boosting", choices=("gradient", "adaboost"), help="boosting algorithm")
    flag("--shrinkage", type=float, help="gradient boosting learning rate per stage")
    flag("--no-corrective", action="store_false", help="gradient boosting: skip the joint re-fit")
    flag("--learning-rate", type=float)
    flag("--eval-fraction", type=float,
         help="fraction of train carved out (by key hash) as eval when the data has no eval split")
    flag("--patience", type=int, help="early stopping patience (epochs) on the eval loss")
    flag("--jit-compile", nargs="?", const="on", choices=("auto", "on", "off"),
         help="compile train steps with XLA; auto: on with one GPU for fits of >= 6000 steps (batches x "
              "epochs: XLA's compile time pays off from there), off on CPU")
    flag("--gbdt-param", action="append", metavar="KEY=VALUE",
         help="XGBoost parameter for gbdt members (repeatable), e.g. --gbdt-param max_depth=8")
    flag("--lgbm-param", action="append", metavar="KEY=VALUE",
         help="LightGBM parameter for lgbm members (repeatable), e.g. --lgbm-param num_leaves=63")
    flag("--gbdt-rounds", type=int, help="gbdt and lgbm: most boosting rounds")
    flag("--gbdt-early-stopping", type=int,
         help="gbdt: stop after this many rounds without improvement on the eval split")
    flag("--gbdt-device", choices=("auto", "cpu", "cuda"), help="gbdt training device (auto: CUDA when a GPU is visible)")
    # ExportConfig (tfpipe.serving.export_config)
    flag("--no-report", action="store_false", help="skip MODEL_DIR/report.html")
    flag("--metric-splits", metavar="SPLIT[,SPLIT...]",
         help="splits measured into metrics.json (default: train, eval and every other split of the data)")
    flag("--no-estimator-signatures", action="store_false",
         help="only serving_default: no classification / regression signature for TF Serving's Classify / Regress")
    from tfpipe.features.remote_shards import add_cache_dir_flags

    add_cache_dir_flags(p)
    p.set_defaults(handler=run_train)


def process_seconds() -> float:
    """Wall seconds since this process started (the interpreter, TensorFlow's import: 5-10 s on 2 cores).

    Linux: ``/proc/uptime`` less the process's start in clock ticks (10 ms steps; psutil's ``create_time`` adds
    the whole-second boot time of ``/proc/stat``, up to 1 s off); elsewhere psutil."""
    import os
    import time

    try:
        with open("/proc/self/stat") as f:
            started = int(f.read().rsplit(")", 1)[1].split()[19])    # field 22, starttime, in clock ticks
        with open("/proc/uptime") as f:
            return max(0.0, float(f.read().split()[0]) - started / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        import psutil

        return max(0.0, time.time() - psutil.Process().create_time())


def time_limit_arg(text: str) -> float | None:
    """``--time-limit``: seconds > 0, ``auto`` (None: the field stays unset, ``train_ensemble``'s default) or
    ``none`` (0: ``TrainConfig``'s spelling of no limit).

    >>> time_limit_arg("90"), time_limit_arg("auto"), time_limit_arg("none")
    (90.0, None, 0.0)
    """
    import argparse

    word = text.strip().lower()
    if word == "auto":
        return None
    if word in ("none", "off"):
        return 0.0
    try:
        seconds = float(word)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SECONDS, auto or none, got {text!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected SECONDS > 0 (or none for no limit), got {text!r}")
    return seconds


def run_train(args) -> int:
    import dataclasses

    from tfpipe.ensembles import train_config
    from tfpipe.features.remote_shards import configure_cache_dir
    from tfpipe.serving import export_config
    from tfpipe.train import train_ensemble

    configure_cache_dir(args)

    options = train_config.options_from_proto(train_config.proto_from_args(args))
    if isinstance(options.time_limit, float):   # the user times the command: what start-up spent counts too
        options = dataclasses.replace(options, time_limit=max(1.0, options.time_limit - process_seconds()))
    result = train_ensemble(args.data, args.output, options, label=args.label, features_config=args.features,
                            overwrite=args.overwrite,
                            export=export_config.options_from_proto(export_config.proto_from_args(args)))
    if result.saved_model_dir is None:
        print(f"this worker's part of {result.metadata.get('workers')}-way data-parallel training is done; "
              f"the chief wrote {args.output}")
        return 0
    print(f"saved model: {result.saved_model_dir}\nmetrics: {result.metrics_path}\nreport: {result.report_path}")
    return 0
