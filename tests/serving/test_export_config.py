"""The `tfpipe train` export flags are a view of ExportConfig, and `tfpipe run` reads the same message."""
import dataclasses

import pytest
from google.protobuf import text_format

from tfpipe.cli import build_parser
from tfpipe.proto import pipeline_pb2
from tfpipe.serving.export_config import FLAGS, ExportOptions, options_from_proto, proto_from_args


def _args(argv):
    return build_parser().parse_args(["train", "--data", "d", "--output", "m", *argv])


def test_every_field_has_a_flag_of_tfpipe_train_and_an_option():
    assert set(FLAGS) == {field.name for field in pipeline_pb2.ExportConfig.DESCRIPTOR.fields}
    parser = build_parser()._subparsers._group_actions[0].choices["train"]  # noqa: SLF001
    assert set(FLAGS.values()) <= {option for action in parser._actions for option in action.option_strings}  # noqa: SLF001
    assert set(FLAGS) == {field.name for field in dataclasses.fields(ExportOptions)}


def test_flags_and_pipeline_file_give_the_same_options():
    assert options_from_proto(proto_from_args(_args([]))) == ExportOptions()
    flags = options_from_proto(proto_from_args(_args(["--no-report", "--metric-splits", "eval, test",
                                                      "--no-estimator-signatures"])))
    assert flags == ExportOptions(report=False, metric_splits=("eval", "test"), estimator_signatures=False)
    config = text_format.Parse('export { report: false metric_splits: ["eval", "test"] estimator_signatures: false }',
                               pipeline_pb2.PipelineConfig())
    assert options_from_proto(config.export) == flags


def test_bad_export_options_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="ExportOptions.report must be True or False, got 'no'"):
        ExportOptions(report="no")
    with pytest.raises(ValueError, match="metric_splits"):
        ExportOptions(metric_splits=("eval", ""))
    assert ExportOptions(metric_splits="eval, test").metric_splits == ("eval", "test")
