"""``tfpipe demo``: the whole pipeline on the bundled UCI Adult data.

Example::

    $ tfpipe demo --workdir /tmp/tfpipe-demo
    $ AWS_ENDPOINT_URL=http://127.0.0.1:5077 tfpipe demo --output s3://bucket/demo   # data and model on a store
"""
from __future__ import annotations

import os
from importlib import resources

ADULT_COLUMNS = ("age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,"
                 "capital-gain,capital-loss,hours-per-week,native-country,income").split(",")
ADULT_LABEL = "income"
# adult.test writes its labels with a trailing dot (">50K."); map them onto the training labels.
ADULT_VALUE_MAPS = {"income": {">50K.": ">50K", "<=50K.": "<=50K"}}


def adult_dir() -> str:
    """The directory of the bundled UCI Adult files (adult.data, adult.test)."""
    return str(resources.files("tfpipe.data") / "adult")


def adult_preprocess_options(output: str, **overrides):
    """The ``PreprocessOptions`` that turn the bundled Adult files into a dataset at ``output``."""
    from tfpipe.pipelines import PreprocessOptions

    options = dict(
        inputs=[f"train={os.path.join(adult_dir(), 'adult.data')}", f"test={os.path.join(adult_dir(), 'adult.test')}"],
        output=output, label=ADULT_LABEL, column_names=ADULT_COLUMNS, value_maps=ADULT_VALUE_MAPS,
        max_rejected_fraction=0.001, overwrite=True)
    options.update(overrides)
    return PreprocessOptions(**options)


def register(subparsers) -> None:
    """Adds the ``demo`` subcommand."""
    from tfpipe.ensembles import registry

    parser = subparsers.add_parser("demo", help="run the pipeline end to end on the bundled UCI Adult data")
    parser.add_argument("--workdir", "--output", dest="workdir", default="tfpipe-demo",
                        help="where the demo writes, local or on a store such as s3://bucket/demo "
                             "(default ./tfpipe-demo)")
    parser.add_argument("--ensemble", default=registry.DEFAULT, choices=registry.names(),
                        help=f"default {registry.DEFAULT} (tfpipe train's default)")
    parser.add_argument("--members", type=int, default=0,
                        help="members (default: the ensemble's own, one per member kind for selection)")
    parser.add_argument("--folds", type=int, default=3, help="stacking: K-fold by example key")
    parser.add_argument("--epochs", type=int, default=5)
    parser.set_defaults(handler=run)


def _first_test_example(data_dir: str) -> bytes:
    from tfpipe.features.artifacts import compression_type
    from tfpipe.pipelines.artifacts import shard_paths
    from tfpipe.pipelines.tfrecord import read_record_blocks

    return next(read_record_blocks(shard_paths(data_dir, "test")[0], 1, compression_type(data_dir)))[0]


def example_config_path() -> str:
    """The shipped ``examples/adult.pbtxt`` (a ``PipelineConfig``)."""
    return str(resources.files("tfpipe.examples") / "adult.pbtxt")


def run(args) -> int:
    """``tfpipe run`` of the shipped examples/adult.pbtxt (preprocess → train → export), then evaluate the
    SavedModel and one prediction through it."""
    from tfpipe.pipelines import storage
    from tfpipe.run import load_pipeline_config, run_pipeline

    config = load_pipeline_config(example_config_path())
    config.train.ensemble, config.train.members, config.train.epochs = args.ensemble, args.members, args.epochs
    if args.ensemble == "stacking":
        config.train.folds = args.folds
    else:
        config.train.ClearField("folds")
    members = f"{args.members} members" if args.members else "its default members"
    print(f"== 1-2/4 tfpipe run {example_config_path()} ({args.ensemble} of {members}, "
          f"{args.epochs} epochs) -> {args.workdir}", flush=True)
    out = run_pipeline(config, args.workdir, overwrite=True)
    data_dir, result, manifest = out["data"], out["result"], out["manifest"]
    print(f"read {manifest['rows_read']:,} rows, wrote {manifest['rows_written']}, "
          f"rejected {manifest['rows_rejected']} (listed in {storage.join(data_dir, manifest['rejected'])}/)",
          flush=True)
    print(f"exported {result.saved_model_dir}; metrics in {result.metrics_path}; report {result.report_path}",
          flush=True)

    from tfpipe.serving.evaluate import evaluate_saved_model

    print("== 3/4 evaluate the SavedModel on the test split", flush=True)
    metrics = evaluate_saved_model(result.saved_model_dir, data_dir, "test")
    ensemble = metrics["ensemble"]
    print(f"ensemble: AUC {ensemble['auc']:.4f}, log loss {ensemble['logloss']:.4f}, "
          f"accuracy {ensemble['accuracy']:.4f}", flush=True)
    for name, member in metrics["members"].items():
        print(f"  member {name}: AUC {member['auc']:.4f}", flush=True)

    import tensorflow as tf

    print("== 4/4 a prediction from one serialized tf.Example, through the SavedModel alone", flush=True)
    serialized = _first_test_example(data_dir)
    example = tf.train.Example.FromString(serialized)
    shown = {key: (feature.int64_list.value or feature.float_list.value or
                   [v.decode() for v in feature.bytes_list.value])[0]
             for key, feature in sorted(example.features.feature.items())}
    print(f"example: {shown}")
    from tfpipe.serving.model_store import local_model_dir

    serve = tf.saved_model.load(local_model_dir(result.saved_model_dir)).signatures["serving_default"]
    outputs = serve(examples=tf.constant([serialized]))
    print(f"P(income >50K) = {float(outputs['predictions'][0]):.4f}; members: "
          f"{[round(float(p), 4) for p in outputs['member_predictions'][0]]}", flush=True)
    print(f"\nreports to open in a browser:\n  data:  {storage.absolute(storage.join(data_dir, manifest['report']))}"
          f"\n  model: {storage.absolute(result.report_path)}", flush=True)
    return 0
