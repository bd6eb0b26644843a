"""GPU training throughput of bagging (K wide_deep members in one pass) on real Adult shards, in ONE run.

Data: the train split of a ``tfpipe preprocess`` DIR (UCI Adult) resampled with replacement (fixed seed) from its
serialized tf.Examples into ``--rows`` rows in ``--shards`` uncompressed TFRecord shards (named like the
originals, ``{dataset}-train.tfrecord-{i:05d}-of-{n:05d}``) in a new DIR with the same schema / statistics and a
manifest whose ``shards`` / ``rows_written`` are updated; the test split is kept as is (for the AUC). Features:
what ``tfpipe train`` uses (``ensembles.train._load_definitions``: the default config fitted on the statistics).

Measured (examples/s = training rows per epoch / seconds, over epochs 2..n: epoch 1 traces, compiles and fills
the ``cache``):

1. one GPU, bagging K wide_deep members (``--hidden``), float32, ``jit_compile`` off and on (``--jit``), fed
   (a) from the shards by ``make_dataset(read=ReadOptions(shuffle=True, cache=...))`` + the bootstrap weights, given to ``fit`` as
   ``fit_keras`` does (``ensembles.base.fit_input``: repeated, one iterator for all epochs), and (b) from memory:
   the same (inputs, label, weights) batches materialised once and served by ``from_tensor_slices`` (one element
   per batch), so only the input pipeline differs -> ratio (a)/(b). ``--sources`` adds ``memory_repeated`` (the
   in-memory batches through one repeated iterator too) and ``shards_restart`` (a new iterator per epoch);
   ``--repeats N`` runs the group N times, alternating, and reports the median ratio. Before training, each feed
   is also timed alone (no model): the rate the host can deliver.
2. precision float32 / mixed_float16 / mixed_bfloat16 for the narrow (``--hidden``) and a wide (``--wide-hidden``)
   member, from the shards, at the jit setting that was faster in 1(a) (``--precision-jit``): ex/s and test AUC
   (sklearn ``roc_auc_score`` on ``ensemble.predict_dataset`` of the test shards).
3. ``MirroredStrategy`` over all visible GPUs vs one GPU at the same global batch (skipped with one GPU), jit off
   (XLA cannot compile Keras's step under it), against one GPU at jit off (scaling) and at the faster jit setting.

Results go to ``$OUT/gpu_training_benchmark.json`` (and ``.md``); the table is printed last.

    python benchmarks/gpu_training_benchmark.py --data /tmp/adult --rows 1000000 --epochs 3 --batch-size 8192
    python benchmarks/gpu_training_benchmark.py --data /tmp/adult --parts 1 --jit on --epochs 5 --repeats 2 \
        --sources shards,memory,memory_repeated,shards_restart      # the session-7 feed measurement
    python benchmarks/gpu_training_benchmark.py --data /tmp/adult --rows 20000 --epochs 2 --members 2 \
        --batch-size 1024 --wide-hidden 64 64        # CPU smoke run
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
import types



STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[gpu_bench {time.perf_counter() - STARTED:6.1f}s] {message}", flush=True)


# --------------------------------------------------------------------------------------------------------- data
def resample_train(src: str, dst: str, rows: int, shards: int, seed: int) -> dict:
    """Writes DST: SRC's train split resampled with replacement to ``rows`` rows in ``shards`` uncompressed
    shards, the other splits copied, schema / statistics / rejected copied, the manifest updated."""
    import numpy as np
    import tensorflow as tf

    from tfpipe.features import artifacts

    manifest = artifacts.load_manifest(src)
    compression = artifacts.compression_type(src)
    records: list[bytes] = []
    for batch in tf.data.TFRecordDataset(artifacts.shard_paths(src, "train"), compression_type=compression).batch(8192):
        records.extend(batch.numpy().tolist())
    picks = np.random.default_rng(seed).integers(0, len(records), size=rows)
    shards_dir = manifest.get("shards_dir") or "tfds"
    os.makedirs(os.path.join(dst, shards_dir), exist_ok=True)
    name = manifest.get("dataset_name") or "data"
    bounds = np.linspace(0, rows, shards + 1).astype(np.int64)
    names = []
    for i in range(shards):
        shard = f"{name}-train.tfrecord-{i:05d}-of-{shards:05d}"
        with tf.io.TFRecordWriter(os.path.join(dst, shards_dir, shard)) as writer:
            for j in picks[bounds[i]:bounds[i + 1]]:
                writer.write(records[j])
        names.append(shard)
    for split, split_names in manifest.get("shards", {}).items():
        if split == "train":
            continue
        if compression:   # the new DIR is uncompressed: other splits are re-written without compression
            for shard in split_names:
                with tf.io.TFRecordWriter(os.path.join(dst, shards_dir, shard)) as writer:
                    for record in tf.data.TFRecordDataset(os.path.join(src, shards_dir, shard), compression_type=compression):
                        writer.write(record.numpy())
        else:
            for shard in split_names:
                shutil.copy(os.path.join(src, shards_dir, shard), os.path.join(dst, shards_dir, shard))
    for key in ("schema", "statistics", "rejected"):
        if manifest.get(key) and os.path.exists(os.path.join(src, manifest[key])):
            os.makedirs(os.path.dirname(os.path.join(dst, manifest[key])), exist_ok=True)
            if os.path.isdir(os.path.join(src, manifest[key])):     # manifest format 2: rejected/ pieces
                shutil.copytree(os.path.join(src, manifest[key]), os.path.join(dst, manifest[key]), dirs_exist_ok=True)
            else:
                shutil.copy(os.path.join(src, manifest[key]), os.path.join(dst, manifest[key]))
    manifest["shards"] = {**manifest["shards"], "train": names}
    manifest["rows_written"] = {**manifest.get("rows_written", {}), "train": int(rows)}
    manifest["compression"] = "none"
    manifest["resampled_from"] = {"data_dir": os.path.abspath(src), "train_rows": len(records), "seed": seed,
                                  "unique_rows_picked": int(len(np.unique(picks)))}
    from tfpipe.pipelines.preprocessed import write_manifest

    write_manifest(dst, manifest)
    return manifest


# --------------------------------------------------------------------------------------------------------- runs
class Bench:
    def __init__(self, args, data_dir: str):
        import keras
        import tensorflow as tf

        from tfpipe import features as tff
        from tfpipe.ensembles.task import task_from_label_spec
        from tfpipe.ensembles.train import _load_definitions
        from tfpipe.features import artifacts

        self.args, self.data_dir, self.tf, self.keras, self.tff = args, data_dir, tf, keras, tff
        label = artifacts.load_manifest(data_dir).get("label")
        # exactly what tfpipe train uses: features.pbtxt / default config fitted on the train statistics
        fitted, schema, stats, self.features_source = _load_definitions(data_dir, None, label)
        self.label_spec = tff.fit_label(schema, stats, label)
        self.compiled = tff.compile_features(fitted, label_spec=self.label_spec)
        self.task = task_from_label_spec(self.label_spec)
        self.test_ds = tff.make_dataset(data_dir, "test", self.compiled, 8192, label=self.label_spec,
                                        read=tff.ReadOptions(cache=True))
        self.x0 = next(iter(self.test_ds))[0]            # one batch to build the models (the train caches stay whole)
        self.rows_per_epoch = None
        self.memory = None
        self._test_rows = None

    def test_rows(self) -> int:
        if self._test_rows is None:
            self._test_rows = sum(int(y.shape[0]) for _, y in self.test_ds)
        return self._test_rows

    def shards_dataset(self):
        """``train_ensemble``'s training input: make_dataset(shuffle, seed, cache) with ``--feed-cache``: ``auto``
        (what train_ensemble picks: the preprocessed tensors when they fit in a quarter of the RAM, else the records
        when they fit, else streamed), ``records``
        (the serialized records, preprocessed every epoch) or ``preprocessed``."""
        from tfpipe.features.dataset import choose_cache, default_cache_budget, split_record_bytes

        cache = {"records": True, "preprocessed": "preprocessed"}.get(self.args.feed_cache) or choose_cache(
            self.compiled, self.rows_per_epoch or self.args.rows, split_record_bytes(self.data_dir, "train"),
            default_cache_budget())
        return self.tff.make_dataset(self.data_dir, "train", self.compiled, self.args.batch_size,
                                     label=self.label_spec,
                                     read=self.tff.ReadOptions(shuffle=True, seed=self.args.seed, cache=cache))

    def feed_rate(self, source: str, epochs: int = 3) -> dict:
        """The training input alone, no model: examples/s of iterating it on the host (epochs 2..n; the first fills
        the cache). Far above the training rate = the input pipeline is not the bottleneck."""
        dataset = self.with_weights(self.shards_dataset()) if source == "shards" else self.memory
        times = []
        for _ in range(epochs):
            start, rows = time.perf_counter(), 0
            for batch in dataset:
                rows += int(batch[1].shape[0])
            times.append(time.perf_counter() - start)
        timed = times[1:] if len(times) > 1 else times
        return {"name": f"feed {source}", "input": source, "rows": rows, "epoch_seconds": times,
                "feed_ex_per_s": rows * len(timed) / sum(timed)}

    def with_weights(self, dataset):
        """``BaggingEnsemble.training_dataset`` (label [B,1,1], Poisson(1) weights [B,K]) without a model."""
        from tfpipe.ensembles.bagging import BaggingEnsemble

        shim = types.SimpleNamespace(bootstrap=True, n_members=self.args.members, seed=self.args.seed)
        return BaggingEnsemble.training_dataset(shim, dataset)

    def materialise(self):
        """The (inputs, label, weights) batches of the shards pipeline, once, as in-memory tensors."""
        import numpy as np

        tf = self.tf
        start = time.perf_counter()
        batches = [tf.nest.map_structure(lambda t: t.numpy(), b) for b in self.with_weights(self.shards_dataset())]
        read_s = time.perf_counter() - start
        size = lambda b: int(b[1].shape[0])     # noqa: E731
        full = [b for b in batches if size(b) == self.args.batch_size]
        partial = [b for b in batches if size(b) != self.args.batch_size]
        rows = sum(map(size, batches))
        parts = []
        if full:
            stacked = tf.nest.map_structure(lambda *ts: np.stack(ts), *full)
            parts.append(tf.data.Dataset.from_tensor_slices(stacked))
        for b in partial:
            parts.append(tf.data.Dataset.from_tensors(b))
        dataset = parts[0]
        for p in parts[1:]:
            dataset = dataset.concatenate(p)
        nbytes = sum(a.nbytes for b in batches for a in tf.nest.flatten(b))
        n_batches, n_full = len(batches), len(full)
        del batches, full, partial
        self.memory = dataset.prefetch(tf.data.AUTOTUNE)
        self.rows_per_epoch = rows
        return {"rows": rows, "batches": n_batches, "full_batches": n_full, "bytes": int(nbytes),
                "read_seconds": read_s, "read_ex_per_s": rows / read_s}

    def run(self, name: str, source: str, policy: str = "float32", hidden=None, jit: bool = False,
            strategy=None) -> dict:
        import numpy as np
        from sklearn.metrics import roc_auc_score

        from tfpipe.ensembles.base import FitOptions, fit_input
        from tfpipe.ensembles.precision import policy_scope, wrap_optimizer
        from tfpipe.ensembles.train import build_ensemble
        from tfpipe.ensembles.train_options import BaggingOptions, KerasOptions, RuntimeOptions, TrainOptions

        tf, keras, args = self.tf, self.keras, self.args
        hidden = tuple(hidden or args.hidden)
        dist = strategy or tf.distribute.get_strategy()
        result = {"name": name, "input": source, "policy": policy, "hidden": list(hidden), "jit_compile": jit,
                  "strategy": type(dist).__name__, "replicas": dist.num_replicas_in_sync, "members": args.members,
                  "batch_size": args.batch_size, "epochs": args.epochs}
        if args.max_seconds and time.perf_counter() - STARTED > args.max_seconds:
            result["skipped"] = f"time budget of {args.max_seconds} s spent"
            log(f"{name}: skipped ({result['skipped']})")
            return result
        log(f"{name}: start ({source}, {policy}, hidden {hidden}, jit {jit}, {result['strategy']} "
            f"x{dist.num_replicas_in_sync})")
        try:
            keras.utils.set_random_seed(args.seed)
            options = FitOptions(epochs=args.epochs, learning_rate=args.learning_rate, patience=0, verbose=0,
                                 policy=policy, strategy=dist, jit_compile=jit)
            times = []

            class EpochTimer(keras.callbacks.Callback):
                def on_epoch_begin(self, epoch, logs=None):
                    self.t0 = time.perf_counter()

                def on_epoch_end(self, epoch, logs=None):
                    if logs and "loss" in logs:   # reading the loss waits for the epoch's last step
                        float(logs["loss"])
                    times.append(time.perf_counter() - self.t0)

            with policy_scope(policy):
                with dist.scope():
                    bagging = TrainOptions(ensemble=BaggingOptions(members=args.members),
                                           keras=KerasOptions(hidden=hidden), runtime=RuntimeOptions(seed=args.seed))
                    model = build_ensemble(bagging, self.task, self.compiled.new_embedding_block,
                                           embedding_specs={**self.compiled.embedding_specs,
                                                            **self.compiled.periodic_specs})
                model.build_on(self.x0, options)
                batches = -(-self.rows_per_epoch // args.batch_size)
                if source == "memory":
                    train, steps = self.memory, None
                elif source == "memory_repeated":
                    train, steps = self.memory.repeat(), batches
                else:   # as fit_keras feeds it: "shards" with one iterator for all epochs, "shards_restart" without
                    train, steps = fit_input(model.training_dataset(self.shards_dataset()), dataclasses.replace(
                        options, batches_per_epoch=None if source == "shards_restart" else batches))
                # = fit_keras's compile (Adam, loss scaling under mixed_float16), without its logging callbacks
                with options.scope():
                    model.compile(optimizer=wrap_optimizer(keras.optimizers.Adam(args.learning_rate), policy),
                                  loss=self.task.pointwise_loss, jit_compile=jit)
                history = model.fit(train, epochs=args.epochs, callbacks=[EpochTimer()], verbose=0, shuffle=False,
                                    steps_per_epoch=steps)
            timed = times[1:] if len(times) > 1 else times
            pred = model.predict_dataset(self.test_ds)
            ex_s = self.rows_per_epoch * len(timed) / sum(timed)
            result.update(
                epoch_seconds=times, ex_per_s=ex_s, member_ex_per_s=ex_s * args.members,
                first_epoch_extra_s=times[0] - (sum(timed) / len(timed)) if len(times) > 1 else None,
                loss=[float(v) for v in history.history.get("loss", [])],
                auc=float(roc_auc_score(pred["labels"], pred["predictions"])),
                compute_dtype=str(model.stack.hidden_layers[0].compute_dtype),
                variable_dtypes=sorted({str(v.dtype) for v in model.weights}),
                finite=bool(np.all(np.isfinite(pred["predictions"]))))
            log(f"{name}: {ex_s:,.0f} ex/s, epochs {', '.join(f'{t:.2f}' for t in times)} s, "
                f"test AUC {result['auc']:.4f}")
        except Exception as error:     # one failing setting must not cost the others
            import traceback

            traceback.print_exc()
            result["error"] = f"{type(error).__name__}: {error}"[:2000]
            log(f"{name}: FAILED {result['error'][:300]}")
        finally:
            keras.backend.clear_session()
        return result


# --------------------------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="a tfpipe preprocess DIR (UCI Adult)")
    p.add_argument("--workdir", default="", help="where the resampled DIR is written (default: a temp dir)")
    p.add_argument("--rows", type=int, default=1_000_000, help="train rows after resampling")
    p.add_argument("--shards", type=int, default=16)
    p.add_argument("--epochs", type=int, default=3, help="epochs per setting; the first is not timed")
    p.add_argument("--batch-size", type=int, default=8192)
    p.add_argument("--members", type=int, default=16, help="bagging K")
    p.add_argument("--hidden", type=int, nargs="*", default=[64, 32], help="the narrow member (tfpipe's default)")
    p.add_argument("--wide-hidden", type=int, nargs="*", default=[1024, 1024], help="the wide member")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="train_ensemble's default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--feed-cache", choices=("auto", "records", "preprocessed"), default="auto",
                   help="make_dataset's cache for the shards feed (auto: as train_ensemble)")
    p.add_argument("--no-row-shuffle", action="store_true",
                   help="diagnosis: with the preprocessed cache, shuffle only the chunks' order (no per-epoch gather)")
    p.add_argument("--sources", default="shards,memory",
                   help="part 1 feeds, run in this order per repeat: shards (as train_ensemble: one iterator over the "
                        "repeated data for all epochs), memory (the in-memory batches, a new iterator per epoch), "
                        "memory_repeated (the in-memory batches repeated, one iterator), shards_restart (the shards "
                        "feed with a new iterator per epoch, as before session 7)")
    p.add_argument("--jit", default="off,on", help="part 1: the jit_compile settings to run (off,on / on / off)")
    p.add_argument("--repeats", type=int, default=1,
                   help="part 1: run each (shards, memory) pair this many times, alternating; the ratio is the median "
                        "of the pairs' ratios (the in-memory baseline alone moves by +-8%% between runs)")
    p.add_argument("--parts", default="1,2,3")
    p.add_argument("--policies", default="float32,mixed_float16,mixed_bfloat16")
    p.add_argument("--precision-jit", choices=("auto", "on", "off"), default="auto",
                   help="jit for parts 2 and 3; auto = the faster one of part 1 (shards)")
    p.add_argument("--max-seconds", type=float, default=0, help="skip the settings that would start after this")
    p.add_argument("--cpu-replicas", type=int, default=0,
                   help="testing without GPUs: split the CPU into N logical devices and run part 3 over them")
    p.add_argument("--out", default=os.environ.get("OUT", ""))
    args = p.parse_args(argv)
    if args.no_row_shuffle:      # diagnosis only: the chunk order is shuffled, the rows inside a chunk are not
        from tfpipe.features import dataset as feed

        plain = feed._from_preprocessed_chunks
        feed._from_preprocessed_chunks = lambda chunks, batch_size, shuffle, repeat, seed, drop: plain(
            chunks.shuffle(1 << 16, seed=seed, reshuffle_each_iteration=True) if shuffle else chunks,
            batch_size, False, repeat, seed, drop)
    parts = {int(v) for v in args.parts.split(",") if v.strip()}

    import tensorflow as tf

    if args.cpu_replicas > 1:
        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices("CPU")[0],
            [tf.config.LogicalDeviceConfiguration() for _ in range(args.cpu_replicas)])
    gpus = tf.config.list_physical_devices("GPU")
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(f"{details.get('device_name', 'GPU')} (cc {'.'.join(map(str, details.get('compute_capability', ())))})")
    device = ", ".join(names) if names else "CPU only"
    log(f"device: {device}; TF {tf.__version__}; keras {__import__('keras').__version__}; {os.cpu_count()} CPUs")

    workdir = args.workdir or tempfile.mkdtemp(prefix="gpu_bench_")
    data_dir = os.path.join(workdir, "resampled")
    shutil.rmtree(data_dir, ignore_errors=True)
    start = time.perf_counter()
    manifest = resample_train(args.data, data_dir, args.rows, args.shards, args.seed)
    data_info = {"dir": data_dir, "rows": args.rows, "shards": args.shards, "seconds": time.perf_counter() - start,
                 **manifest["resampled_from"],
                 "bytes": sum(os.path.getsize(os.path.join(data_dir, manifest["shards_dir"], n))
                              for n in manifest["shards"]["train"])}
    log(f"resampled {data_info['train_rows']:,} train rows -> {args.rows:,} in {args.shards} shards "
        f"({data_info['bytes'] / 1e6:.0f} MB, {data_info['unique_rows_picked']:,} distinct) in {data_info['seconds']:.1f} s")

    bench = Bench(args, data_dir)
    memory_info = bench.materialise()
    log(f"in-memory copy: {memory_info['rows']:,} rows, {memory_info['bytes'] / 1e6:.0f} MB, read through the "
        f"shards pipeline at {memory_info['read_ex_per_s']:,.0f} ex/s; features: {bench.features_source}, dense "
        f"{bench.compiled.dense_width}, wide {bench.compiled.wide_width}, {len(bench.compiled.embedding_specs)} "
        f"embeddings, {len(bench.compiled.periodic_specs)} periodic")

    results = []
    summary: dict = {}

    def save():
        if not args.out:
            return
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "gpu_training_benchmark.json"), "w") as f:
            json.dump({"device": device, "tensorflow": tf.__version__, "cpus": os.cpu_count(), "args": vars(args),
                       "data": data_info, "memory": memory_info, "features_source": bench.features_source,
                       "results": results, "summary": summary}, f, indent=2)

    def find(**kw):
        for r in results:
            if all(r.get(k) == v for k, v in kw.items()) and "ex_per_s" in r:
                return r
        return None

    # 1. shards vs in-memory, jit off / on; each pair repeated --repeats times, alternating
    if 1 in parts:
        import statistics as st

        for source in ("shards", "memory"):
            feed = bench.feed_rate(source)
            summary[f"feed_only_ex_per_s_{source}"] = feed["feed_ex_per_s"]
            log(f"feed alone ({source}, no model): {feed['feed_ex_per_s']:,.0f} ex/s, epochs "
                f"{', '.join(f'{t:.2f}' for t in feed['epoch_seconds'])} s")
        sources = [v.strip() for v in args.sources.split(",") if v.strip()]
        for tag in [v.strip() for v in args.jit.split(",") if v.strip()]:
            jit = tag == "on"
            pairs = [(a, b) for a in sources if a.startswith("shards") for b in sources if b.startswith("memory")]
            ratios: dict = {pair: [] for pair in pairs}
            for rep in range(args.repeats):
                suffix = f" #{rep + 1}" if args.repeats > 1 else ""
                group = {}
                for source in sources:
                    group[source] = bench.run(f"1 {source} jit={tag}{suffix}", source, jit=jit)
                    results.append(group[source])
                    save()
                for a, b in pairs:
                    if "ex_per_s" in group[a] and "ex_per_s" in group[b]:
                        ratios[(a, b)].append(group[a]["ex_per_s"] / group[b]["ex_per_s"])
            for (a, b), values in ratios.items():
                if values:
                    summary[f"{a}_over_{b}_jit_{tag}"] = st.median(values)
                    summary[f"{a}_over_{b}_jit_{tag}_runs"] = values
        for source in ("shards", "memory"):
            rates = {jit: [r["ex_per_s"] for r in results if r.get("input") == source and r.get("jit_compile") == jit
                           and r["name"].startswith("1 ") and "ex_per_s" in r] for jit in (False, True)}
            if rates[False] and rates[True]:
                summary[f"jit_on_over_off_{source}"] = st.median(rates[True]) / st.median(rates[False])
        # End to end, XLA first pays its compiles: the steps after which it is ahead (cf. distribute.XLA_MIN_STEPS)
        runs = {jit: [r for r in results if r.get("input") == "shards" and r.get("jit_compile") == jit
                      and "epoch_seconds" in r and len(r["epoch_seconds"]) > 1] for jit in (False, True)}
        if runs[False] and runs[True]:
            steps = -(-bench.rows_per_epoch // args.batch_size)
            first = {jit: st.median(r["epoch_seconds"][0] for r in runs[jit]) for jit in runs}
            step = {jit: st.median(sum(r["epoch_seconds"][1:]) / (len(r["epoch_seconds"]) - 1) / steps
                                   for r in runs[jit]) for jit in runs}
            if step[False] > step[True]:
                summary["xla_break_even_steps"] = (first[True] - first[False]) / (step[False] - step[True])
    if args.precision_jit == "auto":
        best_jit = summary.get("jit_on_over_off_shards", 0.0) > 1.0
    else:
        best_jit = args.precision_jit == "on"
    summary["jit_for_parts_2_3"] = best_jit
    save()

    # 2. precision x width, from the shards
    if 2 in parts:
        for hidden in (tuple(args.hidden), tuple(args.wide_hidden)):
            for policy in args.policies.split(","):
                reuse = find(input="shards", jit_compile=best_jit) \
                    if (policy == "float32" and hidden == tuple(args.hidden)) else None
                if reuse:   # the same setting as part 1 (a): not trained twice
                    results.append({**reuse, "name": f"2 {policy} {'x'.join(map(str, hidden))}", "reused": reuse["name"]})
                else:
                    results.append(bench.run(f"2 {policy} {'x'.join(map(str, hidden))}", "shards", policy=policy,
                                             hidden=hidden, jit=best_jit))
                save()
            base = find(name=f"2 float32 {'x'.join(map(str, hidden))}")
            for policy in args.policies.split(","):
                r = find(name=f"2 {policy} {'x'.join(map(str, hidden))}")
                if base and r and policy != "float32":
                    key = f"{policy}_over_float32_{'x'.join(map(str, hidden))}"
                    summary[key] = r["ex_per_s"] / base["ex_per_s"]
                    summary[f"auc_delta_{policy}_{'x'.join(map(str, hidden))}"] = r["auc"] - base["auc"]

    # 3. MirroredStrategy over all GPUs vs one GPU, same global batch. XLA cannot compile Keras's step under
    # MirroredStrategy (resolve_jit_compile refuses it), so the mirrored run is jit off; it is compared with one
    # device at jit off (scaling) and with one device at the faster jit setting (what --strategy default gives).
    if 3 in parts:
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
        if len(devices) < 2 and args.cpu_replicas > 1:
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        if len(devices) >= 2:
            strategy = tf.distribute.MirroredStrategy(devices=devices)
            singles = {}
            for jit in sorted({False, best_jit}):
                singles[jit] = find(input="shards", jit_compile=jit, policy="float32", hidden=list(args.hidden))
                if singles[jit] is None:
                    singles[jit] = bench.run(f"3 one device jit={'on' if jit else 'off'}", "shards", jit=jit)
                    results.append(singles[jit])
            multi = bench.run(f"3 mirrored x{len(devices)} jit=off", "shards", jit=False, strategy=strategy)
            results.append(multi)
            summary["mirrored_devices"] = len(devices)
            if "ex_per_s" in multi and "ex_per_s" in singles[False]:
                summary["mirrored_scaling"] = multi["ex_per_s"] / singles[False]["ex_per_s"]
            if "ex_per_s" in multi and "ex_per_s" in singles[best_jit]:
                summary["mirrored_over_best_single"] = multi["ex_per_s"] / singles[best_jit]["ex_per_s"]
        else:
            summary["mirrored_scaling"] = f"skipped ({len(devices)} GPU visible)"
    save()

    # ---- table
    lines = [f"device: {device}; TF {tf.__version__}; {os.cpu_count()} CPUs",
             f"data: Adult train {data_info['train_rows']:,} rows resampled -> {bench.rows_per_epoch:,} rows/epoch in "
             f"{args.shards} shards; batch {args.batch_size}; bagging K={args.members} wide_deep; {args.epochs} epochs "
             f"(epoch 1 untimed); lr {args.learning_rate}; test split {bench.test_rows():,} rows; shards feed cache: "
             f"{args.feed_cache}",
             "| setting | input | hidden | precision | jit | ex/s | member-ex/s | epoch 1 s | timed epochs s | test AUC |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "ex_per_s" in r:
            lines.append(f"| {r['name']}{' (= ' + r['reused'] + ')' if r.get('reused') else ''} | {r['input']} | "
                         f"{'x'.join(map(str, r['hidden']))} | {r['policy']} | {'on' if r['jit_compile'] else 'off'} | "
                         f"{r['ex_per_s']:,.0f} | {r['member_ex_per_s']:,.0f} | {r['epoch_seconds'][0]:.2f} | "
                         f"{', '.join(f'{t:.2f}' for t in r['epoch_seconds'][1:])} | {r['auc']:.4f} |")
        else:
            lines.append(f"| {r['name']} | {r['input']} | {'x'.join(map(str, r['hidden']))} | {r['policy']} | "
                         f"{'on' if r['jit_compile'] else 'off'} | {r.get('error') or r.get('skipped')} | | | | |")
    lines.append("")
    for a, b in [(a, b) for a in ("shards", "shards_restart") for b in ("memory", "memory_repeated")]:
        for jit in ("off", "on"):
            v = summary.get(f"{a}_over_{b}_jit_{jit}")
            runs = summary.get(f"{a}_over_{b}_jit_{jit}_runs") or []
            if v is None and (a, b) != ("shards", "memory"):
                continue
            lines.append(f"{a} / {b}, jit {jit}: " + (f"{v:.3f} (goal >= 0.90)" if v is not None else "n/a")
                         + (f"; median of {len(runs)} alternating runs: {', '.join(f'{r:.3f}' for r in runs)}"
                            if len(runs) > 1 else ""))
    for source in ("shards", "memory"):
        v = summary.get(f"feed_only_ex_per_s_{source}")
        if v is not None:
            lines.append(f"feed alone, no model ({source}): {v:,.0f} ex/s")
    for source in ("shards", "memory"):
        v = summary.get(f"jit_on_over_off_{source}")
        lines.append(f"jit on / off ({source}): " + (f"{v:.3f} -> jit {'on' if v > 1 else 'off'} faster"
                                                    if v is not None else "n/a"))
    if summary.get("xla_break_even_steps") is not None:
        lines.append(f"XLA end to end (shards): its compiles are paid back after "
                     f"{summary['xla_break_even_steps']:,.0f} steps of batch {args.batch_size}")
    lines.append(f"parts 2/3 ran with jit {'on' if best_jit else 'off'}")
    for hidden in (tuple(args.hidden), tuple(args.wide_hidden)):
        h = "x".join(map(str, hidden))
        for policy in args.policies.split(","):
            if policy == "float32":
                continue
            v, d = summary.get(f"{policy}_over_float32_{h}"), summary.get(f"auc_delta_{policy}_{h}")
            if v is not None:
                lines.append(f"hidden {h}: {policy} / float32 = {v:.2f}x, AUC delta {d:+.4f} "
                             f"({'within' if abs(d) <= 0.001 else 'outside'} +-0.001)")
    ms = summary.get("mirrored_scaling")
    lines.append("MirroredStrategy vs one GPU (same global batch, jit off both): " +
                 (f"{ms:.2f}x over {summary.get('mirrored_devices')} devices (goal >= 1.8x)" if isinstance(ms, float)
                  else str(ms) if ms is not None else "not run"))
    mb = summary.get("mirrored_over_best_single")
    if mb is not None:
        lines.append(f"MirroredStrategy (jit off) vs one GPU at jit {'on' if best_jit else 'off'}: {mb:.2f}x -> "
                     f"{'mirrored' if mb > 1 else 'one device'} is faster for this model")
    table = "\n".join(lines)
    summary["seconds_total"] = time.perf_counter() - STARTED
    save()
    if args.out:
        with open(os.path.join(args.out, "gpu_training_benchmark.md"), "w") as f:
            f.write(table + "\n")
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    print(table, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
