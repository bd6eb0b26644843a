"""``evaluate_saved_model``: metrics of an exported SavedModel on a split of a preprocessed DIR.

Reads the raw tf.Examples of the split (``eval`` is carved out of ``train`` exactly as in training when the data
has no eval split), runs ``serving_default`` and computes the same metrics as ``MODEL_DIR/metrics.json``.

Example::

    >>> m = evaluate_saved_model("/tmp/model/saved_model", "/tmp/adult", "test")   # doctest: +SKIP
    >>> m["ensemble"]["auc"]                                                      # doctest: +SKIP
    0.912
"""
from __future__ import annotations

from tfpipe.serving.export import load_saved_model, read_metadata


def evaluate_saved_model(model_dir: str, data_dir: str, split: str = "test", batch_size: int = 2048) -> dict:
    """``{"ensemble": {...}, "members": {name: {...}}, "best_member": name}`` for ``split``.

    ``model_dir`` is ``MODEL_DIR/saved_model`` (``MODEL_DIR`` is accepted too).
    """
    import os

    from tfpipe.ensembles.metrics import ensemble_metrics
    from tfpipe.ensembles.records import predict_split

    if not os.path.exists(os.path.join(model_dir, "saved_model.pb")) and \
            os.path.exists(os.path.join(model_dir, "saved_model", "saved_model.pb")):
        model_dir = os.path.join(model_dir, "saved_model")
    meta = read_metadata(model_dir)
    model = load_saved_model(model_dir)
    out = predict_split(model.signatures["serving_default"], data_dir, split, meta, batch_size=batch_size)
    return ensemble_metrics(meta["task"]["kind"], out["labels"], out["predictions"], out["member_predictions"],
                            meta["member_names"])
