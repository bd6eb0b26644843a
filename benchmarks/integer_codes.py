"""Integer-coded categoricals (issue 13): Adult with its 8 string categoricals re-coded as integer codes (as census
recodes, store ids and zip codes come), ``tfpipe features init`` with the rule before issue 13 (integers are
numbers) vs now (integers with 3..64 distinct values are also categorical), bagging of 8 and the gbdt member,
side by side in one run. The codes are a seeded random permutation per column, so their order means nothing.

    python benchmarks/integer_codes.py [--work DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time



CATEGORICALS = ("workclass", "education", "marital-status", "occupation", "relationship", "race", "sex",
                "native-country")


def recode(work: str) -> str:
    """Adult CSVs with the categoricals as integer codes; returns the preprocessed DIR."""
    import numpy as np
    import pandas as pd

    from tfpipe.demo import ADULT_COLUMNS, adult_dir
    from tfpipe.pipelines import PreprocessOptions, run_preprocess

    frames = {name: pd.read_csv(os.path.join(adult_dir(), name), names=ADULT_COLUMNS, skipinitialspace=True,
                                comment="|", na_values=["?"], keep_default_na=False)
              for name in ("adult.data", "adult.test")}
    rng = np.random.default_rng(0)
    for column in CATEGORICALS:
        values = sorted(set(frames["adult.data"][column].dropna()) | set(frames["adult.test"][column].dropna()))
        codes = dict(zip(values, rng.permutation(len(values)) + 1))
        for frame in frames.values():
            frame[column] = frame[column].map(codes).astype("Int64")
    paths = []
    for name, frame in frames.items():
        frame["income"] = frame["income"].str.rstrip(".")
        paths.append(os.path.join(work, name + ".csv"))
        frame.to_csv(paths[-1], index=False)
    out = os.path.join(work, "adult_codes")
    run_preprocess(PreprocessOptions(inputs=[f"train={paths[0]}", f"test={paths[1]}"], output=out, label="income",
                                     progress=False, overwrite=True))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default=None)
    args = p.parse_args(argv)

    from tfpipe import features as tff
    from tfpipe.ensembles.train_options import BaggingOptions, KerasOptions, RuntimeOptions, TrainOptions
    from tfpipe.serving.export_config import ExportOptions
    from tfpipe.train import train_ensemble
    from tfpipe.features import init_config

    work = args.work or tempfile.mkdtemp(prefix="integer_codes_")
    os.makedirs(work, exist_ok=True)
    data = recode(work)
    rows = []
    for rule, limit in (("integers are numbers (before)", 0), ("3..64 distinct integers also categorical", 64)):
        init_config.MAX_INT_CATEGORIES = limit
        config = os.path.join(work, f"features_{limit}.pbtxt")
        tff.save_config(tff.default_config(data, data, label="income"), config)
        for kind, ensemble in (("bagging 8", BaggingOptions(members=8)),
                               ("gbdt", BaggingOptions(members=1, member_kinds="gbdt", bootstrap=False))):
            start = time.time()
            options = TrainOptions(ensemble=ensemble, keras=KerasOptions(epochs=10, batch_size=512),
                                   runtime=RuntimeOptions(strategy="default", seed=0, verbose=0))
            res = train_ensemble(data, os.path.join(work, f"{limit}_{kind.split()[0]}"), options, label="income",
                                 features_config=config, export=ExportOptions(report=False))
            test = res.metrics["test"]["ensemble"]
            rows.append((rule, kind, test["auc"], test["logloss"], time.time() - start))
    print("| features init rule | model | test AUC | test log loss | s |\n|---|---|---|---|---|")
    for rule, kind, auc, logloss, seconds in rows:
        print(f"| {rule} | {kind} | {auc:.4f} | {logloss:.4f} | {seconds:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
