"""``tfpipe preprocess`` from the command line: flags as a user types them, errors as a user sees them."""
import pytest

from tfpipe.cli import main
from tfpipe.pipelines.artifacts import load_manifest
from tfpipe.cli import describe_error


def _csv(path, rows):
    path.write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(rows)))
    return str(path)


def test_repeated_input_flags_read_every_file(tmp_path):
    a, b = _csv(tmp_path / "a.csv", 5), _csv(tmp_path / "b.csv", 7)
    assert main(["preprocess", "--input", a, "--input", b, "--output", str(tmp_path / "out"), "--quiet",
                 "--no-report", "--direct_num_workers=1"]) == 0
    manifest = load_manifest(str(tmp_path / "out"))
    assert manifest["rows_read"] == 12 and [i["path"] for i in manifest["inputs"]] == [a, b]


@pytest.mark.parametrize("flags, message", [
    (["--input", "s4://bucket/a.csv"], "no installed filesystem handles 's4://'"),
    (["--input", "IN", "--beam_option=--direct_num_workers=1"], "unknown Beam option --beam_option"),
    (["--input", "IN", "--output", "s4://bucket/out"], "no installed filesystem handles 's4://'"),
])
def test_bad_paths_and_options_are_clear_errors_and_write_nothing(tmp_path, capsys, flags, message):
    flags = [_csv(tmp_path / "in.csv", 3) if flag == "IN" else flag for flag in flags]
    if "--output" not in flags:
        flags += ["--output", str(tmp_path / "out")]
    assert main(["preprocess", *flags, "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_unexpected_error_says_what_and_where():
    def read_chunk():
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError) as raised:
        read_chunk()
    text = describe_error(raised.value)
    assert text.startswith("RuntimeError: disk on fire") and "in read_chunk" in text and "--verbose" in text
    # a runner's message quoting a worker's traceback: the worker's innermost frame is named
    worker = RuntimeError('Pipeline failed\nTraceback:\n  File "/x/beam_job.py", line 7, in process\n'
                          '    raise ValueError\nValueError: bad [while running \'Process\']')
    assert 'at File "/x/beam_job.py", line 7, in process' in describe_error(worker)


def test_a_directory_without_its_manifest_is_no_dataset_to_any_stage(adult_small_dir, tmp_path, capsys):
    """manifest.json is the commit marker: a copy of a dataset without it (a job that died before publishing)
    is refused by validate, features init and train, naming the missing manifest."""
    import shutil

    unfinished = tmp_path / "unfinished"
    shutil.copytree(adult_small_dir, unfinished)
    (unfinished / "manifest.json").unlink()
    for argv in (["validate", "--data", str(unfinished), "--against", adult_small_dir],
                 ["features", "init", "--data", str(unfinished), "--label", "income"],
                 ["train", "--data", str(unfinished), "--output", str(tmp_path / "model")]):
        assert main(argv) == 2, argv
        assert "no manifest.json" in capsys.readouterr().err, argv
    assert not (tmp_path / "model").exists()
