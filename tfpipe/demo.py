"""``tfpipe demo``: the whole pipeline on the bundled UCI Adult data.

Example::

    $ tfpipe demo --workdir /tmp/tfpipe-demo
"""
from __future__ import annotations

import os
import sys
from importlib import resources

ADULT_COLUMNS = ("age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,"
                 "capital-gain,capital-loss,hours-per-week,native-country,income").split(",")
ADULT_LABEL = "income"
# adult.test writes its labels with a trailing dot (">50K."); map them onto the training labels.
ADULT_VALUE_MAPS = {"income": {">50K.": ">50K", "<=50K.": "<=50K"}}


def adult_dir() -> str:
    """The directory of the bundled UCI Adult files (adult.data, adult.test)."""
    return str(resources.files("tfpipe.data") / "adult")


def adult_preprocess_options(output: str, **overrides):
    """The ``PreprocessOptions`` that turn the bundled Adult files into a dataset at ``output``."""
    from tfpipe.pipelines import PreprocessOptions

    options = dict(
        inputs=[f"train={os.path.join(adult_dir(), 'adult.data')}", f"test={os.path.join(adult_dir(), 'adult.test')}"],
        output=output, label=ADULT_LABEL, column_names=ADULT_COLUMNS, value_maps=ADULT_VALUE_MAPS,
        max_rejected_fraction=0.001, overwrite=True)
    options.update(overrides)
    return PreprocessOptions(**options)


def register(subparsers) -> None:
    """Adds the ``demo`` subcommand."""
    parser = subparsers.add_parser("demo", help="run the pipeline end to end on the bundled UCI Adult data")
    parser.add_argument("--workdir", default="tfpipe-demo", help="where the demo writes (default ./tfpipe-demo)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from tfpipe.pipelines import run_preprocess

    data_dir = os.path.join(args.workdir, "adult")
    print(f"== 1. preprocess: {adult_dir()} -> {data_dir}", flush=True)
    manifest = run_preprocess(adult_preprocess_options(data_dir))
    print(f"read {manifest['rows_read']:,} rows, wrote {manifest['rows_written']}, "
          f"rejected {manifest['rows_rejected']} (in {data_dir}/{manifest['rejected']})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(type("Args", (), {"workdir": "tfpipe-demo"})()))
