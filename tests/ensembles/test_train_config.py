"""The `tfpipe train` flags are a view of TrainConfig: one flag per field, one path to train_ensemble's options."""
import inspect

from tfpipe.cli import build_parser
from tfpipe.ensembles.train_config import FLAGS, proto_from_args, train_kwargs
from tfpipe.proto import pipeline_pb2
from tfpipe.train import train_ensemble

RUN_FLAGS = {"--data", "--label", "--features", "--output", "--overwrite", "--cache-dir", "--cache-dir-bytes", "--verbose", "-h",
             "--help"}   # where the data is read from, not what is trained
EXPORT_FLAGS = {"--no-report", "--metric-splits", "--no-estimator-signatures"}     # ExportConfig's


def _args(argv):
    return build_parser().parse_args(["train", "--data", "d", "--output", "m", *argv])


def test_every_field_has_a_flag_and_every_flag_a_field():
    assert set(FLAGS) == {field.name for field in pipeline_pb2.TrainConfig.DESCRIPTOR.fields}
    parser = build_parser()._subparsers._group_actions[0].choices["train"]  # noqa: SLF001
    flags = {option for action in parser._actions for option in action.option_strings}  # noqa: SLF001
    assert set(FLAGS.values()) <= flags
    assert flags - set(FLAGS.values()) == RUN_FLAGS | EXPORT_FLAGS
    parameters = set(inspect.signature(train_ensemble).parameters)
    kwargs = {"gbdt_param": "gbdt_params", "lgbm_param": "lgbm_params"}
    assert {kwargs.get(name, name) for name in FLAGS} <= parameters


def test_flags_not_given_stay_unset_so_train_ensemble_defaults_apply():
    assert train_kwargs(proto_from_args(_args([]))) == {}


def test_every_flag_reaches_train_ensemble_through_the_proto():
    argv = ["--ensemble", "boosting", "--members", "3", "--epochs", "2", "--batch-size", "64", "--precision",
            "float32", "--strategy", "default", "--seed", "0", "--task", "regression", "--member-kind", "dnn,gbdt",
            "--hidden", "32,16", "--feature-fraction", "0.5", "--folds", "4", "--no-bootstrap", "--boosting",
            "adaboost", "--shrinkage", "0.3", "--no-corrective", "--learning-rate", "0.01", "--eval-fraction",
            "0.2", "--patience", "1", "--jit-compile", "--gbdt-param", "max_depth=3", "--gbdt-param", "eta=0.1",
            "--lgbm-param", "num_leaves=7", "--gbdt-rounds", "10", "--gbdt-early-stopping", "5", "--gbdt-device",
            "cpu"]
    config = proto_from_args(_args(argv))
    assert train_kwargs(config) == dict(
        ensemble="boosting", members=3, epochs=2, batch_size=64, precision="float32", strategy="default", seed=0,
        task="regression", member_kind="dnn,gbdt", hidden=(32, 16), feature_fraction=0.5, folds=4,
        bootstrap=False, boosting="adaboost", shrinkage=0.3, corrective=False, learning_rate=0.01,
        eval_fraction=0.2, patience=1, jit_compile="on", gbdt_params=["max_depth=3", "eta=0.1"],
        lgbm_params=["num_leaves=7"], gbdt_rounds=10, gbdt_early_stopping=5, gbdt_device="cpu")
    assert set(train_kwargs(config)) <= set(inspect.signature(train_ensemble).parameters)


def test_time_limit_is_auto_unless_given_and_none_means_no_limit():
    import pytest

    assert inspect.signature(train_ensemble).parameters["time_limit"].default == "auto"
    assert "time_limit" not in train_kwargs(proto_from_args(_args(["--time-limit", "auto"])))
    assert train_kwargs(proto_from_args(_args(["--time-limit", "none"]))) == {"time_limit": None}
    assert train_kwargs(proto_from_args(_args(["--time-limit", "90"]))) == {"time_limit": 90.0}
    assert train_kwargs(pipeline_pb2.TrainConfig(time_limit=0)) == {"time_limit": None}    # a pipeline file's "none"
    for bad in ("-5", "soon"):
        with pytest.raises(SystemExit):
            _args(["--time-limit", bad])
