"""Shards on object stores (``s3://``, ``gs://``, ``azfs://``, ...) as ``tf.data`` sources, and a bounded local cache.

TensorFlow 2.21 opens local paths and ``gs://`` only; tensorflow-io, which added ``s3://``, stopped at TF 2.16.
So :func:`record_blocks` reads a shard through :mod:`tfpipe.pipelines.storage` (Beam's FileSystems, one cached
S3 client a process) with :func:`tfpipe.pipelines.tfrecord.read_record_blocks`: 16 MiB ranged reads fetched two
ahead by a thread, framing and CRCs checked in Python (~1 us a record), handed to ``tf.data`` a block of
records at a time (``from_generator``: one Python call per block, not per record). The blocks are the ones
``TFRecordDataset(path).batch(block)`` gives, so a split read from a store yields the same batches, in the same
seeded order, as the same split on local disk. The training reader (:func:`tfpipe.features.dataset.record_batches`)
interleaves several shards at once, so several ranged reads are in flight.

Nothing is staged on local disk unless asked: :func:`configure_cache` (``--cache-dir DIR``, bounded by
``--cache-dir-bytes``) keeps a local copy of each shard read, named by a hash of its path and size, written
atomically (a temporary name, then a rename) and evicted least-recently-used, only ever among the files this
cache wrote. When every shard of a split is in the cache, ``TFRecordDataset`` reads the local copies.

Example (``adult``: a ``tfpipe preprocess`` output directory; any store path reads the same way)::

    >>> from tfpipe.pipelines.artifacts import shard_paths
    >>> path = shard_paths(adult, "test")[0]
    >>> [int(block.shape[0]) for block in record_blocks(path, 400)]
    [400, 400, 200]
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from tfpipe.pipelines import storage   # TensorFlow is imported where it is used: the CLI flags below need none

CACHE_SUFFIX = ".tfpipe-shard"   # the cache's own files: nothing else in the directory is ever deleted


def record_blocks(path, block: int, compression: str = ""):
    """The records of one shard on any store as a ``tf.data.Dataset`` of ``tf.string [<= block]`` elements
    (``path`` may be a tensor, as inside ``interleave``): what ``TFRecordDataset(path).batch(block)`` gives.

    Python hands ``tf.data`` one element per ~16 MiB read (the bytes, and each record's offset and length, from
    :func:`~tfpipe.pipelines.tfrecord.read_record_spans`, a multiple of ``block`` records each); one
    ``tf.strings.substr`` per block cuts its records out in C++. Measured on the 250k-row wide table from the S3
    server here: the earlier one-element-per-block generator read 12k records/s, this reads what the store sends.
    (Not ``rebatch``: its blocks are slices of one buffer, and a later ``rebatch`` of those logs a TensorFlow
    error line per batch, "Tensor RefCount not reliable if buf_ points to a SubBuffer".)"""
    import tensorflow as tf

    from tfpipe.features.graph import plain
    from tfpipe.pipelines.tfrecord import read_record_spans

    def generate(path_bytes, size, kind):
        yield from read_record_spans(path_bytes.decode("utf-8"), kind.decode("ascii") or "none",
                                     multiple=int(size))

    def cut(buffer, starts, lengths):
        firsts = tf.range(0, tf.shape(starts, out_type=tf.int64)[0], block)
        return tf.data.Dataset.from_tensor_slices(firsts).map(plain(
            lambda first: tf.strings.substr(buffer, starts[first:first + block], lengths[first:first + block])))

    spans = tf.data.Dataset.from_generator(plain(generate), args=(path, tf.constant(block, tf.int64), compression),
                                           output_signature=(tf.TensorSpec([], tf.string),
                                                             tf.TensorSpec([None], tf.int64),
                                                             tf.TensorSpec([None], tf.int64)))
    return spans.flat_map(plain(cut))


@dataclasses.dataclass(frozen=True)
class ShardCache:
    """A local directory holding copies of remote shards, at most ``max_bytes`` of them together."""

    directory: str
    max_bytes: int

    def __post_init__(self):
        if not storage.is_local(self.directory):
            raise ValueError(f"--cache-dir must be a local directory, got {self.directory!r}")
        if self.max_bytes < 0:
            raise ValueError(f"the cache size must be >= 0 bytes, got {self.max_bytes}")

    def name(self, path: str, size: int) -> str:
        digest = hashlib.sha256(f"{path}\0{size}".encode("utf-8")).hexdigest()[:32]
        return os.path.join(self.directory, digest + CACHE_SUFFIX)

    def entries(self) -> list[tuple[float, int, str]]:
        """(last use, bytes, path) of the cache's own files, oldest first."""
        found = []
        if os.path.isdir(self.directory):
            for entry in os.scandir(self.directory):
                if entry.name.endswith(CACHE_SUFFIX) and entry.is_file():
                    stat = entry.stat()
                    found.append((stat.st_mtime, stat.st_size, entry.path))
        return sorted(found)

    def local_copies(self, paths: list[str], workers: int = 8) -> list[str]:
        """``paths`` with each remote shard replaced by its local copy, fetched now (``workers`` at once) where
        it fits beside what is kept; shards that would not fit stay remote (read from the store)."""
        remote = [path for path in paths if not storage.is_local(path)]
        if not remote:
            return list(paths)
        os.makedirs(self.directory, exist_ok=True)
        with _LOCK:
            sizes = {path: storage.size(path) for path in remote}
            wanted = {path: self.name(path, sizes[path]) for path in remote}
            present = {path for path, local in wanted.items() if os.path.isfile(local)}
            for path in present:
                os.utime(wanted[path])   # recently used
            needed = sum(sizes[path] for path in remote if path not in present)
            held = self.entries()
            used = sum(size for _, size, _ in held)
            keep = {wanted[path] for path in present}
            for _, size, local in held:   # least recently used first, never a shard this split needs
                if used + needed <= self.max_bytes:
                    break
                if local not in keep:
                    os.remove(local)
                    used -= size
            room, fetch = self.max_bytes - used, []
            for path in remote:
                if path not in present and sizes[path] <= room:
                    fetch.append(path)
                    room -= sizes[path]
            with ThreadPoolExecutor(max(1, min(workers, len(fetch) or 1))) as pool:
                list(pool.map(lambda path: _download(path, wanted[path]), fetch))
            cached = present | set(fetch)
        return [wanted[path] if path in cached else path for path in paths]


def _download(path: str, local: str) -> None:
    partial = f"{local}.{uuid.uuid4().hex[:8]}.partial"
    try:
        with storage.open_read(path) as source, open(partial, "wb") as target:
            storage.copy_stream(source, target)
        os.replace(partial, local)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


_LOCK = threading.Lock()
_CACHE: list = [None]


def configure_cache(directory: str | None, max_bytes: int | None = None) -> ShardCache | None:
    """Sets (or, with None, clears) this process's shard cache; ``max_bytes`` defaults to half the free space
    of the disk holding ``directory``."""
    if directory is None:
        _CACHE[0] = None
        return None
    directory = os.path.abspath(os.path.expanduser(directory))
    if max_bytes is None:
        os.makedirs(directory, exist_ok=True)
        stat = os.statvfs(directory)
        max_bytes = stat.f_bavail * stat.f_frsize // 2
    _CACHE[0] = ShardCache(directory, int(max_bytes))
    return _CACHE[0]


def readable_paths(paths: list[str]) -> list[str]:
    """What the reader opens for ``paths``: local copies from the configured cache where there is one."""
    cache = _CACHE[0]
    return cache.local_copies(paths) if cache is not None else list(paths)


def add_cache_dir_flags(p) -> None:
    """``--cache-dir`` / ``--cache-dir-bytes``: a bounded local copy of shards read from a store."""
    p.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="keep local copies of the shards read from an object store here (default: none, every "
                        "epoch reads the store)")
    p.add_argument("--cache-dir-bytes", default=None, metavar="BYTES",
                   help="at most this much in --cache-dir, e.g. 20G (default: half its disk's free space)")


def configure_cache_dir(args) -> None:
    """Applies :func:`add_cache_dir_flags`'s flags to this process."""
    if getattr(args, "cache_dir", None):
        size = None if args.cache_dir_bytes is None else storage.parse_bytes(args.cache_dir_bytes, "--cache-dir-bytes")
        configure_cache(args.cache_dir, size)

