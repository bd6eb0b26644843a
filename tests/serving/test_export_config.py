"""The `tfpipe train` export flags are a view of ExportConfig, and `tfpipe run` reads the same message."""
import inspect

from google.protobuf import text_format

from tfpipe.cli import build_parser
from tfpipe.proto import pipeline_pb2
from tfpipe.serving.export_config import FLAGS, export_kwargs, proto_from_args
from tfpipe.train import train_ensemble


def _args(argv):
    return build_parser().parse_args(["train", "--data", "d", "--output", "m", *argv])


def test_every_field_has_a_flag_of_tfpipe_train():
    assert set(FLAGS) == {field.name for field in pipeline_pb2.ExportConfig.DESCRIPTOR.fields}
    parser = build_parser()._subparsers._group_actions[0].choices["train"]  # noqa: SLF001
    assert set(FLAGS.values()) <= {option for action in parser._actions for option in action.option_strings}  # noqa: SLF001
    assert set(FLAGS) <= set(inspect.signature(train_ensemble).parameters)


def test_flags_and_pipeline_file_give_the_same_kwargs():
    assert export_kwargs(proto_from_args(_args([]))) == {}
    flags = export_kwargs(proto_from_args(_args(["--no-report", "--metric-splits", "eval, test",
                                                 "--no-estimator-signatures"])))
    assert flags == {"report": False, "metric_splits": ("eval", "test"), "estimator_signatures": False}
    config = text_format.Parse('export { report: false metric_splits: ["eval", "test"] estimator_signatures: false }',
                               pipeline_pb2.PipelineConfig())
    assert export_kwargs(config.export) == flags
