"""The `tfpipe preprocess` flags are a view of PreprocessConfig: one flag per field, one path to the options."""
import dataclasses

from tfpipe.cli import build_parser
from tfpipe.pipelines.preprocess import PreprocessOptions
from tfpipe.pipelines.preprocess_config import FLAGS, options_from_proto, proto_from_args
from tfpipe.proto import pipeline_pb2

RUN_FLAGS = {"--input", "--output", "--overwrite", "--quiet", "--verbose", "-h", "--help"}  # --input: a field too


def _args(argv):
    args, unknown = build_parser().parse_known_args(["preprocess", *argv])
    args.extra_args = unknown
    return args


def test_every_field_has_a_flag_and_every_flag_a_field():
    fields = {field.name for field in pipeline_pb2.PreprocessConfig.DESCRIPTOR.fields}
    assert set(FLAGS) == fields
    parser = build_parser()._subparsers._group_actions[0].choices["preprocess"]  # noqa: SLF001
    flags = {option for action in parser._actions for option in action.option_strings}  # noqa: SLF001
    named = {flag for flag in FLAGS.values() if flag.startswith("--")}
    assert named <= flags
    assert flags - named <= RUN_FLAGS, flags - named - RUN_FLAGS


def test_no_flags_means_the_option_defaults():
    options = options_from_proto(proto_from_args(_args(["--input", "a.csv", "--output", "out"])), "out")
    assert options == PreprocessOptions(inputs=["a.csv"], output="out")
    assert options_from_proto(pipeline_pb2.PreprocessConfig(input=["a.csv"]), "out") == options


def test_every_flag_reaches_its_option_through_the_proto():
    argv = ["--input", "train=a.csv", "b.csv", "--output", "out", "--label", "y", "--format", "csv",
            "--column-names", "id, x ,y", "--schema", "s.pbtxt", "--split", "train=0.8,eval=0.2", "--key", "id",
            "--num-shards", "3", "--compression", "gzip", "--max-rejected-fraction", "0.25", "--runner",
            "DaskRunner", "--delimiter", ";", "--csv-multiline", "--null-values", "?,NA", "--no-strip",
            "--max-field-bytes", "99", "--value-map", "y:yes=1,no=0", "--dataset-name", "d", "--chunk-mb", "2",
            "--no-report", "--infer-schema", "full-pass", "--dask_client_address=127.0.0.1:1"]
    config = proto_from_args(_args(argv))
    got = dataclasses.asdict(options_from_proto(config, "out", overwrite=True, progress=False))
    assert got == dict(
        inputs=["train=a.csv", "b.csv"], output="out", label="y", format="csv", column_names=["id", "x", "y"],
        schema="s.pbtxt", split="train=0.8,eval=0.2", key=["id"], num_shards=3, compression="gzip",
        max_rejected_fraction=0.25, overwrite=True, runner="DaskRunner", beam_args=["--dask_client_address=127.0.0.1:1"],
        delimiter=";", csv_multiline=True, null_values=("?", "NA"), strip=False, max_field_bytes=99,
        value_maps={"y": {"yes": "1", "no": "0"}}, dataset_name="d", chunk_bytes=2 << 20, progress=False,
        report=False, infer_schema="full-pass")
    # the same settings written as a pipeline file's PreprocessConfig give the same options
    from google.protobuf import text_format

    again = text_format.Parse(text_format.MessageToString(config), pipeline_pb2.PreprocessConfig())
    assert dataclasses.asdict(options_from_proto(again, "out", overwrite=True, progress=False)) == got
