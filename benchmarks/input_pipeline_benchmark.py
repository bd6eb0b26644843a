"""Examples/s of ``tfpipe.features.make_dataset`` vs a bare ``TFRecordDataset → batch → parse_example``.

Both read the same shards with the same parse spec in one run; the feature pipeline additionally encodes the
label, runs the Keras preprocessing model and hashes the example keys. ``--min-rows`` replicates the split's
shards (symlinks, in a temporary copy of the dataset) until there are at least that many rows, so the rate is
measured over a meaningful amount of data. Goal: feature pipeline ≥ 80% of the bare rate.

Example::

    $ python benchmarks/input_pipeline_benchmark.py --data /tmp/adult --min-rows 1000000
    bare        : 1,004,271 examples in 1.99 s = 503,685 ex/s (rounds: ...)
    make_dataset: 1,004,271 examples in 2.30 s = 437,042 ex/s (rounds: ...)
    ratio make_dataset / bare = 0.87 (median of paired rounds ...; goal >= 0.80)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
import time


def replicate(data_dir: str, split: str, min_rows: int, workdir: str) -> str:
    """A copy of ``data_dir`` whose ``split`` has its shards repeated (symlinked) to reach ``min_rows``."""
    from tfpipe.features import artifacts

    manifest = artifacts.load_manifest(data_dir)
    rows = int(manifest["rows_written"][split])
    copies = max(1, math.ceil(min_rows / rows))
    shards = artifacts.shard_paths(data_dir, split)
    total = copies * len(shards)
    name = manifest.get("dataset_name") or "bench"
    out = os.path.join(workdir, "replicated")
    os.makedirs(os.path.join(out, "tfds"))
    for entry in ("schema", "statistics"):
        shutil.copy(os.path.join(data_dir, manifest[entry]), os.path.join(out, os.path.basename(manifest[entry])))
        manifest[entry] = os.path.basename(manifest[entry])
    names = []
    for i in range(total):
        target = f"{name}-{split}.tfrecord-{i:05d}-of-{total:05d}"
        os.symlink(os.path.abspath(shards[i % len(shards)]), os.path.join(out, "tfds", target))
        names.append(target)
    manifest.update(tfds_dir="tfds", shards_dir="tfds", dataset_name=name, splits=[split],
                    rows_written={split: rows * copies}, shards={split: names})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    return out


def bare_dataset(paths, spec, batch_size, compression):
    """The reference: TFRecordDataset → batch → parse_example (→ prefetch)."""
    import tensorflow as tf

    return (tf.data.TFRecordDataset(paths, compression_type=compression).batch(batch_size)
            .map(lambda s: tf.io.parse_example(s, spec)).prefetch(tf.data.AUTOTUNE))


def measure(dataset, warmup_batches: int = 5) -> tuple[int, float]:
    """(examples, seconds) of one pass over ``dataset`` after ``warmup_batches`` (counted out)."""
    import tensorflow as tf

    iterator = iter(dataset)
    for _ in range(warmup_batches):
        next(iterator)
    examples, start = 0, time.perf_counter()
    for element in iterator:
        first = tf.nest.flatten(element)[0]
        examples += int(first.shape[0])
    return examples, time.perf_counter() - start


def adult_definitions():
    """UCI Adult: normalized numbers, bucketized age, vocabulary categoricals, education×occupation, embeddings
    (``examples/adult_features.pbtxt``, shipped as ``tfpipe.examples``)."""
    from importlib import resources

    from tfpipe import features as tff

    return list(tff.load_config(resources.files("tfpipe.examples") / "adult_features.pbtxt"))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="output DIR of tfpipe preprocess (UCI Adult by default)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--config", help="feature config (.pbtxt); default: the Adult definitions if the "
                                         "columns exist, else `features init` defaults")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--min-rows", type=int, default=1_000_000, help="replicate shards to at least this many")
    parser.add_argument("--rounds", type=int, default=5, help="paired measurement rounds (bare, then ours)")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from tfpipe import features as tff
    from tfpipe.features import artifacts
    from tfpipe.features.dataset import resolve_label

    with tempfile.TemporaryDirectory() as workdir:
        data_dir = replicate(args.data, args.split, args.min_rows, workdir)
        if args.config:
            definitions = tff.load_config(args.config)
        else:
            schema_keys = {f.name for f in artifacts.load_schema(data_dir).feature}
            definitions = adult_definitions()
            if not {k for d in definitions for k in d.raw_keys} <= schema_keys:
                label = artifacts.load_manifest(data_dir).get("label")
                definitions = tff.default_config(data_dir, data_dir, label=label)
        label_spec = resolve_label(data_dir, args.split, "auto")
        compiled = tff.compile_features(tff.fit(definitions, data_dir), label_spec=label_spec)
        spec = dict(compiled.parse_spec)
        if label_spec is not None:
            spec.update(label_spec.parse_spec())
        paths = artifacts.shard_paths(data_dir, args.split)
        compression = artifacts.compression_type(data_dir)
        results = {"bare": [], "make_dataset": []}
        for _ in range(args.rounds):
            results["bare"].append(measure(bare_dataset(paths, spec, args.batch_size, compression)))
            results["make_dataset"].append(measure(tff.make_dataset(
                data_dir, args.split, compiled, args.batch_size, label=label_spec if label_spec else None)))
    rates = {}
    print(f"{len(paths)} shards, batch {args.batch_size}, {tf.config.threading.get_inter_op_parallelism_threads()}"
          f" inter-op threads, {os.cpu_count()} CPUs; dense {compiled.dense_width}, wide {compiled.wide_width}, "
          f"embedding ids {len(compiled.embedding_specs)}")
    for name, runs in results.items():
        examples, seconds = min(runs, key=lambda r: r[1])
        rates[name] = examples / seconds
        print(f"{name:<12}: {examples:,} examples in {seconds:.2f} s = {rates[name]:,.0f} ex/s "
              f"(rounds: {', '.join(f'{e / s:,.0f}' for e, s in runs)})")
    # Rounds run back to back (bare, then make_dataset): the per-round ratio is robust to a shared machine's load.
    ratios = sorted((m[0] / m[1]) / (b[0] / b[1]) for b, m in zip(results["bare"], results["make_dataset"]))
    ratio = ratios[len(ratios) // 2]
    print(f"ratio make_dataset / bare = {ratio:.2f} (median of paired rounds {', '.join(f'{r:.2f}' for r in ratios)};"
          f" best rates {rates['make_dataset'] / rates['bare']:.2f}; goal >= 0.80)")
    return {"rates": rates, "ratio": ratio, "ratios": ratios}


if __name__ == "__main__":
    main()
