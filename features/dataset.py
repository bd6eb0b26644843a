"""The training/evaluation input pipeline over the shards of ``tfpipe preprocess``.

shards (shuffled with the seed) → parallel interleave of ``TFRecordDataset`` (blocks per shard; rows chosen by
example key there: ``keep`` / a worker's part) → cache → shuffle → repeat → batch → parallel map(``parse_example``
+ label + preprocessor + example key) → prefetch. ``cache="preprocessed"`` caches after the map instead.

Example (``adult``: a ``tfpipe preprocess`` output directory of Adult rows; label ``income``)::

    >>> from tfpipe import features as tff
    >>> definitions = [tff.numeric_column("age"), tff.categorical_column_with_vocabulary_list("sex")]
    >>> compiled = tff.compile_features(tff.fit(definitions, adult))
    >>> ds = make_dataset(adult, "train", compiled, batch_size=512, read=ReadOptions(shuffle=True, seed=1))
    >>> inputs, label = next(iter(ds))
    >>> sorted(inputs), label.shape, label.dtype.name
    (['dense', 'embedding_ids', 'example_key', 'periodic', 'tree', 'wide'], TensorShape([512]), 'int64')
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import tensorflow as tf

from tfpipe.features import artifacts
from tfpipe.features.compile import CompiledFeatures, compile_features
from tfpipe.features.definitions import is_fitted
from tfpipe.features.graph import plain
from tfpipe.features.fitting import fit
from tfpipe.features.label import LabelSpec, fit_label

EXAMPLE_KEY_BUCKETS = 2**62
SHUFFLE_BLOCK = 32   # records that stay together when shuffling (consecutive in a shard, i.e. in input order)
CHUNK_ROWS = 65536   # cache="preprocessed": rows cached together; shuffled within each epoch
PREPROCESS_ROWS = 8192   # ... preprocessed this many at a time, then packed into chunks: what is in flight while
                         # the cache fills is a few of these (float32 wide block: 8192 x 4 B a column), not chunks
                         # (1M wide-table rows: peak 1.8 GB instead of 3.9 GB, and epoch 1 28 s instead of 43 s)
PREPROCESSED_OVERHEAD = 2.0   # resident / tensor bytes of the cache, measured: 1.1 GB for 1M wide-table rows
KeyFilter = Callable[[tf.Tensor], tf.Tensor]   # int64 example keys [N] -> bool mask [N] of the rows to read


@dataclasses.dataclass(frozen=True)
class ReadOptions:
    """How a split is read (:func:`record_batches`, :func:`make_dataset`), beside which split and in what batch
    size. Checked on creation.

    - ``shuffle``: the shard files and blocks of ``SHUFFLE_BLOCK`` consecutive records, every epoch (``seed``);
      ``repeat``: forever; ``shuffle_buffer``: records in the shuffle buffer;
    - ``deterministic`` (implied by ``seed``): a fixed order;
    - ``cache``: True (memory) or a file prefix caches the serialized records (parsed and preprocessed again every
      epoch); ``"preprocessed"`` (:func:`make_dataset` only) caches the preprocessor's output in memory instead,
      in chunks of ``CHUNK_ROWS`` consecutive records, so that later epochs only shuffle and batch tensors (the
      fastest feed; costs about 4 bytes per preprocessed float per row of RAM, see :func:`preprocessed_bytes`);
      with ``shuffle`` it shuffles the chunks' order and the rows inside each chunk every epoch (seeded,
      stateless: the same seed gives the same batches);
    - ``drop_remainder``: the last batch is full too, or it is dropped (every other batch is always full);
    - ``shard=(index, count)``: only this reader's part of the split, for one of ``count`` data-parallel
      workers — every ``count``-th shard file when there are at least ``count`` files, otherwise the examples
      whose key is ``index`` modulo ``count`` (every worker reads the files then, and keeps its own rows); the
      parts are disjoint and cover the split;
    - ``keep``: a function of the int64 example keys ``[N]`` returning a bool mask ``[N]``: only the rows it keeps
      are read (e.g. a hash carve-out of an eval set).

    ``shard`` and ``keep`` choose rows *before* batching, so every batch but the last is full: a batch size that
    changes from step to step would make XLA (``jit_compile``) compile the training step again for each new size
    (measured: 10x slower training).

    >>> ReadOptions(shuffle=True, seed=3).deterministic
    True
    >>> ReadOptions(shard=(2, 2))
    Traceback (most recent call last):
    ...
    ValueError: ReadOptions.shard must be (index, count) with 0 <= index < count, got (2, 2)
    """

    shuffle: bool = False
    repeat: bool = False
    seed: int | None = None
    cache: bool | str = False
    deterministic: bool = False
    shuffle_buffer: int = 10_000
    drop_remainder: bool = False
    shard: tuple[int, int] | None = None
    keep: KeyFilter | None = None

    def __post_init__(self):
        if self.seed is not None:
            object.__setattr__(self, "deterministic", True)
        if not (isinstance(self.cache, bool) or isinstance(self.cache, str)):
            raise ValueError(f"ReadOptions.cache must be True, False, a file prefix or 'preprocessed', "
                             f"got {self.cache!r}")
        if not (isinstance(self.shuffle_buffer, int) and self.shuffle_buffer >= 1):
            raise ValueError(f"ReadOptions.shuffle_buffer must be an integer >= 1, got {self.shuffle_buffer!r}")
        if self.shard is not None:
            index, count = self.shard
            if not 0 <= index < count:
                raise ValueError(f"ReadOptions.shard must be (index, count) with 0 <= index < count, "
                                 f"got {self.shard}")
            object.__setattr__(self, "shard", (int(index), int(count)))


def example_key(serialized: tf.Tensor) -> tf.Tensor:
    """Stable int64 key of serialized examples: ``to_hash_bucket_fast(serialized, 2**62)`` (FarmHash64)."""
    return tf.strings.to_hash_bucket_fast(serialized, EXAMPLE_KEY_BUCKETS)


def resolve_label(data_dir: str, split: str, label) -> LabelSpec | None:
    """``"auto"`` → the manifest label (None if it has none); a column name → :func:`fit_label`; a LabelSpec as is.

    Statistics of ``split`` are used, falling back to ``"train"``.
    """
    if label is None or isinstance(label, LabelSpec):
        return label
    if label == "auto":
        label = artifacts.load_manifest(data_dir).get("label")
        if not label:
            return None
    statistics = artifacts.load_statistics(data_dir)
    names = [d.name for d in statistics.datasets]
    stats_split = "train" if "train" in names else (split if split in names else None)
    return fit_label(artifacts.load_schema(data_dir), statistics, label, split=stats_split)


def _compiled(data_dir: str, features, label_spec) -> CompiledFeatures:
    if isinstance(features, CompiledFeatures):
        return features
    definitions = tuple(features)
    if not is_fitted(definitions):
        definitions = fit(definitions, artifacts.load_statistics(data_dir), schema=artifacts.load_schema(data_dir))
    return compile_features(definitions, label_spec=label_spec)


def record_batches(data_dir: str, split: str, batch_size: int, read: ReadOptions = ReadOptions()) -> tf.data.Dataset:
    """Batches of serialized ``tf.Example`` strings of a split, read as ``read`` says (:class:`ReadOptions`): the
    one reader of the shards (training, evaluation and prediction all read through it).

    Example (``adult``: a ``tfpipe preprocess`` output directory; its test split has 1000 rows in one shard)::

        >>> [int(batch.shape[0]) for batch in record_batches(adult, "test", 400)]
        [400, 400, 200]
        >>> odd = lambda keys: keys % 2 == 1                  # rows chosen before batching: batches stay full
        >>> sizes = [int(batch.shape[0]) for batch in record_batches(adult, "test", 200, ReadOptions(keep=odd))]
        >>> set(sizes[:-1]), 0 < sizes[-1] <= 200, 400 < sum(sizes) < 600
        ({200}, True, True)
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if read.cache == "preprocessed":
        raise ValueError("record_batches reads records: cache='preprocessed' is make_dataset's")
    shuffle, seed, keep, deterministic = read.shuffle, read.seed, read.keep, read.deterministic
    from tfpipe.features import remote_shards
    from tfpipe.pipelines import storage

    paths = artifacts.shard_paths(data_dir, split)
    compression = artifacts.compression_type(data_dir)
    autotune = tf.data.AUTOTUNE
    if read.shard is not None:
        index, count = read.shard
        if len(paths) >= count:
            paths = paths[index::count]
        elif count > 1:   # this worker's rows by key (and of those, what ``keep`` keeps)
            given = keep

            def part(keys):
                return tf.equal(keys % count, index)

            keep = part if given is None else (lambda keys: tf.logical_and(part(keys), given(keys)))

    def chosen(records):
        return tf.boolean_mask(records, keep(example_key(records)))

    paths = remote_shards.readable_paths(paths)   # local copies where --cache-dir holds them
    on_store = not all(storage.is_local(path) for path in paths)
    files = tf.data.Dataset.from_tensor_slices(paths)
    if shuffle and len(paths) > 1:
        files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def read_shard(path):
        # Batch inside each shard: blocks of SHUFFLE_BLOCK records when shuffling, whole batches otherwise; no
        # per-record step after this one (tf.data costs ~2 us per element: per-record shuffling capped the feed
        # at ~0.4 M ex/s on 16 cores, 60% of what an H100 trains at). Filters drop rows inside the blocks.
        size = SHUFFLE_BLOCK if shuffle else batch_size
        if on_store:   # no TensorFlow filesystem for the store: ranged reads in Python, the same blocks
            blocks = remote_shards.record_blocks(path, size, compression)
        else:
            blocks = tf.data.TFRecordDataset(path, compression_type=compression, buffer_size=1 << 20).batch(size)
        return blocks if keep is None else blocks.map(plain(chosen))

    elements = files.interleave(plain(read_shard), cycle_length=max(1, min(len(paths), 4)), block_length=1,
                                num_parallel_calls=autotune, deterministic=deterministic)
    if read.cache:
        elements = elements.cache(read.cache if isinstance(read.cache, str) else "")
    if shuffle:   # blocks are shuffled, then joined into batches: a batch is batch_size/SHUFFLE_BLOCK random blocks
        elements = elements.shuffle(max(1, read.shuffle_buffer // SHUFFLE_BLOCK), seed=seed,
                                    reshuffle_each_iteration=True)
    if read.repeat:
        elements = elements.repeat()
    if shuffle or read.drop_remainder or keep is not None or len(paths) > 1:
        # Full batches: a shard's (or a filter's) short last batch in the middle would be one more batch shape
        # for XLA to compile (jit_compile compiles the train / eval step once per shape).
        batches = elements.rebatch(batch_size, drop_remainder=read.drop_remainder)
    else:
        batches = elements
    return batches


def make_dataset(data_dir: str, split: str, features: CompiledFeatures | Sequence, batch_size: int, *,
                 label="auto", blocks: str = "all", read: ReadOptions = ReadOptions()) -> tf.data.Dataset:
    """Batches ``(inputs, label)`` of a split (``inputs`` only when ``label=None``), read as ``read`` says
    (:class:`ReadOptions`: shuffling, caching, a worker's part, a key filter).

    ``inputs`` = the preprocessor output (``dense``, ``wide``, ``embedding_ids``) + ``example_key`` int64 [B].
    ``label``: ``"auto"`` (manifest label), a column name, a :class:`LabelSpec`, or None. Examples whose label
    is unknown or missing are dropped (batches can then be smaller than ``batch_size``). ``features``: a
    :class:`CompiledFeatures` or definitions (fitted from ``data_dir`` if needed). Every batch but the last has
    ``batch_size`` rows. ``blocks="tree"`` computes only the ``tree`` block (raw numbers and category ids for
    gradient-boosted trees) and the example key: a cheaper feed.

    Example::

        >>> from tfpipe import features as tff
        >>> compiled = tff.compile_features(tff.fit([tff.numeric_column("age")], adult))
        >>> [batch["dense"].shape for batch in make_dataset(adult, "test", compiled, 1024, label=None)]
        [TensorShape([1000, 1])]
    """
    if blocks not in ("all", "tree"):
        raise ValueError(f"blocks must be 'all' or 'tree', got {blocks!r}")
    label_spec = resolve_label(data_dir, split, label)
    compiled = _compiled(data_dir, features, label_spec)
    deterministic = read.deterministic
    if read.cache == "preprocessed":
        batches = record_batches(data_dir, split, PREPROCESS_ROWS,
                                 ReadOptions(deterministic=True, shard=read.shard, keep=read.keep))
    else:
        batches = record_batches(data_dir, split, batch_size, read)
    spec = dict(compiled.parse_spec)
    if label_spec is not None:
        spec.update(label_spec.parse_spec())
    preprocessor = compiled.preprocessor

    def preprocess(parsed):
        if blocks == "tree":
            return {"tree": preprocessor.tree_block(parsed)}
        return dict(preprocessor(parsed, training=False))

    def transform(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        keys = example_key(serialized)
        if label_spec is None:
            inputs = preprocess(parsed)
            inputs["example_key"] = keys
            return inputs
        encoded = label_spec.encode(parsed.pop(label_spec.name))
        valid = label_spec.is_valid(encoded)
        parsed, keys, encoded = tf.cond(
            tf.reduce_all(valid), lambda: (parsed, keys, encoded),
            lambda: tf.nest.map_structure(lambda t: tf.boolean_mask(t, valid), (parsed, keys, encoded)))
        inputs = preprocess(parsed)
        inputs["example_key"] = keys
        return inputs, encoded

    autotune = tf.data.AUTOTUNE
    dataset = batches.map(plain(transform), num_parallel_calls=autotune, deterministic=deterministic)
    if read.cache == "preprocessed":
        if blocks == "all":   # held compact in the cache (exact), as the model takes them again after batching
            packed = one_hot_wide(compiled)
            dataset = dataset.map(plain(lambda *batch: _compact(batch, packed)), num_parallel_calls=autotune)
        dataset = dataset.rebatch(CHUNK_ROWS)   # batches of PREPROCESS_ROWS (fewer: invalid labels) -> chunks
        dataset = _from_preprocessed_chunks(dataset.cache(), batch_size, read)
        if blocks == "all":
            width = compiled.wide_width
            dataset = dataset.map(plain(lambda *batch: _expand(batch, packed, width)), num_parallel_calls=autotune)
    options = tf.data.Options()
    options.deterministic = deterministic
    return dataset.with_options(options).prefetch(autotune)


def _from_preprocessed_chunks(chunks: tf.data.Dataset, batch_size: int, read: ReadOptions) -> tf.data.Dataset:
    """Batches of ``batch_size`` from cached preprocessed chunks: per epoch, the chunks in a shuffled order and the
    rows of each chunk permuted (``stateless_shuffle`` seeded by a per-epoch random stream), then rebatched. A few
    elements per epoch instead of one per block of records: tf.data's per-element cost stays out of the feed."""
    if read.shuffle:
        chunks = chunks.shuffle(1 << 16, seed=read.seed, reshuffle_each_iteration=True)
    if read.repeat:
        chunks = chunks.repeat()
    if read.shuffle:
        randoms = tf.data.Dataset.random(seed=read.seed, rerandomize_each_iteration=True)

        def permute(chunk, random):
            rows = tf.shape(tf.nest.flatten(chunk)[0])[0]
            order = tf.random.experimental.stateless_shuffle(tf.range(rows), seed=tf.stack([random, random // 7 + 1]))
            return tf.nest.map_structure(lambda t: tf.gather(t, order), chunk)

        chunks = tf.data.Dataset.zip((chunks, randoms)).map(plain(permute), num_parallel_calls=tf.data.AUTOTUNE)
    return chunks.rebatch(batch_size, drop_remainder=read.drop_remainder)


def one_hot_wide(compiled: CompiledFeatures) -> bool:
    """True when every ``wide`` value is 0 or 1: every input column is single-valued (a list column can repeat
    an id, giving counts > 1), so each wide column holds at most one id."""
    return all(isinstance(f, tf.io.FixedLenFeature) for f in compiled.parse_spec.values())


_BITS = tf.constant([1, 2, 4, 8, 16, 32, 64, 128], tf.int32)


def _compact(batch, packed: bool):
    """A preprocessed batch as the cache holds it: a 0/1 ``wide`` block (``packed``, :func:`one_hot_wide`) as 8
    columns a byte, embedding ids as int32 (ids are < 2**31: a vocabulary that large could not be embedded).
    Exact: :func:`_expand` gives the same tensors back. The wide table's 1,186 one-hot columns take 149 bytes a
    row instead of 4,744 as float32.

    >>> wide = tf.constant([[1., 0., 1., 0., 0., 0., 0., 0., 0., 1.]])
    >>> ids = {"c": tf.constant([[3]], tf.int64)}
    >>> cached = _compact(({"wide": wide, "embedding_ids": ids},), packed=True)
    >>> cached[0]["wide"].numpy().tolist(), cached[0]["embedding_ids"]["c"].dtype.name
    ([[5, 2]], 'int32')
    >>> back = _expand(cached, packed=True, width=10)[0]
    >>> bool(tf.reduce_all(back["wide"] == wide)), back["embedding_ids"]["c"].dtype.name
    (True, 'int64')
    """
    inputs = dict(batch[0])
    if packed and "wide" in inputs:
        wide = tf.cast(inputs["wide"], tf.int32)
        rows, width = tf.shape(wide)[0], tf.shape(wide)[1]
        wide = tf.pad(wide, [[0, 0], [0, (-width) % 8]])
        inputs["wide"] = tf.cast(tf.reduce_sum(tf.reshape(wide, [rows, -1, 8]) * _BITS, axis=-1), tf.uint8)
    if "embedding_ids" in inputs:
        inputs["embedding_ids"] = {k: tf.cast(v, tf.int32) for k, v in inputs["embedding_ids"].items()}
    return (inputs, *batch[1:])


def _expand(batch, packed: bool, width: int):
    """The inverse of :func:`_compact` on a batch of the cache: float32 ``wide`` of ``width`` columns, int64 ids."""
    inputs = dict(batch[0])
    if packed and "wide" in inputs:
        bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(tf.cast(inputs["wide"], tf.int32)[:, :, None],
                                                             tf.range(8)), 1)
        inputs["wide"] = tf.cast(tf.reshape(bits, [tf.shape(bits)[0], -1])[:, :width], tf.float32)
    if "embedding_ids" in inputs:
        inputs["embedding_ids"] = {k: tf.cast(v, tf.int64) for k, v in inputs["embedding_ids"].items()}
    return (inputs, *batch[1:])


def preprocessed_bytes(compiled: CompiledFeatures, rows: int) -> int:
    """About how many bytes ``cache="preprocessed"`` holds for ``rows`` rows of ``compiled``'s output (float32
    blocks — the ``wide`` block 8 columns a byte when it is one-hot, :func:`_compact` —, int32 embedding ids, the
    example key and the label), times :data:`PREPROCESSED_OVERHEAD`."""
    wide = -(-compiled.wide_width // 8) if one_hot_wide(compiled) else 4 * compiled.wide_width
    floats = compiled.dense_width + compiled.tree_width + len(compiled.periodic_specs)
    ids = len(compiled.embedding_specs)
    return int(PREPROCESSED_OVERHEAD * int(rows) * (4 * floats + wide + 4 * ids + 16))


def default_cache_budget(memory_fraction: float = 0.25) -> int:
    """Bytes all of training's in-memory caches may take together by default: a quarter of this machine's RAM
    (1 GiB where the RAM cannot be read)."""
    import os

    try:
        return int(memory_fraction * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def split_record_bytes(data_dir: str, split: str) -> int:
    """About how many bytes the serialized records of ``split`` take in memory: the shards' sizes on the store
    (x4 for compressed shards, a typical ratio of gzip on tf.Example)."""
    from tfpipe.pipelines import storage

    total = sum(storage.size(path) for path in artifacts.shard_paths(data_dir, split))
    return total * (4 if artifacts.compression_type(data_dir) else 1)


def choose_cache(compiled: CompiledFeatures, rows: int, record_bytes: int, budget: int) -> bool | str:
    """The ``cache`` of a training split under a memory ``budget`` in bytes: ``"preprocessed"`` when that fits
    (:func:`preprocessed_bytes`; the fastest epochs), else ``True`` when the serialized records fit (parsed and
    preprocessed again every epoch), else ``False``: every epoch streams from the shards (bounded memory: a few
    batches in flight, whatever the split's size).

    >>> from tfpipe import features as tff
    >>> compiled = tff.compile_features(tff.fit([tff.numeric_column("age")], adult))
    >>> choose_cache(compiled, 1000, 100_000, 1 << 30), choose_cache(compiled, 1000, 20_000, 22_000)
    ('preprocessed', True)
    >>> choose_cache(compiled, 1000, 100_000, 0)
    False
    """
    if preprocessed_bytes(compiled, rows) <= budget:
        return "preprocessed"
    return record_bytes <= budget
