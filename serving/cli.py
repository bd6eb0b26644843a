"""``tfpipe evaluate``: metrics of an exported SavedModel on a split of a preprocessed DIR.

Example::

    $ tfpipe evaluate --model /tmp/model/saved_model --data /tmp/adult --split test
"""
from __future__ import annotations


def register(subparsers) -> None:
    """Adds the ``evaluate`` subcommand."""
    p = subparsers.add_parser("evaluate", help="evaluate an exported SavedModel on a split",
                              description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="MODEL_DIR or MODEL_DIR/saved_model (local or s3://, gs://, ...)")
    p.add_argument("--data", required=True, help="output DIR of `tfpipe preprocess` (local or on a store)")
    p.add_argument("--split", default="test")
    p.add_argument("--json", default=None, help="also write the metrics to this JSON file (any store)")
    from tfpipe.features.remote_shards import add_cache_dir_flags

    add_cache_dir_flags(p)
    p.set_defaults(handler=run_evaluate)


def run_evaluate(args) -> int:
    import json

    from tfpipe.ensembles.metrics import format_metrics
    from tfpipe.pipelines import storage
    from tfpipe.serving.evaluate import evaluate_saved_model

    from tfpipe.features.remote_shards import configure_cache_dir

    configure_cache_dir(args)
    metrics = evaluate_saved_model(args.model, args.data, args.split)
    print(format_metrics({args.split: metrics}))
    if args.json:
        storage.write_text(args.json, json.dumps(metrics, indent=2))
    return 0
