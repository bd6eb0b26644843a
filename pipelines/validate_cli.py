"""``tfpipe validate`` command line: anomalies and drift of a preprocessed DIR against a reference.

Example::

    $ tfpipe validate --data /tmp/new_day --against /tmp/adult --json anomalies.json
    $ tfpipe validate --data /tmp/adult --split test --against-split train

Exit status 0 when nothing crosses the thresholds, 1 when an anomaly is found, 2 on bad input.
"""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    """Adds the ``validate`` subcommand."""
    parser = subparsers.add_parser(
        "validate", help="schema anomalies and drift of a preprocessed DIR against a reference DIR",
        description="Compares one split's statistics of DIR with a reference split's schema and statistics "
                    "(both `tfpipe preprocess` outputs): new, missing or retyped columns, values outside the "
                    "reference's domain or range, lower presence, and drift (L-infinity for strings, "
                    "Jensen-Shannon divergence for numbers). Exit 1 when anything is found.")
    parser.add_argument("--data", required=True, metavar="NEW_DIR", help="the preprocessed data under test")
    parser.add_argument("--against", metavar="REF_DIR", help="the reference (default: --data itself)")
    parser.add_argument("--split", default="train", help="split of NEW_DIR to check (default train)")
    parser.add_argument("--against-split", help="split of REF_DIR to compare with (default: --split)")
    parser.add_argument("--drift-threshold", type=float, default=0.1,
                        help="flag drift above this L-infinity distance / JS divergence (default 0.1)")
    parser.add_argument("--max-unexpected-fraction", type=float, default=0.001,
                        help="flag when more than this fraction of values is outside REF's domain or range")
    parser.add_argument("--skip", default="", metavar="COL,...", help="features not to check")
    parser.add_argument("--json", metavar="FILE", help="also write the tensorflow_metadata Anomalies proto as JSON")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from tfpipe.pipelines.validate import ValidateOptions, anomalies_json, table, validate

    try:
        options = ValidateOptions(drift_threshold=args.drift_threshold,
                                  max_unexpected_fraction=args.max_unexpected_fraction,
                                  skip=tuple(c.strip() for c in args.skip.split(",") if c.strip()))
        reports, anomalies = validate(args.data, args.against, args.split, args.against_split, options)
    except (ValueError, FileNotFoundError, KeyError) as error:
        print(f"tfpipe validate: error: {error}", file=sys.stderr)
        return 2
    print(table(reports))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(anomalies_json(anomalies))
    found = sorted(anomalies.anomaly_info)
    print(f"\n{len(found)} anomalous feature(s)" + (f": {', '.join(found)}" if found else "; nothing crosses the "
                                                      "thresholds"))
    return 1 if found else 0
