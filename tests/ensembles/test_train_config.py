"""The `tfpipe train` flags are a view of TrainConfig, and TrainConfig of TrainOptions: one flag per field path,
one path from flags or a pipeline file to the typed options."""
import dataclasses

import pytest
from google.protobuf import text_format

from tfpipe.cli import build_parser
from tfpipe.ensembles import registry
from tfpipe.ensembles.train_config import FLAGS, default_of, options_from_proto, proto_from_args
from tfpipe.ensembles.train_options import (BoostingOptions, KerasOptions, LightGBMOptions, RuntimeOptions,
                                            TrainOptions, TreeOptions, XGBoostOptions)
from tfpipe.proto import pipeline_pb2

RUN_FLAGS = {"--data", "--label", "--features", "--output", "--overwrite", "--cache-dir", "--cache-dir-bytes",
             "--verbose", "-h", "--help"}   # where the data is read from, not what is trained
EXPORT_FLAGS = {"--no-report", "--metric-splits", "--no-estimator-signatures"}     # ExportConfig's


def _args(argv):
    return build_parser().parse_args(["train", "--data", "d", "--output", "m", *argv])


def _paths(message_descriptor, cls, prefix=""):
    """Every leaf field path of a message, checked to exist on the dataclass of the same name too."""
    assert message_descriptor.name == cls.__name__ or prefix == ""
    paths = set()
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for field in message_descriptor.fields:
        if prefix == "" and field.name in registry.names():    # the `ensemble` oneof: below
            continue
        assert field.name in fields, f"{message_descriptor.name}.{field.name} has no field in {cls.__name__}"
        if field.message_type is not None and not field.is_repeated:
            paths |= _paths(field.message_type, type(fields[field.name].default), f"{prefix}{field.name}.")
        else:
            paths.add(prefix + field.name)
    return paths


def test_every_field_has_a_flag_and_every_flag_a_field():
    paths = _paths(pipeline_pb2.TrainConfig.DESCRIPTOR, TrainOptions) | {"ensemble"}
    for kind in registry.names():
        message = pipeline_pb2.TrainConfig.DESCRIPTOR.fields_by_name[kind].message_type
        own = _paths(message, registry.get(kind).options, f"{kind}.")
        paths |= {path for path in own if path.split(".")[1] not in ("members", "member_kinds")}
        paths |= {"*.members", "*.member_kinds"}
    assert set(FLAGS) == paths
    parser = build_parser()._subparsers._group_actions[0].choices["train"]  # noqa: SLF001
    flags = {option for action in parser._actions for option in action.option_strings}  # noqa: SLF001
    assert set(FLAGS.values()) <= flags
    assert flags - set(FLAGS.values()) == RUN_FLAGS | EXPORT_FLAGS


def test_flags_not_given_stay_unset_so_the_class_defaults_apply():
    assert options_from_proto(proto_from_args(_args([]))) == TrainOptions()
    assert options_from_proto(pipeline_pb2.TrainConfig()) == TrainOptions()
    assert default_of("boosting.shrinkage") == BoostingOptions().shrinkage == 0.5


def test_every_flag_reaches_the_options_through_the_proto():
    argv = ["--ensemble", "boosting", "--members", "3", "--epochs", "2", "--batch-size", "64", "--precision",
            "float32", "--strategy", "default", "--seed", "7", "--task", "regression", "--member-kind", "dnn,gbdt,lgbm",
            "--hidden", "32,16", "--boosting", "gradient", "--shrinkage", "0.3", "--no-corrective",
            "--learning-rate", "0.01", "--eval-fraction", "0.2", "--patience", "1", "--jit-compile",
            "--gbdt-param", "max_depth=3", "--gbdt-param", "eta=0.1", "--lgbm-param", "num_leaves=7",
            "--gbdt-rounds", "10", "--gbdt-early-stopping", "5", "--gbdt-device", "cpu", "--cache-budget", "1G",
            "--time-limit", "90"]
    options = options_from_proto(proto_from_args(_args(argv)))
    assert options == TrainOptions(
        ensemble=BoostingOptions(members=3, member_kinds=("dnn", "gbdt", "lgbm"), shrinkage=0.3, corrective=False),
        keras=KerasOptions(epochs=2, batch_size=64, hidden=(32, 16), learning_rate=0.01, patience=1),
        trees=TreeOptions(rounds=10, early_stopping=5, xgboost=XGBoostOptions({"max_depth": 3, "eta": 0.1}, "cpu"),
                          lightgbm=LightGBMOptions(["num_leaves=7"])),
        runtime=RuntimeOptions(precision="float32", strategy="default", jit_compile="on", seed=7),
        data=dataclasses.replace(TrainOptions().data, eval_fraction=0.2, cache_budget=1 << 30),
        task="regression", time_limit=90.0)
    # the same options from a pipeline file
    text = ('boosting { members: 3 member_kinds: ["dnn", "gbdt", "lgbm"] shrinkage: 0.3 corrective: false } '
            'keras { epochs: 2 batch_size: 64 hidden: [32, 16] learning_rate: 0.01 patience: 1 } '
            'trees { rounds: 10 early_stopping: 5 xgboost { params: ["max_depth=3", "eta=0.1"] device: "cpu" } '
            'lightgbm { params: "num_leaves=7" } } '
            'runtime { precision: "float32" strategy: "default" jit_compile: "on" seed: 7 } '
            'data { eval_fraction: 0.2 cache_budget: "1G" } task: "regression" time_limit: 90')
    assert options_from_proto(text_format.Parse(text, pipeline_pb2.TrainConfig())) == options


def test_a_flag_of_another_ensemble_is_refused_naming_it():
    with pytest.raises(ValueError, match="--folds applies to stacking only; this is a bagging: drop it"):
        proto_from_args(_args(["--ensemble", "bagging", "--folds", "3"]))
    with pytest.raises(ValueError, match="--shrinkage applies to boosting only.*this is a selection"):
        proto_from_args(_args(["--shrinkage", "0.1"]))
    with pytest.raises(ValueError, match="trees .*rounds=10.* applies to gbdt or lgbm members"):
        options_from_proto(proto_from_args(_args(["--ensemble", "bagging", "--gbdt-rounds", "10"])))
    with pytest.raises(ValueError, match="trees.lightgbm .* applies to lgbm members"):
        options_from_proto(proto_from_args(_args(["--member-kind", "gbdt", "--lgbm-param", "num_leaves=7"])))


def test_time_limit_is_auto_unless_given_and_none_means_no_limit():
    assert TrainOptions().time_limit == "auto"
    assert options_from_proto(proto_from_args(_args(["--time-limit", "auto"]))).time_limit == "auto"
    assert options_from_proto(proto_from_args(_args(["--time-limit", "none"]))).time_limit is None
    assert options_from_proto(pipeline_pb2.TrainConfig(time_limit=0)).time_limit is None  # a pipeline file's none
    for bad in ("-5", "soon"):
        with pytest.raises(SystemExit):
            _args(["--time-limit", bad])
