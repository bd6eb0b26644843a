"""Peak memory of a gbdt member's training feed (issue 14), beside the bound ``ensembles/xgboost_members.py`` states.

The Adult train shards are repeated (symlinks, as ``input_pipeline_benchmark.py`` does) to ``--rows`` rows; one
fresh process per setting trains one booster through tfpipe's own path (``make_dataset(blocks="tree")`` →
``TreeBatches`` → ``QuantileDMatrix`` → ``xgb.train``) and reports its peak RSS (``ru_maxrss``) minus the RSS just
before the feed starts (TensorFlow, the dataset graph and XGBoost already loaded). The stated bound: ``rows ×
features`` bytes of bin indices + ~20 bytes a row (label, weight, key) + one batch + the float32 tree block
(``rows × features × 4``) only when it fits ``TreeConfig.cache_bytes``. Settings: cache on (default 1 GiB) and
cache off (``cache_bytes=0``: XGBoost's passes re-read the shards). Measured on 2 cores (0.26 M / 1.0 M rows, 15
columns): growth 120 / 306 MB cached, 151 / 334 MB re-read, i.e. ~245 bytes a row either way (the stated part is
~95 cached, ~35 re-read; the rest is XGBoost's training state) plus ~60 MB fixed.

    python benchmarks/gbdt_memory.py --data /tmp/adult [--rows 2000000] [--rounds 50]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile



CHILD = r"""
import json, resource, sys, time
data, cache_bytes, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
from tfpipe import features as tff
from tfpipe.ensembles.base import TreeData
from tfpipe.ensembles.tree_members import TreeConfig, feed
from tfpipe.ensembles.xgboost_members import train_boosters
from tfpipe.ensembles.task import task_from_label_spec
from tfpipe.features import artifacts
schema, stats = artifacts.load_schema(data), artifacts.load_statistics(data)
label = tff.fit_label(schema, stats, "income")
compiled = tff.compile_features(tff.fit(tff.default_config(schema, stats, label="income"), stats, schema=schema))
rows = artifacts.load_manifest(data)["rows_written"]["train"]
config = TreeConfig(num_boost_round=rounds, early_stopping_rounds=0, cache_bytes=cache_bytes, device="cpu")
ds = tff.make_dataset(data, "train", compiled, config.batch_size, label=label, blocks="tree",
                      read=tff.ReadOptions(deterministic=True))
train = feed(ds, rows, compiled.tree_width, config)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.time()
boosters, infos = train_boosters(TreeData(train, None, compiled.tree_features), task_from_label_spec(label), 1,
                                 config)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": rows, "features": compiled.tree_width, "rss_before_mb": before, "peak_rss_mb": peak,
                  "growth_mb": peak - before, "seconds": time.time() - start, "cached": cache_bytes > 0}))
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="tfpipe preprocess output of Adult")
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--rounds", type=int, default=50)
    args = p.parse_args(argv)

    from input_pipeline_benchmark import replicate

    work = tempfile.mkdtemp(prefix="gbdt_memory_")
    data = replicate(args.data, "train", args.rows, work)
    results = []
    for cache_bytes in (1 << 30, 0):
        out = subprocess.run([sys.executable, "-c", CHILD, data, str(cache_bytes), str(args.rounds)],
                             capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("| feed | rows | features | stated bound MB | peak RSS growth MB | peak RSS MB | train s |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        n, f = r["rows"], r["features"]
        bound = (n * f + 20 * n + (n * f * 4 if r["cached"] else 0)) / 2 ** 20
        print(f"| {'cached' if r['cached'] else 're-read'} | {n:,} | {f} | {bound:.0f} + one batch | "
              f"{r['growth_mb']:.0f} | {r['peak_rss_mb']:.0f} | {r['seconds']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
