"""``tfpipe features init --data DIR [--output FILE] [--label COL]``: writes a default feature config.

Example::

    $ tfpipe features init --data /tmp/adult            # writes /tmp/adult/features.pbtxt
"""
from __future__ import annotations

import argparse

from tfpipe.features.init_config import DEFAULT_NUMERIC_EMBEDDING, NUMERIC_EMBEDDINGS


def init(args: argparse.Namespace) -> int:
    """Handler of ``tfpipe features init`` (imports the feature modules lazily)."""
    from tfpipe.features import artifacts
    from tfpipe.features.config import FEATURES_FILE, save_config
    from tfpipe.features.init_config import default_config
    from tfpipe.pipelines import storage

    label = args.label if args.label is not None else artifacts.load_manifest(args.data).get("label")
    definitions = default_config(args.data, args.data, label=label or None, split=args.split,
                                 numeric_embedding=args.numeric_embedding)
    output = args.output or storage.join(args.data, FEATURES_FILE)
    save_config(definitions, output, label=label or None)
    print(f"wrote {len(definitions)} feature definitions to {output}")
    return 0


def register(subparsers) -> None:
    """Adds ``features`` (with its ``init`` subcommand) to the ``tfpipe`` command."""
    parser = subparsers.add_parser("features", help="FeatureColumn configs: 'features init' writes a default one")
    commands = parser.add_subparsers(dest="features_command", required=True)
    init_parser = commands.add_parser("init", help="write a default feature config for a preprocessed dataset")
    init_parser.add_argument("--data", required=True, help="output DIR of 'tfpipe preprocess'")
    init_parser.add_argument("--output", help="config file to write (default: DIR/features.pbtxt)")
    init_parser.add_argument("--label", help="label column to leave out (default: the manifest's label)")
    init_parser.add_argument("--split", default="train", help="statistics split to base defaults on")
    init_parser.add_argument("--numeric-embedding", choices=NUMERIC_EMBEDDINGS, default=DEFAULT_NUMERIC_EMBEDDING,
                             help="also embed every number: learned periodic embeddings, piecewise-linear "
                                  f"encoding, or none (default: {DEFAULT_NUMERIC_EMBEDDING})")
    init_parser.set_defaults(handler=init)
