"""``evaluate_saved_model``: metrics of an exported SavedModel on a split of a preprocessed DIR.

Reads the raw tf.Examples of the split (``eval`` is carved out of ``train`` exactly as in training when the data
has no eval split), runs ``serving_default`` and computes the same metrics as ``MODEL_DIR/metrics.json``.

Example (``model_dir``: a ``tfpipe train`` output directory; ``adult``: the preprocessed DIR it was trained on)::

    >>> m = evaluate_saved_model(model_dir, adult, "test")
    >>> sorted(m), sorted(m["ensemble"]), 0.8 < m["ensemble"]["auc"] < 1
    (['best_member', 'ensemble', 'members'], ['accuracy', 'auc', 'count', 'logloss'], True)
"""
from __future__ import annotations

from tfpipe.serving.export import load_saved_model, read_metadata


def evaluate_saved_model(model_dir: str, data_dir: str, split: str = "test", batch_size: int = 2048) -> dict:
    """``{"ensemble": {...}, "members": {name: {...}}, "best_member": name}`` for ``split``.

    ``model_dir`` is ``MODEL_DIR/saved_model`` (``MODEL_DIR`` is accepted too), local or on a store
    (:func:`tfpipe.serving.model_store.local_model_dir`); so is ``data_dir``.
    """
    import os

    from tfpipe.ensembles.metrics import ensemble_metrics
    from tfpipe.ensembles.model_dir import ModelDir
    from tfpipe.serving.predictions import predict_split
    from tfpipe.serving.model_store import local_model_dir

    model_dir = local_model_dir(model_dir)

    if not os.path.exists(os.path.join(model_dir, "saved_model.pb")) and \
            os.path.exists(os.path.join(ModelDir(model_dir).saved_model, "saved_model.pb")):
        model_dir = ModelDir(model_dir).saved_model
    meta = read_metadata(model_dir)
    check_data_fits_model(os.path.dirname(os.path.abspath(model_dir)), data_dir, meta.get("label"))
    model = load_saved_model(model_dir)
    out = predict_split(model.signatures["serving_default"], data_dir, split, meta, batch_size=batch_size)
    return ensemble_metrics(meta["task"]["kind"], out["labels"], out["predictions"], out["member_predictions"],
                            meta["member_names"])


def check_data_fits_model(model_root: str, data_dir: str, label: str | None) -> None:
    """Raises ``ValueError`` naming every column the model reads (and the label) that ``data_dir``'s schema lacks
    or types differently: such data would be parsed as all-missing and scored without a word."""
    import os

    from tfpipe import features as tff
    from tfpipe.features import artifacts
    from tfpipe.features.config import FEATURES_FILE

    config = os.path.join(model_root, FEATURES_FILE)
    if not os.path.exists(config):
        return                          # a SavedModel copied away from its MODEL_DIR: nothing to compare with
    schema = artifacts.load_schema(data_dir)
    wanted = {key: spec.dtype.name for key, spec in tff.parse_spec(tff.load_config(config)).items()}
    problems = []
    for key, dtype in sorted(wanted.items()):
        if artifacts.schema_feature(schema, key) is None:
            problems.append(f"{key!r} is missing")
            continue
        found = artifacts.feature_dtype(key, schema, None)
        if found != dtype:
            problems.append(f"{key!r} is {found}, the model reads {dtype}")
    if label and artifacts.schema_feature(schema, label) is None:
        problems.append(f"the label {label!r} is missing")
    if problems:
        raise ValueError(f"{data_dir} does not fit the model in {model_root}: " + "; ".join(problems))
