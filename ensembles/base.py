"""What every ensemble model shares: ``serve(inputs)`` for export/prediction and a Keras fit helper.

An ensemble is a ``keras.Model`` whose ``serve(inputs)`` maps the preprocessor's output dict to
``{"predictions": f32, "member_predictions": f32}`` (see ``serving/export.py``). Training goes through
:func:`fit_keras`, which adds early stopping on the eval split, TensorBoard logs and a CSV log per phase, and loss
scaling.

Example::

    >>> history = fit_keras(model, train_ds, eval_ds, loss_fn, epochs=3)   # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import os
import warnings

import keras
import numpy as np

from tfpipe.ensembles.precision import wrap_optimizer


@dataclasses.dataclass(frozen=True)
class TreeData:
    """What gbdt members train on: NOT shuffled ``(inputs, label)`` batches with the ``tree`` block and
    ``example_key`` (XGBoost reads them several times and needs the same order each time), the eval batches
    for early stopping, and ``compiled.tree_features``."""

    train: object
    eval: object
    features: tuple


@dataclasses.dataclass
class FitOptions:
    """Training knobs shared by the ensembles."""

    epochs: int = 5
    learning_rate: float = 3e-3
    patience: int = 2
    verbose: int | str = "auto"
    log_dir: str | None = None
    policy: str = "float32"
    strategy: object = None          # a tf.distribute.Strategy; None -> default strategy
    jit_compile: bool | str = False
    steps_per_epoch: int | None = None
    tree_data: TreeData | None = None  # needed when the ensemble has gbdt members

    def require_tree_data(self) -> TreeData:
        if self.tree_data is None:
            raise ValueError("this ensemble has gbdt members: FitOptions.tree_data must give their (unshuffled) data")
        return self.tree_data

    def scope(self):
        import tensorflow as tf

        return (self.strategy or tf.distribute.get_strategy()).scope()


def fit_keras(model: keras.Model, train_ds, eval_ds, loss, options: FitOptions, phase: str = "train",
              learning_rate: float | None = None, epochs: int | None = None) -> dict:
    """Compiles ``model`` (Adam, loss scaling under mixed_float16) and fits it; returns ``{loss, val_loss}``.

    Example::

        >>> fit_keras(trainer, train_ds, eval_ds, lambda y, p: (y - p) ** 2, FitOptions(epochs=1))  # doctest: +SKIP
    """
    lr = options.learning_rate if learning_rate is None else learning_rate
    with options.scope():
        optimizer = wrap_optimizer(keras.optimizers.Adam(lr), options.policy)
        model.compile(optimizer=optimizer, loss=loss, jit_compile=options.jit_compile)
    callbacks = []
    if eval_ds is not None and options.patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=options.patience,
                                                       restore_best_weights=True))
    if options.log_dir:
        os.makedirs(options.log_dir, exist_ok=True)
        callbacks.append(keras.callbacks.CSVLogger(os.path.join(options.log_dir, f"{phase}.csv")))
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(options.log_dir, phase), profile_batch=0,
                                                     write_graph=False))
    with warnings.catch_warnings():  # finite datasets of unknown length: Keras warns at the end of epoch 1
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        history = model.fit(train_ds, validation_data=eval_ds, epochs=epochs or options.epochs,
                            callbacks=callbacks, verbose=keras_verbosity(options.verbose),
                            steps_per_epoch=options.steps_per_epoch,
                            shuffle=False)
    out = {"phase": phase, "loss": [float(v) for v in history.history.get("loss", [])]}
    if "val_loss" in history.history:
        out["val_loss"] = [float(v) for v in history.history["val_loss"]]
    return out


def keras_verbosity(verbose, stream=None):
    """``"auto"`` → Keras's live progress bar (1) on a terminal, one line per epoch (2) anywhere else (a log
    file, CI, ``nohup``), where the bar's carriage-return updates pile up into kilobytes per epoch."""
    import sys

    if verbose != "auto":
        return verbose
    stream = stream if stream is not None else sys.stdout
    return 1 if getattr(stream, "isatty", lambda: False)() else 2


def label_column(y, rank: int):
    """Reshapes labels [B] to [B, 1, ..., 1] of ``rank`` (one label column broadcast over members)."""
    import tensorflow as tf

    return tf.reshape(y, [-1] + [1] * (rank - 1))


class EnsembleModel(keras.Model):
    """Base class: subclasses set ``task``/``ensemble_kind``, implement ``serve`` and ``fit_ensemble``.

    Inputs are NOT autocast to the mixed-precision compute dtype: the ``tree`` block must reach gbdt members in
    float32 (a bfloat16 ``fnlwgt`` of 200,000 keeps 8 bits and takes the wrong split); Keras members cast what
    they use themselves.
    """

    ensemble_kind = "base"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.autocast = False

    def serve(self, inputs) -> dict:
        raise NotImplementedError

    def member_names(self) -> list[str]:
        raise NotImplementedError

    def fit_ensemble(self, train_ds, eval_ds, options: FitOptions) -> list[dict]:
        raise NotImplementedError

    def build_on(self, inputs, options: FitOptions | None = None) -> None:
        """Creates all variables by calling ``serve`` on one batch (inside the strategy's scope)."""
        with (options or FitOptions()).scope():
            self.serve(inputs)
        self.built = True

    def predict_dataset(self, dataset) -> dict:
        """Runs ``serve`` over ``(inputs, label)`` batches -> numpy ``predictions``, ``member_predictions``, ``labels``."""
        import tensorflow as tf

        serve = tf.function(lambda x: self.serve(x))
        preds, members, labels = [], [], []
        for x, y in dataset:
            x = {k: v for k, v in x.items() if k != "example_key"}
            out = serve(x)
            preds.append(out["predictions"].numpy())
            members.append(out["member_predictions"].numpy())
            labels.append(np.asarray(y))
        return {"predictions": np.concatenate(preds), "member_predictions": np.concatenate(members),
                "labels": np.concatenate(labels).reshape(-1)}
