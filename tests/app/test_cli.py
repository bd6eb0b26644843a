import subprocess
import sys

import pytest

from tfpipe.cli import COMMAND_MODULES, build_parser


def test_every_subcommand_is_wired_and_documented():
    help_text = subprocess.run([sys.executable, "-m", "tfpipe.cli", "--help"], capture_output=True, text=True,
                               check=True).stdout
    for command in ("preprocess", "validate", "features", "train", "evaluate", "run", "demo"):
        assert command in help_text
    assert len(COMMAND_MODULES) == 7


def test_unknown_flags_reach_beam_only_for_preprocess(tmp_path):
    parser = build_parser()
    args, unknown = parser.parse_known_args(["preprocess", "--input", "x.csv", "--output", str(tmp_path),
                                             "--direct_num_workers=1"])
    assert args.accepts_extra_args and unknown == ["--direct_num_workers=1"]
    result = subprocess.run([sys.executable, "-m", "tfpipe.cli", "demo", "--bogus"], capture_output=True, text=True)
    assert result.returncode == 2 and "unrecognized arguments: --bogus" in result.stderr


def test_a_damaged_shard_is_one_line_from_either_reader(tmp_path):
    """A truncated shard read by tfpipe's reader inside tf.data, or by TensorFlow's own, gives one line."""
    import tensorflow as tf

    from tfpipe.cli import damaged_shard_message
    from tfpipe.features.remote_shards import record_blocks

    path = str(tmp_path / "part.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for i in range(50):
            writer.write(b"x" * (100 + i))
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[: len(data) - 40])
    with pytest.raises(tf.errors.OpError) as ours:
        list(record_blocks(path, 8))
    line = damaged_shard_message(ours.value)
    assert line.startswith(f"{path}: truncated TFRecord at byte ") and "\n" not in line
    with pytest.raises(tf.errors.DataLossError) as theirs:
        list(tf.data.TFRecordDataset(path))
    line = damaged_shard_message(theirs.value, "/data/dir")
    assert line.startswith("damaged TFRecord data in a shard of /data/dir: ") and "\n" not in line
    assert damaged_shard_message(RuntimeError("other")) is None


def test_one_error_policy_for_every_command(tmp_path, capsys):
    """tfpipe's own errors and bad input: one line, status 2, from every command (a PreprocessError from
    `tfpipe run` as from `tfpipe preprocess`); anything else: what and where, status 1; --verbose: the traceback."""
    from tfpipe.cli import main, report_error
    from tfpipe.pipelines import PreprocessError

    assert report_error("run", PreprocessError("--compression 'zip': expected none or gzip")) == 2
    assert capsys.readouterr().err == "tfpipe run: error: --compression 'zip': expected none or gzip\n"
    assert report_error("train", KeyError("no column 'age'")) == 2
    assert capsys.readouterr().err == "tfpipe train: error: no column 'age'\n"
    assert report_error("evaluate", RuntimeError("a library failed")) == 1
    assert capsys.readouterr().err.startswith("tfpipe evaluate: error: RuntimeError: a library failed")
    assert report_error("train", PreprocessError("x"), verbose=True) is None
    csv = tmp_path / "in.csv"
    csv.write_text("x,y\n1,0\n")
    argv = ["preprocess", "--input", f"train={csv}", "--output", str(tmp_path / "out"), "--split",
            "train=0.8,eval=0.2", "--quiet"]
    assert main(argv) == 2
    assert capsys.readouterr().err == ("tfpipe preprocess: error: --split cannot be combined with SPLIT=PATH "
                                       "inputs: the inputs already name splits\n")
    with pytest.raises(PreprocessError):
        main([*argv, "--verbose"])
    for argv in (["train", "--data", "d", "--output", "m"], ["features", "init", "--data", "d"], ["demo"]):
        assert build_parser().parse_known_args([*argv, "--verbose"])[0].verbose
