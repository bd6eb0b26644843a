"""The exported SavedModel: one artifact, tf.Example in, float32 out, loadable where tfpipe cannot be imported."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import xgboost as xgb

from tfpipe import features as tff
from tfpipe.ensembles.tree_members import feature_types
from tfpipe.serving.predictions import serialized_dataset
from tfpipe.serving.export import load_saved_model, predict_examples, read_metadata

FRESH = r"""
import sys
sys.modules["tfpipe"] = None          # tfpipe must not be needed (nor importable) to serve,
sys.modules["xgboost"] = None         # nor the GBDT libraries that trained the tree members
sys.modules["lightgbm"] = None
for name in ("tfpipe", "xgboost", "lightgbm"):
    try:
        __import__(name)
        raise SystemExit(name + " was importable")
    except ImportError:
        pass
import numpy as np
import tensorflow as tf
model_dir, examples_path, out_path = sys.argv[1:4]
examples = [r.numpy() for r in tf.data.TFRecordDataset(examples_path)]
model = tf.saved_model.load(model_dir)
sig = model.signatures["serving_default"]
assert list(sig.structured_input_signature[1]) == ["examples"], sig.structured_input_signature
out = sig(examples=tf.constant(examples))
np.savez(out_path, **{k: v.numpy() for k, v in out.items()})
print("DTYPES", {k: v.dtype.name for k, v in out.items()})
"""


def _examples(data_dir, n=300):
    batch = next(iter(serialized_dataset(data_dir, "test", batch_size=n)))
    return [bytes(x) for x in batch.numpy()]


def test_saved_model_reproduced_in_fresh_process_without_tfpipe_or_gbdt_libraries(trained, adult_small_dir, tmp_path):
    examples = _examples(adult_small_dir)
    expected = trained.serve_fn(examples=tf.constant(examples))
    path = str(tmp_path / "examples.tfrecord")
    with tf.io.TFRecordWriter(path) as w:
        for e in examples:
            w.write(e)
    script = tmp_path / "fresh.py"
    script.write_text(FRESH)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    proc = subprocess.run([sys.executable, "-I", str(script), trained.saved_model_dir, path,
                           str(tmp_path / "out.npz")], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-2000:]
    assert "'predictions': 'float32'" in proc.stdout and "'member_predictions': 'float32'" in proc.stdout
    got = np.load(str(tmp_path / "out.npz"))
    for key in ("predictions", "member_predictions"):
        np.testing.assert_allclose(got[key], expected[key].numpy(), rtol=0, atol=1e-6)
    assert got["predictions"].shape == (len(examples),) and got["member_predictions"].shape == (len(examples), 4)
    # the tree members, served by the fresh process, are XGBoost's and LightGBM's own predictions on the same rows
    assert trained.metadata["member_names"] == ["gbdt_0", "lgbm_1", "wide_deep_2", "dnn_3"]
    compiled = tff.compile_features(tff.load_config(os.path.join(trained.output_dir, "features.pbtxt")))
    tree = compiled.preprocessor.tree_block(tf.io.parse_example(tf.constant(examples), compiled.parse_spec))
    kinds = feature_types(compiled.tree_features)
    booster = trained.ensemble.members.tree_groups[0][1].boosters[0]
    margin = booster.predict(xgb.DMatrix(tree.numpy(), feature_types=kinds, enable_categorical=True),
                             output_margin=True)
    np.testing.assert_allclose(got["member_predictions"][:, 0], 1 / (1 + np.exp(-margin)), rtol=0, atol=1e-6)
    light = trained.ensemble.members.tree_groups[1][1].boosters[0]
    np.testing.assert_allclose(got["member_predictions"][:, 1], light.predict(tree.numpy()), rtol=0, atol=1e-6)


def test_signature_outputs_and_metadata(trained, adult_small_dir):
    model = load_saved_model(trained.saved_model_dir)
    sig = model.signatures["serving_default"]
    assert set(sig.structured_outputs) == {"predictions", "member_predictions"}
    assert all(spec.dtype == tf.float32 for spec in sig.structured_outputs.values())
    out = predict_examples(model, _examples(adult_small_dir, 50))
    assert np.all((out["predictions"] >= 0) & (out["predictions"] <= 1))
    np.testing.assert_allclose(out["predictions"], out["member_predictions"].mean(1), atol=1e-6)
    # a missing feature is an absent feature: an empty tf.Example still gets a prediction
    empty = tf.train.Example().SerializeToString()
    assert np.isfinite(predict_examples(model, [empty])["predictions"]).all()
    meta = read_metadata(trained.saved_model_dir)
    assert meta["label"] == "income" and meta["classes"] == ["<=50K", ">50K"]
    assert meta["precision"] == "mixed_bfloat16" and len(meta["member_names"]) == 4
    files = os.listdir(os.path.dirname(trained.saved_model_dir))
    assert "saved_model" in files and "metrics.json" in files
    assert json.load(open(os.path.join(os.path.dirname(trained.saved_model_dir), "metrics.json")))["splits"]


def test_prediction_from_a_hand_made_example(trained):
    from tfpipe.serving.export import make_example

    model = load_saved_model(trained.saved_model_dir)
    row = {"age": 52, "workclass": "Self-emp-inc", "fnlwgt": 287927, "education": "HS-grad", "education-num": 9,
           "marital-status": "Married-civ-spouse", "occupation": "Exec-managerial", "relationship": "Wife",
           "race": "White", "sex": "Female", "capital-gain": 15024, "capital-loss": 0, "hours-per-week": 40,
           "native-country": "United-States"}
    young = dict(row, age=19, **{"marital-status": "Never-married", "relationship": "Own-child",
                                 "capital-gain": 0, "education": "11th", "education-num": 7})
    out = predict_examples(model, [make_example(row), make_example(young)])
    assert out["predictions"].dtype == np.float32 and out["predictions"][0] > out["predictions"][1]


def test_bad_input_gets_invalid_argument_naming_the_feature(trained):
    """Malformed bytes and a feature of the wrong type: InvalidArgument (naming the feature), not a crash; a
    missing feature is imputed as in training."""
    from tfpipe.serving.export import make_example

    serve = load_saved_model(trained.saved_model_dir).signatures["serving_default"]
    good = make_example({"age": 40, "workclass": "Private", "education": "Bachelors", "hours-per-week": 50})
    # (ASCII garbage: TensorFlow quotes the bytes in its message, and its Python binding cannot decode a message
    # holding invalid UTF-8 — that case surfaces as UnicodeDecodeError in Python, InvalidArgument elsewhere.)
    with pytest.raises(tf.errors.InvalidArgumentError, match="parse"):
        serve(examples=tf.constant([good, b"not a tf.Example"]))
    wrong = tf.train.Example()
    wrong.features.feature["age"].bytes_list.value.append(b"forty")
    with pytest.raises(tf.errors.InvalidArgumentError, match="age"):
        serve(examples=tf.constant([wrong.SerializeToString()]))
    two_ages = tf.train.Example()
    two_ages.features.feature["age"].int64_list.value.extend([40, 41])
    with pytest.raises(tf.errors.InvalidArgumentError, match="age"):
        serve(examples=tf.constant([two_ages.SerializeToString()]))
    out = serve(examples=tf.constant([good, tf.train.Example().SerializeToString()]))   # features left out
    assert np.isfinite(out["predictions"].numpy()).all() and np.isfinite(out["member_predictions"].numpy()).all()


def test_classify_signature_for_tf_serving_clients_of_canned_estimators(trained, adult_small_dir):
    """TF Serving's Classify API: method tensorflow/serving/classify, input ``inputs``, outputs classes + scores."""
    from tensorflow.core.protobuf import saved_model_pb2

    model = saved_model_pb2.SavedModel()
    model.ParseFromString(open(os.path.join(trained.saved_model_dir, "saved_model.pb"), "rb").read())
    signatures = model.meta_graphs[0].signature_def
    assert signatures["classification"].method_name == "tensorflow/serving/classify"
    assert set(signatures["classification"].inputs) == {"inputs"}
    assert set(signatures["classification"].outputs) == {"classes", "scores"}
    assert signatures["serving_default"].method_name == "tensorflow/serving/predict"
    loaded = load_saved_model(trained.saved_model_dir)
    examples = tf.constant(_examples(adult_small_dir, 20))
    out = loaded.signatures["classification"](inputs=examples)
    predictions = loaded.signatures["serving_default"](examples=examples)["predictions"].numpy()
    assert out["classes"].numpy()[0].tolist() == [b"<=50K", b">50K"] and out["classes"].shape == (20, 2)
    np.testing.assert_allclose(out["scores"].numpy()[:, 1], predictions, atol=1e-6)
    np.testing.assert_allclose(out["scores"].numpy().sum(1), 1.0, atol=1e-6)


def test_regress_signature_for_tf_serving_clients_of_canned_estimators(adult_small_dir, tmp_path):
    from tensorflow.core.protobuf import saved_model_pb2

    from tfpipe.ensembles.train_options import BaggingOptions, KerasOptions, RuntimeOptions, TrainOptions
    from tfpipe.serving.export_config import ExportOptions
    from tfpipe.train import train_ensemble

    options = TrainOptions(ensemble=BaggingOptions(members=1, member_kinds="dnn"), task="regression",
                           keras=KerasOptions(hidden=(8,), epochs=1), runtime=RuntimeOptions(strategy="default", verbose=0))
    result = train_ensemble(adult_small_dir, str(tmp_path / "m"), options, label="hours-per-week",
                            export=ExportOptions(report=False, metric_splits=("test",)))
    model = saved_model_pb2.SavedModel()
    model.ParseFromString(open(os.path.join(result.saved_model_dir, "saved_model.pb"), "rb").read())
    signatures = model.meta_graphs[0].signature_def
    assert "classification" not in signatures
    assert signatures["regression"].method_name == "tensorflow/serving/regress"
    assert (set(signatures["regression"].inputs), set(signatures["regression"].outputs)) == ({"inputs"}, {"outputs"})
    loaded = load_saved_model(result.saved_model_dir)
    examples = tf.constant(_examples(adult_small_dir, 10))
    np.testing.assert_allclose(loaded.signatures["regression"](inputs=examples)["outputs"].numpy(),
                               loaded.signatures["serving_default"](examples=examples)["predictions"].numpy())


def test_without_estimator_signatures_only_serving_default_is_exported(trained, tmp_path):
    from tfpipe.serving.export import export_saved_model

    compiled = tff.compile_features(tff.load_config(os.path.join(trained.output_dir, "features.pbtxt")))
    path = export_saved_model(trained.ensemble, compiled.parse_spec, compiled.preprocessor,
                              str(tmp_path / "saved_model"), trained.metadata, estimator_signatures=False)
    assert sorted(load_saved_model(path).signatures) == ["serving_default"]
    assert read_metadata(path)["label"] == "income"
