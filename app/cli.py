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
    return parser


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
    except (ValueError, FileNotFoundError, NotADirectoryError, KeyError) as error:
        # Bad input (a path, a column, a refused --output...): one clear line, no traceback; TFPIPE_DEBUG=1 for it.
        if os.environ.get("TFPIPE_DEBUG"):
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"tfpipe {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Exception as error:   # noqa: BLE001: only damaged shards are turned into one line, the rest re-raised
        message = damaged_shard_message(error, getattr(args, "data", None))
        if message is None or os.environ.get("TFPIPE_DEBUG"):
            raise
        print(f"tfpipe {args.command}: error: {message}", file=sys.stderr)
        return 2


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
