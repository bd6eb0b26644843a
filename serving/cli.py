"""``tfpipe evaluate``: metrics of an exported SavedModel on a split of a preprocessed DIR.

Example::

    $ tfpipe evaluate --model /tmp/model/saved_model --data /tmp/adult --split test
"""
from __future__ import annotations


def register(subparsers) -> None:
    """Adds the ``evaluate`` subcommand."""
    p = subparsers.add_parser("evaluate", help="evaluate an exported SavedModel on a split",
                              description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="MODEL_DIR/saved_model")
    p.add_argument("--data", required=True, help="output DIR of `tfpipe preprocess`")
    p.add_argument("--split", default="test")
    p.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    p.set_defaults(handler=run_evaluate)


def run_evaluate(args) -> int:
    import json

    from tfpipe.ensembles.metrics import format_metrics
    from tfpipe.serving.evaluate import evaluate_saved_model

    metrics = evaluate_saved_model(args.model, args.data, args.split)
    print(format_metrics({args.split: metrics}))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=2)
    return 0
