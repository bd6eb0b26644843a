"""Atomic publication of an output directory, and the rule for replacing one: only what tfpipe wrote.

Every tfpipe command that writes a directory (``preprocess`` → a dataset, ``train`` → a model) builds it in a
temporary sibling ``.NAME.tmp-*`` and moves it into place at the very end (:func:`publish`), so a crash or a
``kill -9`` leaves no half-written output, only a temporary sibling that the next run ignores.

An existing output is replaced only with ``--overwrite`` AND only when it is recognisably a previous output of
the same kind (:func:`check_replaceable`): a dataset has a ``manifest.json`` written by ``tfpipe preprocess``, a
model a ``model.json`` written by ``tfpipe train``. Anything else — a user's folder, a file, a dataset given as
a model's ``--output`` — is refused with a message naming the path, and nothing is deleted.

Example::

    >>> import os, tempfile
    >>> parent = tempfile.mkdtemp()
    >>> mine = os.path.join(parent, "notes")
    >>> os.makedirs(mine)
    >>> check_replaceable(mine, DATASET, overwrite=True)
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


class NotATfpipeOutput(ValueError):
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


def is_output_of(path: str, kind: OutputKind) -> bool:
    """True when ``path`` is a directory holding ``kind``'s marker file written by tfpipe."""
    marker = os.path.join(path, kind.marker)
    if not (os.path.isdir(path) and os.path.isfile(marker)):
        return False
    try:
        with open(marker, encoding="utf-8") as handle:
            content = json.load(handle)
    except (OSError, ValueError):
        return False
    if not isinstance(content, dict):
        return False
    if str(content.get("format", "")).startswith(kind.format_prefix):
        return True
    return bool(kind.legacy_keys) and all(key in content for key in kind.legacy_keys)


def check_replaceable(path: str, kind: OutputKind, overwrite: bool) -> str:
    """Raises :class:`NotATfpipeOutput` unless ``path`` may be written; returns its absolute path.

    Allowed: ``path`` does not exist or is an empty directory; or it exists, ``overwrite`` is set and it is a
    previous ``kind`` output.
    """
    path = os.path.abspath(path)
    if not os.path.lexists(path) or (os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path)):
        return path   # absent, or an empty directory (e.g. made by mkdtemp): nothing to lose
    if not overwrite:
        raise NotATfpipeOutput(f"{path} exists; pass --overwrite to replace it (only a previous "
                               f"{kind.writer} output is ever replaced)")
    if not is_output_of(path, kind):
        found = "a file" if not os.path.isdir(path) else "a directory without a tfpipe " + kind.marker
        raise NotATfpipeOutput(
            f"refusing to replace {path}: it is not a tfpipe {kind.what} ({found}); --overwrite only replaces "
            f"an earlier {kind.writer} output. Nothing was changed; choose another --output or remove it yourself.")
    return path


def make_work_dir(output: str) -> str:
    """A new temporary sibling directory of ``output`` to build it in (same filesystem, so the move is atomic)."""
    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix=f".{os.path.basename(output)}.tmp-", dir=parent)


def publish(work_dir: str, output: str, kind: OutputKind, overwrite: bool) -> None:
    """Moves the finished ``work_dir`` to ``output``; a previous ``kind`` output is replaced only now.

    The check is repeated here (the output may have appeared while the job ran).
    """
    output = check_replaceable(output, kind, overwrite)
    old = None
    if os.path.lexists(output):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(output)}.old-", dir=os.path.dirname(output))
        os.rename(output, os.path.join(old, "previous"))
    os.rename(work_dir, output)
    if old:
        shutil.rmtree(old, ignore_errors=True)
