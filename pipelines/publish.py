"""Atomic publication of an output directory, and the rule for replacing one: only what tfpipe wrote.

Every tfpipe command that writes a directory (``preprocess`` → a dataset, ``train`` → a model) builds it in a
temporary sibling ``.NAME.tmp-*`` and publishes it at the very end (:func:`publish`), so a crash or a
``kill -9`` leaves no half-written output.

- Local disk: the finished directory is renamed into place (atomic).
- Object stores (``s3://``, ``gs://``, ...; rename is copy + delete there): the marker file (``manifest.json``)
  is the commit marker. Publishing first writes ``_tfpipe_incomplete.json``, removes the old marker (the old
  output is then no longer a dataset), deletes the old objects, moves the new ones, and writes the marker
  LAST; readers refuse a prefix without it (:mod:`tfpipe.pipelines.artifacts`). A job that dies mid-publish
  leaves a prefix that readers refuse and that ``--overwrite`` may replace; a job that dies before leaves its
  ``.NAME.tmp-*`` prefix, which the next run for the same output deletes (:func:`clean_stale_work_dirs`).
  A directory built on local disk for a store output (a model: TensorFlow writes SavedModels to local paths
  only) is first uploaded to such a ``.NAME.tmp-*`` prefix, then published the same way.

An existing output is replaced only with ``--overwrite`` AND only when it is recognisably a previous output of
the same kind (:func:`check_replaceable`): a dataset has a ``manifest.json`` written by ``tfpipe preprocess``, a
model a ``model.json`` written by ``tfpipe train``. Anything else — a user's folder, a file, a dataset given as
a model's ``--output`` — is refused with a message naming the path, and nothing is deleted.

Example::

    >>> import os, tempfile
    >>> parent = tempfile.mkdtemp()
    >>> mine = os.path.join(parent, "notes")
    >>> os.makedirs(mine)
    >>> _ = open(os.path.join(mine, "todo.txt"), "w").write("mine")
    >>> check_replaceable(mine, DATASET, overwrite=True)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    tfpipe.pipelines.publish.NotATfpipeOutput: refusing to replace ... it is not a tfpipe dataset ...
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import uuid

from tfpipe.pipelines import storage
from tfpipe.pipelines.errors import InputError

INCOMPLETE = "_tfpipe_incomplete.json"   # an unfinished publish on an object store (replaceable by --overwrite)


class NotATfpipeOutput(InputError):
    """``--output`` names something tfpipe did not write (or exists without ``--overwrite``)."""


@dataclasses.dataclass(frozen=True)
class OutputKind:
    """A kind of tfpipe output: its marker file and the ``format`` prefix written into it."""

    what: str            # "dataset" / "model", for messages
    marker: str          # file inside the directory that proves tfpipe wrote it
    format_prefix: str   # its JSON "format" value starts with this
    writer: str          # the command that writes it, for messages
    legacy_keys: tuple = ()  # markers written before "format" existed: all these keys present


DATASET = OutputKind("dataset", "manifest.json", "tfpipe.dataset/", "tfpipe preprocess",
                     legacy_keys=("rows_read", "rows_written", "rows_rejected", "shards", "schema"))
MODEL = OutputKind("model", "model.json", "tfpipe.model/", "tfpipe train")


def _read_json(path: str):
    try:
        return json.loads(storage.read_text(path))
    except (OSError, ValueError):
        return None
    except Exception:   # an object store's "not found" (BeamIOError)
        return None


def is_output_of(path: str, kind: OutputKind) -> bool:
    """True when ``path`` is a directory holding ``kind``'s marker file written by tfpipe (or, on an object
    store, an unfinished publish of ``kind``)."""
    if storage.is_local(path):
        if not (os.path.isdir(path) and os.path.isfile(os.path.join(path, kind.marker))):
            return False
    content = _read_json(storage.join(path, kind.marker))
    if not isinstance(content, dict):
        if storage.is_local(path):
            return False
        incomplete = _read_json(storage.join(path, INCOMPLETE))
        return isinstance(incomplete, dict) and incomplete.get("kind") == kind.what
    if str(content.get("format", "")).startswith(kind.format_prefix):
        return True
    return bool(kind.legacy_keys) and all(key in content for key in kind.legacy_keys)


def _is_empty(path: str) -> bool:
    if storage.is_local(path):
        return not os.path.lexists(path) or (os.path.isdir(path) and not os.path.islink(path)
                                             and not os.listdir(path))
    return not storage.list_files(path)


def check_replaceable(path: str, kind: OutputKind, overwrite: bool) -> str:
    """Raises :class:`NotATfpipeOutput` unless ``path`` may be written; returns its absolute path.

    Allowed: ``path`` does not exist or is an empty directory (no object under the prefix); or it exists,
    ``overwrite`` is set and it is a previous ``kind`` output.
    """
    path = storage.absolute(storage.check_supported(path))
    if _is_empty(path):
        return path   # absent, or an empty directory (e.g. made by mkdtemp): nothing to lose
    if not overwrite:
        raise NotATfpipeOutput(f"{path} exists; pass --overwrite to replace it (only a previous "
                               f"{kind.writer} output is ever replaced)")
    if not is_output_of(path, kind):
        local_file = storage.is_local(path) and not os.path.isdir(path)
        found = "a file" if local_file else "a directory without a tfpipe " + kind.marker
        raise NotATfpipeOutput(
            f"refusing to replace {path}: it is not a tfpipe {kind.what} ({found}); --overwrite only replaces "
            f"an earlier {kind.writer} output. Nothing was changed; choose another --output or remove it yourself.")
    return path


def _work_prefix(output: str) -> str:
    return storage.join(storage.dirname(output), f".{storage.basename(output)}.tmp-")


def make_work_dir(output: str) -> str:
    """A new temporary sibling of ``output`` to build it in (local: same filesystem, so the move is atomic)."""
    if not storage.is_local(output):
        return _work_prefix(output) + uuid.uuid4().hex[:12]
    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix=f".{os.path.basename(output)}.tmp-", dir=parent)


def clean_stale_work_dirs(output: str) -> list[str]:
    """Deletes what earlier, killed runs left in ``.NAME.tmp-*`` prefixes beside an object-store ``output``.

    Local work dirs are removed by the run itself (``finally``) and only a ``kill -9`` leaves one; they are
    left alone (another run may be using one). Returns the prefixes deleted.
    """
    if storage.is_local(output):
        return []
    stale = sorted({path[:path.index("/", len(_work_prefix(output)))]
                    for path, _ in storage.match(_work_prefix(output) + "*/**")})
    for prefix in stale:
        storage.delete_tree(prefix)
    return stale


def publish(work_dir: str, output: str, kind: OutputKind, overwrite: bool) -> None:
    """Moves the finished ``work_dir`` to ``output``; a previous ``kind`` output is replaced only now.

    The check is repeated here (the output may have appeared while the job ran).
    """
    output = check_replaceable(output, kind, overwrite)
    if not storage.is_local(output):
        if storage.is_local(work_dir):   # built locally: uploaded beside the output first (a kill leaves a stale
            local, work_dir = work_dir, make_work_dir(output)   # prefix that the next run deletes, no output)
            try:
                upload_tree(local, work_dir)
            except BaseException:
                storage.delete_tree(work_dir)
                raise
        _publish_to_store(work_dir, output, kind)
        return
    old = None
    if os.path.lexists(output):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(output)}.old-", dir=os.path.dirname(output))
        os.rename(output, os.path.join(old, "previous"))
    os.rename(work_dir, output)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def upload_tree(local_dir: str, prefix: str, workers: int = 8) -> int:
    """Copies every file under ``local_dir`` to the same relative key under ``prefix`` (``workers`` at once);
    returns the files copied."""
    from concurrent.futures import ThreadPoolExecutor

    files = storage.list_files(local_dir)

    def upload(path):
        with open(path, "rb") as source, storage.create(storage.join(prefix, os.path.relpath(path, local_dir))) as target:
            storage.copy_stream(source, target)

    with ThreadPoolExecutor(max(1, min(workers, len(files) or 1))) as pool:
        list(pool.map(upload, files))
    return len(files)


def _publish_to_store(work_dir: str, output: str, kind: OutputKind) -> None:
    """Publish on an object store: the marker is removed first and written last (see the module doc)."""
    storage.write_text(storage.join(output, INCOMPLETE), json.dumps({"kind": kind.what, "work_dir": work_dir}))
    marker = storage.join(output, kind.marker)
    storage.delete([marker])                                      # the old output stops being one
    incomplete = storage.join(output, INCOMPLETE)
    storage.delete([path for path in storage.list_files(output) if path != incomplete])
    sources = storage.list_files(work_dir)
    prefix = work_dir.rstrip("/") + "/"
    new_marker = storage.join(work_dir, kind.marker)
    moves = [(source, storage.join(output, source[len(prefix):])) for source in sources if source != new_marker]
    for source, target in moves:
        storage.rename(source, target)
    storage.rename(new_marker, marker)                            # commit
    storage.delete([incomplete])
    storage.delete_tree(work_dir)
