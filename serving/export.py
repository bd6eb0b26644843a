"""One SavedModel with parsing, preprocessing and every member: ``serving_default(examples) -> predictions``.

The serving function is ``tf.io.parse_example(examples, parse_spec) -> preprocessor -> ensemble.serve``; it is
written with ``keras.export.ExportArchive`` so that loading needs TensorFlow alone (no tfpipe, no custom
objects). Outputs: ``predictions`` (float32 [N] or [N, C]) and ``member_predictions`` (float32 [N, K] or
[N, K, C]). Metadata for evaluation (label, classes, task, member names, eval carve-out) is written to
``saved_model/assets.extra/tfpipe.json``.

Beside ``serving_default``, the SavedModel carries the signature a canned Estimator exported, so that clients of
TF Serving's Classify and Regress APIs keep working: ``classification`` (method ``tensorflow/serving/classify``,
input ``inputs`` = serialized tf.Example, outputs ``classes`` string [N, C] and ``scores`` float32 [N, C]) for
classifiers, ``regression`` (method ``tensorflow/serving/regress``, output ``outputs`` float32 [N]) for
regressors. TensorFlow 2 writes every signature with the Predict method name and TF Serving dispatches on it, so
the two method names are set in ``saved_model.pb`` after writing (:func:`set_method_names`); loading with
TensorFlow is unaffected.

Export example (``trained``: what :func:`tfpipe.train.train_ensemble` returned)::

    >>> import tensorflow as tf
    >>> from tfpipe import features as tff
    >>> compiled = tff.compile_features(tff.load_config(os.path.join(trained.output_dir, "features.pbtxt")))
    >>> path = export_saved_model(trained.ensemble, compiled.parse_spec, compiled.preprocessor, "m/saved_model",
    ...                           trained.metadata)
    >>> sorted(tf.saved_model.load(path).signatures)
    ['classification', 'serving_default']

The loading side needs TensorFlow alone; the writer takes any ensemble object with ``serve(inputs)``.

Loading example (``model_dir``: a ``tfpipe train`` output directory; a bagging of 4 members on Adult)::

    >>> model = load_saved_model(os.path.join(model_dir, "saved_model"))
    >>> out = predict_examples(model, [make_example({"age": 39, "workclass": "State-gov", "education": "Bachelors"})])
    >>> out["predictions"].shape, out["member_predictions"].shape, out["predictions"].dtype.name
    ((1,), (1, 4), 'float32')
"""
from __future__ import annotations

import json
import os

METADATA_FILE = os.path.join("assets.extra", "tfpipe.json")


def load_saved_model(path: str):
    """``tf.saved_model.load(path)``; the ``serving_default`` signature is ``model.signatures[...]``."""
    import tensorflow as tf

    return tf.saved_model.load(path)


def read_metadata(path: str) -> dict:
    """The training metadata (label, classes, task, member names, eval carve-out) stored with the SavedModel."""
    with open(os.path.join(path, METADATA_FILE), encoding="utf-8") as f:
        return json.load(f)


def make_example(row: dict) -> bytes:
    """A serialized tf.Example from ``{column: value}`` (int -> int64_list, float -> float_list, str -> bytes_list;
    None = missing = absent feature), as ``tfpipe preprocess`` encodes rows (docs/CONTRACTS.md section 1).

    Example::

        >>> len(make_example({"age": 39, "workclass": "State-gov", "occupation": None})) > 0
        True
    """
    import tensorflow as tf

    feature = {}
    for key, value in row.items():
        if value is None:
            continue
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if all(isinstance(v, (bool, int)) for v in values):
            feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
        elif all(isinstance(v, (int, float)) for v in values):
            feature[key] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))
        else:
            feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(v).encode() for v in values]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def predict_examples(model, serialized) -> dict:
    """Runs ``serving_default`` on serialized tf.Examples -> numpy ``predictions`` and ``member_predictions``."""
    import tensorflow as tf

    out = model.signatures["serving_default"](examples=tf.constant(list(serialized), tf.string))
    return {k: v.numpy() for k, v in out.items()}


def make_serving_function(ensemble, parse_spec: dict, preprocessor):
    """A ``tf.function(examples: tf.string [None]) -> {"predictions", "member_predictions"}`` (float32)."""
    import tensorflow as tf

    from tfpipe.features.graph import graph_function

    spec = dict(parse_spec)

    @graph_function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(examples):
        parsed = tf.io.parse_example(examples, spec)
        out = ensemble.serve(preprocessor(parsed, training=False))
        return {"predictions": tf.cast(out["predictions"], tf.float32),
                "member_predictions": tf.cast(out["member_predictions"], tf.float32)}

    return serve


CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"


def make_estimator_signature(serve, task: dict, classes):
    """``(name, tf.function)`` of the Classify / Regress signature over ``serve``'s ``predictions``."""
    import tensorflow as tf

    from tfpipe.features.graph import graph_function

    if task["kind"] == "regression":
        @graph_function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
        def regression(inputs):
            return {"outputs": tf.reshape(serve(inputs)["predictions"], [-1])}

        return "regression", regression
    names = tf.constant([str(name) for name in (classes or range(max(2, int(task.get("n_classes") or 2))))])

    @graph_function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classification(inputs):
        predictions = serve(inputs)["predictions"]
        scores = tf.stack([1.0 - predictions, predictions], axis=1) if task["kind"] == "binary" else predictions
        classes_out = tf.tile(names[tf.newaxis], [tf.shape(scores)[0], 1])
        return {"classes": classes_out, "scores": scores}

    return "classification", classification


def set_method_names(saved_model_dir: str, methods: dict) -> None:
    """Sets ``signature_def[name].method_name`` in ``saved_model.pb`` (TF 2 writes ``tensorflow/serving/predict``)."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.path.join(saved_model_dir, "saved_model.pb")
    model = saved_model_pb2.SavedModel()
    with open(path, "rb") as handle:
        model.ParseFromString(handle.read())
    for meta_graph in model.meta_graphs:
        for name, method in methods.items():
            if name in meta_graph.signature_def:
                meta_graph.signature_def[name].method_name = method
    with open(path + ".tmp", "wb") as handle:
        handle.write(model.SerializeToString())
    os.replace(path + ".tmp", path)


def export_saved_model(ensemble, parse_spec: dict, preprocessor, path: str, metadata: dict | None = None,
                       serve_fn=None, estimator_signatures: bool = True) -> str:
    """Writes the SavedModel to ``path`` (atomically replaced) and returns ``path``. ``estimator_signatures``: add
    the ``classification`` / ``regression`` signature (needs ``metadata["task"]``)."""
    import shutil

    import keras

    serve = serve_fn or make_serving_function(ensemble, parse_spec, preprocessor)
    archive = keras.export.ExportArchive()
    archive.track(preprocessor)
    archive.track(ensemble)
    archive.add_endpoint("serving_default", serve)
    methods = {}
    if estimator_signatures and metadata is not None and metadata.get("task"):
        name, function = make_estimator_signature(serve, metadata["task"], metadata.get("classes"))
        archive.add_endpoint(name, function)
        methods[name] = REGRESS_METHOD if name == "regression" else CLASSIFY_METHOD
    tmp = path.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    archive.write_out(tmp, verbose=False)
    set_method_names(tmp, methods)
    if metadata is not None:
        os.makedirs(os.path.dirname(os.path.join(tmp, METADATA_FILE)), exist_ok=True)
        with open(os.path.join(tmp, METADATA_FILE), "w", encoding="utf-8") as f:   # inside tmp: renamed below
            json.dump(metadata, f, indent=2, sort_keys=True, default=float)
    shutil.rmtree(path, ignore_errors=True)
    os.replace(tmp, path)
    return path


