"""One SavedModel with parsing, preprocessing and every member: ``serving_default(examples) -> predictions``.

The serving function is ``tf.io.parse_example(examples, parse_spec) -> preprocessor -> ensemble.serve``; it is
written with ``keras.export.ExportArchive`` so that loading needs TensorFlow alone (no tfpipe, no custom
objects). Outputs: ``predictions`` (float32 [N] or [N, C]) and ``member_predictions`` (float32 [N, K] or
[N, K, C]). Metadata for evaluation (label, classes, task, member names, eval carve-out) is written to
``saved_model/assets.extra/tfpipe.json``.

Example::

    >>> serve = make_serving_function(ensemble, compiled.parse_spec, compiled.preprocessor)   # doctest: +SKIP
    >>> export_saved_model(ensemble, compiled.parse_spec, compiled.preprocessor, "m/saved_model", meta)  # doctest: +SKIP
"""
from __future__ import annotations

import os

from tfpipe.ensembles.records import write_json

METADATA_FILE = os.path.join("assets.extra", "tfpipe.json")


def make_serving_function(ensemble, parse_spec: dict, preprocessor):
    """A ``tf.function(examples: tf.string [None]) -> {"predictions", "member_predictions"}`` (float32)."""
    import tensorflow as tf

    spec = dict(parse_spec)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(examples):
        parsed = tf.io.parse_example(examples, spec)
        inputs = preprocessor(parsed, training=False)
        inputs = {k: v for k, v in inputs.items() if k != "example_key"}
        out = ensemble.serve(inputs)
        return {"predictions": tf.cast(out["predictions"], tf.float32),
                "member_predictions": tf.cast(out["member_predictions"], tf.float32)}

    return serve


def export_saved_model(ensemble, parse_spec: dict, preprocessor, path: str, metadata: dict | None = None,
                       serve_fn=None) -> str:
    """Writes the SavedModel to ``path`` (atomically replaced) and returns ``path``."""
    import shutil

    import keras

    serve = serve_fn or make_serving_function(ensemble, parse_spec, preprocessor)
    archive = keras.export.ExportArchive()
    archive.track(preprocessor)
    archive.track(ensemble)
    archive.add_endpoint("serving_default", serve)
    tmp = path.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    archive.write_out(tmp, verbose=False)
    if metadata is not None:
        write_json(os.path.join(tmp, METADATA_FILE), metadata)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)
    return path
