import subprocess
import sys

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
