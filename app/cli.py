"""The ``tfpipe`` console command.

Each subcommand lives with the package that owns it and exposes ``register(subparsers)``; this module only
wires them together, importing heavy libraries (TensorFlow, Beam) lazily inside the commands.

Example::

    $ tfpipe preprocess --input data/adult/adult.data --output /tmp/adult --label income
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# Module path of every subcommand group, in the order they are listed in ``tfpipe --help``.
COMMAND_MODULES = (
    "tfpipe.pipelines.cli",   # preprocess
    "tfpipe.pipelines.validate_cli",   # validate
    "tfpipe.features.cli",    # features init
    "tfpipe.train_cli",      # train
    "tfpipe.serving.cli",     # evaluate
    "tfpipe.run",             # run (a whole PipelineConfig)
    "tfpipe.demo",            # demo
)


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="tfpipe", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    for command in _leaf_parsers(subparsers):      # one error policy: --verbose on every command
        command.add_argument("--verbose", action="store_true",
                             help="on an error, show the whole traceback (also TFPIPE_DEBUG=1)")
    return parser


def _leaf_parsers(subparsers):
    """The parsers of every command, nested groups (``features init``) included."""
    for command in dict.fromkeys(subparsers.choices.values()):
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
        if nested:
            yield from _leaf_parsers(nested[0])
        else:
            yield command


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfpipe`` command; returns the process exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    extra = getattr(args, "accepts_extra_args", False)
    if not extra:
        from tfpipe.pipelines.storage import is_store_flag

        store_flags = [arg for arg in unknown if is_store_flag(arg)]
        unknown = [arg for arg in unknown if not is_store_flag(arg)]
        if unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        if store_flags or any("://" in str(value) for value in vars(args).values()):
            from tfpipe.pipelines.storage import configure_store

            configure_store(store_flags)   # Beam's store flags and the store's environment, for every command
    args.extra_args = unknown
    try:
        return int(args.handler(args) or 0)
    except Exception as error:   # noqa: BLE001: the one error policy of every command, see report_error
        status = report_error(args.command, error, data=getattr(args, "data", None),
                              verbose=getattr(args, "verbose", False) or bool(os.environ.get("TFPIPE_DEBUG")))
        if status is None:
            raise
        return status


def report_error(command: str, error: BaseException, data: str | None = None, verbose: bool = False) -> int | None:
    """The one error policy of every ``tfpipe`` command: prints the error and returns the exit status, or returns
    None when the caller should re-raise it (``verbose``: the traceback is wanted).

    - an error tfpipe explains (:class:`~tfpipe.pipelines.errors.TfpipeError`), bad input (``ValueError``, a
      missing file or key) or a damaged shard however it surfaced: one line ``tfpipe CMD: error: ...``, status 2;
    - anything else (a library's or a runner's failure): what and where (:func:`describe_error`), status 1.
    """
    if verbose:
        return None
    from tfpipe.pipelines.errors import TfpipeError

    message = damaged_shard_message(error, data)
    if message is None and isinstance(error, (TfpipeError, ValueError, FileNotFoundError, NotADirectoryError,
                                              KeyError)):
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    if message is not None:
        print(f"tfpipe {command}: error: {message}", file=sys.stderr)
        return 2
    print(f"tfpipe {command}: error: {describe_error(error)}", file=sys.stderr)
    return 1


def describe_error(error: BaseException, limit: int = 12) -> str:
    """What went wrong and where: the exception, the innermost frame (for a Beam worker's error, the innermost
    frame quoted in its message), and the message cut to ``limit`` lines."""
    import traceback

    where = ""
    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
    text = str(error)
    quoted = [line.strip() for line in text.splitlines() if line.strip().startswith('File "')]
    if quoted:                          # a worker's traceback inside the runner's message
        where = quoted[-1]
    elif frames:
        frame = frames[-1]
        where = f'File "{frame.filename}", line {frame.lineno}, in {frame.name}'
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > limit:              # a runner's message quotes whole tracebacks: keep the end, where the cause is
        lines = ["..."] + lines[-limit:]
    message = "\n".join(lines) or type(error).__name__
    return f"{type(error).__name__}: {message}" + (f"\n  (at {where}; --verbose shows the traceback)" if where else "")


def damaged_shard_message(error: BaseException, data: str | None = None) -> str | None:
    """One line for a damaged or truncated shard, however it surfaced: tfpipe's own reader
    (``CorruptRecord``, also when raised inside ``tf.data`` and wrapped in TensorFlow's ``UnknownError``) or
    TensorFlow's ``DataLossError`` (which does not name the file, so the dataset ``data`` is named); else None."""
    if not type(error).__module__.startswith(("tensorflow", "tfpipe")):
        return None             # neither TensorFlow's nor tfpipe's: nothing to look for (and no import needed)
    from tfpipe.pipelines.tfrecord import CorruptRecord

    if isinstance(error, CorruptRecord):
        return str(error)
    marker = f"{CorruptRecord.__module__}.{CorruptRecord.__qualname__}: "   # as tf.data's wrapper prints it
    text = str(error)
    for line in text.splitlines():
        if line.startswith(marker):
            return line[len(marker):]
    if type(error).__name__ == "DataLossError":
        detail = text.split("}}", 1)[-1].split(" [Op:", 1)[0].strip()
        where = f" in a shard of {data}" if data else ""
        return f"damaged TFRecord data{where}: {detail}; run `tfpipe preprocess` again to rewrite the dataset"
    return None


if __name__ == "__main__":
    sys.exit(main())
