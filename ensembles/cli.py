"""``tfpipe train``: preprocessed DIR -> ensemble -> MODEL_DIR/{saved_model, metrics.json, report.html}.

Example::

    $ tfpipe train --data /tmp/adult --label income --ensemble bagging --members 8 --output /tmp/model
"""
from __future__ import annotations


def register(subparsers) -> None:
    """Adds the ``train`` subcommand."""
    p = subparsers.add_parser("train", help="train a bagging/boosting/stacking ensemble and export one SavedModel",
                              description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="output DIR of `tfpipe preprocess`")
    p.add_argument("--label", default=None, help="label column (default: the manifest's label)")
    from tfpipe.ensembles import registry

    p.add_argument("--ensemble", choices=registry.names(), default="bagging",
                   help="; ".join(f"{name}: {registry.get(name).summary}" for name in registry.names()))
    p.add_argument("--output", required=True, help="MODEL_DIR to write (built aside, moved into place at the end)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing MODEL_DIR, only if it is an earlier `tfpipe train` output")
    p.add_argument("--features", default=None,
                   help="features.pbtxt (default: DIR/features.pbtxt from `features init`, else the default config)")
    p.add_argument("--members", type=int, default=8,
                   help="bagging: K members; boosting: stages; stacking: base members (linear, dnn, wide_deep, ...)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--precision", choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"), default="auto")
    p.add_argument("--strategy", choices=("auto", "default", "mirrored", "multi_worker"), default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--task", choices=("binary", "multiclass", "regression"), default=None,
                   help="override the task inferred from the label's schema/statistics")
    p.add_argument("--member-kind", default=None, metavar="KIND[,KIND...]",
                   help="member kinds the members cycle through, of linear, dnn, wide_deep, gbdt (XGBoost), lgbm "
                        "(LightGBM) (default: wide_deep for bagging, dnn for boosting, gbdt,lgbm,wide_deep,dnn for "
                        "stacking)")
    p.add_argument("--hidden", default="64,32", help="hidden layer widths of dnn members")
    p.add_argument("--feature-fraction", type=float, default=1.0, help="bagging: random input-column subset per member")
    p.add_argument("--folds", type=int, default=5, help="stacking: K-fold by key hash")
    p.add_argument("--no-bootstrap", action="store_true",
                   help="bagging: every member sees every example once (members differ by seed only)")
    p.add_argument("--boosting", choices=("gradient", "adaboost"), default="gradient")
    p.add_argument("--shrinkage", type=float, default=0.5, help="gradient boosting learning rate per stage")
    p.add_argument("--no-corrective", action="store_true", help="gradient boosting: skip the joint re-fit")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--eval-fraction", type=float, default=0.1,
                   help="fraction of train carved out (by key hash) as eval when the data has no eval split")
    p.add_argument("--patience", type=int, default=2, help="early stopping patience (epochs) on the eval loss")
    p.add_argument("--jit-compile", nargs="?", const="on", default="auto", choices=("auto", "on", "off"),
                   help="compile train steps with XLA; auto (default): on with one GPU, off on CPU")
    p.add_argument("--gbdt-param", action="append", default=[], metavar="KEY=VALUE",
                   help="XGBoost parameter for gbdt members (repeatable), e.g. --gbdt-param max_depth=8")
    p.add_argument("--lgbm-param", action="append", default=[], metavar="KEY=VALUE",
                   help="LightGBM parameter for lgbm members (repeatable), e.g. --lgbm-param num_leaves=63")
    p.add_argument("--gbdt-rounds", type=int, default=2000, help="gbdt and lgbm: most boosting rounds")
    p.add_argument("--gbdt-early-stopping", type=int, default=50,
                   help="gbdt: stop after this many rounds without improvement on the eval split")
    p.add_argument("--gbdt-device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="gbdt training device (auto: CUDA when a GPU is visible)")
    p.add_argument("--no-report", action="store_true")
    p.set_defaults(handler=run_train)


def run_train(args) -> int:
    from tfpipe.ensembles.train import train_ensemble

    result = train_ensemble(
        args.data, args.output, label=args.label, ensemble=args.ensemble, members=args.members, epochs=args.epochs,
        batch_size=args.batch_size, precision=args.precision, strategy=args.strategy, seed=args.seed,
        features_config=args.features, task=args.task, member_kind=args.member_kind,
        hidden=tuple(int(h) for h in args.hidden.split(",") if h), feature_fraction=args.feature_fraction,
        folds=args.folds, boosting=args.boosting, shrinkage=args.shrinkage, corrective=not args.no_corrective,
        learning_rate=args.learning_rate, eval_fraction=args.eval_fraction, patience=args.patience,
        report=not args.no_report, jit_compile=args.jit_compile, gbdt_params=args.gbdt_param,
        bootstrap=not args.no_bootstrap, gbdt_rounds=args.gbdt_rounds, gbdt_early_stopping=args.gbdt_early_stopping,
        gbdt_device=args.gbdt_device, overwrite=args.overwrite, lgbm_params=args.lgbm_param)
    if result.saved_model_dir is None:
        print(f"this worker's part of {result.metadata.get('workers')}-way data-parallel training is done; "
              f"the chief wrote {args.output}")
        return 0
    print(f"saved model: {result.saved_model_dir}\nmetrics: {result.metrics_path}\nreport: {result.report_path}")
    return 0
