"""A ``tfpipe train`` model directory on any store, made loadable: TensorFlow loads SavedModels from local disk
(and ``gs://``) only, so a model on ``s3://``, ``azfs://``, ... is fetched into a local copy first.

A model on a store is complete only when its ``model.json`` is there: ``tfpipe train`` publishes it last
(:mod:`tfpipe.pipelines.publish`), so a prefix without it (a run that died while publishing, or not a model at
all) is refused with a message naming the path. The copy lives under ``cache_dir`` (default: the system's
temporary directory), named by a hash of the model's path and of its ``model.json`` (which names the run), so a
republished model is fetched again and an unchanged one is not; it is written to a temporary name and renamed,
so an interrupted fetch is never taken for a model.

Example (``model_dir``: a ``tfpipe train`` output directory; local paths are returned as they are)::

    >>> local_model_dir(model_dir) == model_dir
    True
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid

from tfpipe.ensembles.model_dir import ModelDir
from tfpipe.pipelines import storage

MARKER = ModelDir.MARKER


def local_model_dir(path: str, cache_dir: str | None = None) -> str:
    """A local path to the same model directory (or its ``saved_model``) as ``path``."""
    if storage.is_local(path):
        return path
    path = storage.absolute(storage.check_supported(path))
    root, inside = path, ""
    if storage.basename(path) == "saved_model":
        root, inside = storage.dirname(path), "saved_model"
    model = ModelDir(root)
    model.read_metadata()                 # refuses a prefix without a finished model, naming it
    stamp = storage.read_bytes(model.marker)
    key = hashlib.sha256(root.encode("utf-8") + b"\0" + stamp).hexdigest()[:24]
    base = os.path.join(cache_dir or tempfile.gettempdir(), "tfpipe-models")
    local = os.path.join(base, key)
    if not os.path.isfile(os.path.join(local, MARKER)):
        os.makedirs(base, exist_ok=True)
        partial = f"{local}.{uuid.uuid4().hex[:8]}.partial"
        try:
            prefix = root.rstrip("/") + "/"
            for source in storage.list_files(root):
                target = os.path.join(partial, source[len(prefix):])
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with storage.open_read(source) as reader, open(target, "wb") as writer:
                    storage.copy_stream(reader, writer)
            try:
                os.rename(partial, local)
            except OSError:   # another process fetched it first
                if not os.path.isfile(os.path.join(local, MARKER)):
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return os.path.join(local, inside) if inside else local
