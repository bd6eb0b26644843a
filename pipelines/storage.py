"""File access for the preprocess job on any store Beam knows: local disk, ``gs://``, ``s3://``, ``hdfs://``, ``azfs://``.

Everything the job reads or writes (inputs, pieces, shards, statistics, schema, rejected rows, manifest,
report) goes through these few functions, which are Beam's :class:`~apache_beam.io.filesystems.FileSystems`
plus the two things it leaves to the caller: a clear error naming the pip extra when no installed filesystem
handles a scheme, and parent directories for local files. Local paths keep their fast paths (kernel copy,
rename) in the callers that need them; :func:`is_local` tells which.

Object-store options (``--s3_endpoint_url``, credentials, ``--project``) reach Beam's filesystems through
:func:`configure`, called once by the driver with the job's pipeline options (workers get them with the job).

Example::

    >>> import tempfile
    >>> base = tempfile.mkdtemp()
    >>> write_bytes(join(base, "a", "b.txt"), b"hi")
    >>> [(path.endswith("b.txt"), size) for path, size in match(join(base, "a", "*.txt"))]
    [(True, 2)]
    >>> read_bytes(join(base, "a", "b.txt"))
    b'hi'
    >>> check_supported("s4://bucket/x")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    tfpipe.pipelines.storage.UnsupportedPath: s4://bucket/x: no installed filesystem handles 's4://' ...
"""
from __future__ import annotations

import io
import os
import re
from typing import Iterable, Optional

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

# scheme -> what to install for it (Beam's extra; tfpipe re-exports the same names as its own extras)
EXTRAS = {"gs": "tfpipe[gcp]  (apache-beam[gcp])", "s3": "tfpipe[aws]  (apache-beam[aws])",
          "azfs": "tfpipe[azure]  (apache-beam[azure])", "hdfs": "hdfs  (the HdfsCLI package)"}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_UNCOMPRESSED = CompressionTypes.UNCOMPRESSED


class UnsupportedPath(ValueError):
    """A path whose scheme no installed Beam filesystem handles."""


def scheme(path: str) -> Optional[str]:
    """``'s3'`` for ``s3://b/k``; None for a local path."""
    found = _SCHEME.match(path)
    return found.group(1).lower() if found else None


def is_local(path: str) -> bool:
    return scheme(path) in (None, "file")


def check_supported(path: str) -> str:
    """Returns ``path``; raises :class:`UnsupportedPath` naming what to install when its scheme is unknown."""
    if is_local(path):
        return path
    try:
        FileSystems.get_filesystem(path)
    except ValueError:
        name = scheme(path)
        hint = EXTRAS.get(name)
        install = f"pip install {hint.split()[0]}" if hint else "a Beam filesystem for it"
        raise UnsupportedPath(f"{path}: no installed filesystem handles '{name}://'; install {install}"
                              + (f" — {hint}" if hint else "")) from None
    return path


def configure(pipeline_options) -> None:
    """Gives Beam's filesystems the job's options (S3 endpoint and keys, GCP project, ...) in this process."""
    FileSystems.set_options(pipeline_options)


def absolute(path: str) -> str:
    """Local paths made absolute (workers may run elsewhere); URLs unchanged."""
    if scheme(path) == "file":
        path = path[len("file://"):]
    return os.path.abspath(path) if is_local(path) else path.rstrip("/")


def join(base: str, *parts: str) -> str:
    return os.path.join(base, *parts) if is_local(base) else FileSystems.join(base, *parts)


def dirname(path: str) -> str:
    return os.path.dirname(path) if is_local(path) else FileSystems.split(path)[0]


def basename(path: str) -> str:
    return os.path.basename(path) if is_local(path) else FileSystems.split(path)[1]


def match(pattern: str) -> list[tuple[str, int]]:
    """(path, size) of every file matching a path or glob, sorted; [] when none."""
    if is_local(pattern):
        import glob

        paths = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        return [(path, os.path.getsize(path)) for path in paths if os.path.isfile(path)]
    check_supported(pattern)
    try:
        result = FileSystems.match([pattern])[0]
    except Exception:   # Beam raises BeamIOError for "nothing there" on some stores
        return []
    return sorted((meta.path, meta.size_in_bytes) for meta in result.metadata_list
                  if not meta.path.endswith("/"))


def list_files(prefix: str) -> list[str]:
    """Every file under a directory / prefix (recursive), sorted."""
    if is_local(prefix):
        found = []
        for root, _, names in os.walk(prefix):
            found.extend(os.path.join(root, name) for name in names)
        return sorted(found)
    return [path for path, _ in match(prefix.rstrip("/") + "/**")]


def exists(path: str) -> bool:
    if is_local(path):
        return os.path.exists(path)
    return FileSystems.exists(check_supported(path))


def size(path: str) -> int:
    if is_local(path):
        return os.path.getsize(path)
    return FileSystems.get_filesystem(path).size(path)


def open_read(path: str):
    """A binary, seekable reader (byte-range reads on object stores)."""
    if is_local(path):
        return open(path, "rb")
    return FileSystems.open(check_supported(path), compression_type=_UNCOMPRESSED)


def create(path: str):
    """A binary writer; the object appears when it is closed (object stores) — parents are made (local)."""
    if is_local(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return open(path, "wb")
    return FileSystems.create(check_supported(path), compression_type=_UNCOMPRESSED)


def read_bytes(path: str) -> bytes:
    with open_read(path) as handle:
        return handle.read()


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def write_bytes(path: str, data) -> None:
    with create(path) as handle:
        handle.write(data)


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def delete(paths: Iterable[str]) -> None:
    """Deletes files (missing ones are ignored)."""
    paths = list(paths)
    local = [path for path in paths if is_local(path)]
    for path in local:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    remote = [path for path in paths if not is_local(path)]
    if remote:
        try:
            FileSystems.delete(remote)
        except Exception:   # BeamIOError when some were already gone; retry one by one, ignoring those
            for path in remote:
                if FileSystems.exists(path):
                    FileSystems.delete([path])


def delete_tree(prefix: str) -> None:
    """Deletes a directory / every object under a prefix."""
    if is_local(prefix):
        import shutil

        shutil.rmtree(prefix, ignore_errors=True)
        return
    delete(list_files(prefix))


def rename(source: str, target: str) -> None:
    """Moves one file (a server-side copy + delete on object stores)."""
    if is_local(source) and is_local(target):
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        os.replace(source, target)
        return
    FileSystems.rename([source], [target])


def copy_stream(source, target, buffer: int = 8 << 20) -> int:
    """Copies an open reader into an open writer; returns the bytes copied."""
    copied = 0
    while True:
        block = source.read(buffer)
        if not block:
            return copied
        target.write(block)
        copied += len(block)


def text_reader(path: str):
    """A text reader (UTF-8) of any path."""
    return io.TextIOWrapper(open_read(path), encoding="utf-8")
