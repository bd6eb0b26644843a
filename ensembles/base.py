"""What every ensemble model shares: ``serve(inputs)`` for export/prediction and a Keras fit helper.

An ensemble is a ``keras.Model`` whose ``serve(inputs)`` maps the preprocessor's output dict to
``{"predictions": f32, "member_predictions": f32}`` (see ``serving/export.py``). Training goes through
:func:`fit_keras`, which adds early stopping on the eval split, TensorBoard logs and a CSV log per phase, and loss
scaling. Under ``MultiWorkerMirroredStrategy`` it runs tfpipe's own loop (:func:`fit_multi_worker`) instead of
``model.fit``, which fails there in Keras 3 / TF 2.21 (keras-team/keras#20585, tensorflow/tensorflow#72388).

See :func:`fit_keras` for an example.
"""
from __future__ import annotations

import dataclasses
import os
import warnings

import keras
import numpy as np

from tfpipe.ensembles.precision import wrap_optimizer
from tfpipe.features.graph import graph_function, plain


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
    batches_per_epoch: int | None = None  # batches in one pass over train_ds, if known (about: a carve-out leaves
                                          # +-1): fit then repeats train_ds and one iterator serves every epoch
    tree_data: TreeData | None = None  # needed when the ensemble has gbdt members
    stages: object = None              # a tfpipe.ensembles.stages.StageLog: time and peak RSS of each step
    deadline: float | None = None      # time.monotonic() at which training stops (--time-limit): Keras fits end
                                       # after the batch in which it passes, with the best weights so far
    data_shard: tuple | None = None    # multi-worker: (index, count) = train on the rows whose example key is
                                       # index mod count (None: train_ds already is this worker's part)
    sample_inputs: object = None       # one batch of inputs to create the variables on (None: the first batch of
                                       # train_ds, which fills a cache="preprocessed" train cache whole before the
                                       # tree members train: their memory and the cache's would add up)

    def first_inputs(self, train_ds):
        """The inputs to build the ensemble on: ``sample_inputs``, or the first batch of ``train_ds``."""
        return self.sample_inputs if self.sample_inputs is not None else next(iter(train_ds))[0]

    def require_tree_data(self) -> TreeData:
        if self.tree_data is None:
            raise ValueError("this ensemble has gbdt members: FitOptions.tree_data must give their (unshuffled) data")
        return self.tree_data

    def scope(self):
        import tensorflow as tf

        return (self.strategy or tf.distribute.get_strategy()).scope()


def fit_keras(model: keras.Model, train_ds, eval_ds, loss, options: FitOptions, phase: str = "train",
              learning_rate: float | None = None, epochs: int | None = None, callbacks=()) -> dict:
    """Compiles ``model`` (Adam, loss scaling under mixed_float16) and fits it; returns ``{loss, val_loss}``.
    ``callbacks``: more Keras callbacks, after early stopping (one process only: the multi-worker loop has none).

    Example::

        (``train_ds``, ``eval_ds``: :func:`~tfpipe.features.make_dataset` batches of a preprocessed Adult DIR, whose
        ``dense`` block holds its z-scored numbers)

        >>> class Logistic(keras.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.linear = keras.layers.Dense(1)
        ...     def call(self, inputs):
        ...         return self.linear(inputs["dense"])[:, 0]
        >>> loss = keras.losses.BinaryCrossentropy(from_logits=True)
        >>> history = fit_keras(Logistic(), train_ds, eval_ds, loss, FitOptions(epochs=2, verbose=0))
        >>> history["phase"], len(history["loss"]), len(history["val_loss"])
        ('train', 2, 2)
    """
    lr = options.learning_rate if learning_rate is None else learning_rate
    if is_multi_worker(options.strategy):
        return fit_multi_worker(model, train_ds, eval_ds, loss, options, phase, lr, epochs or options.epochs)
    with options.scope():
        optimizer = wrap_optimizer(keras.optimizers.Adam(lr), options.policy)
        model.compile(optimizer=optimizer, loss=loss, jit_compile=options.jit_compile)
    callbacks = list(callbacks)
    if eval_ds is not None and options.patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=options.patience,
                                                       restore_best_weights=True))
    if options.deadline is not None:
        callbacks.append(StopAt(options.deadline))
    if options.log_dir:
        os.makedirs(options.log_dir, exist_ok=True)
        callbacks.append(keras.callbacks.CSVLogger(os.path.join(options.log_dir, f"{phase}.csv")))
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(options.log_dir, phase), profile_batch=0,
                                                     write_graph=False))
    train, steps = fit_input(train_ds, options)
    with warnings.catch_warnings():  # finite datasets of unknown length: Keras warns at the end of epoch 1
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        history = model.fit(train, validation_data=eval_ds, epochs=epochs or options.epochs,
                            callbacks=callbacks, verbose=keras_verbosity(options.verbose),
                            steps_per_epoch=steps, shuffle=False)
    out = {"phase": phase, "loss": [float(v) for v in history.history.get("loss", [])]}
    if "val_loss" in history.history:
        out["val_loss"] = [float(v) for v in history.history["val_loss"]]
    return out


class StopAt(keras.callbacks.Callback):
    """Stops ``model.fit`` after the batch during which ``deadline`` (``time.monotonic()``) passed; Keras's
    EarlyStopping then still restores the best weights seen (it does so at the end of training)."""

    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline

    def on_train_batch_end(self, batch, logs=None):
        import time

        if time.monotonic() >= self.deadline:
            self.model.stop_training = True


def fit_input(train_ds, options: FitOptions):
    """``(dataset, steps_per_epoch)`` for ``model.fit``. With ``options.batches_per_epoch`` the finite ``train_ds``
    is repeated and an epoch is that many steps, so Keras keeps ONE iterator for all epochs: otherwise it builds
    a new one at each epoch, and training waits while the pipeline restarts (refills its shuffle buffer and
    prefetch). Each pass over ``train_ds`` still reshuffles (seeded). Measured on an H100 (bagging K=16, XLA, 1M
    Adult rows, ``benchmarks/gpu_training_benchmark.py``): see ensembles/README.md."""
    if options.batches_per_epoch:
        return train_ds.repeat(), options.steps_per_epoch or options.batches_per_epoch
    return train_ds, options.steps_per_epoch


def is_multi_worker(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def fit_multi_worker(model: keras.Model, train_ds, eval_ds, loss, options: FitOptions, phase: str,
                     learning_rate: float, epochs: int) -> dict:
    """Data-parallel training under ``MultiWorkerMirroredStrategy`` without ``model.fit``.

    Each worker trains on its own part of the data: ``train_ds`` already is that part (``make_dataset(read=ReadOptions(shard=...))``
    with the per-worker batch size), or, with ``options.data_shard``, every batch of the whole split is masked to
    the rows whose example key falls to this worker — for ensembles whose other steps (boosting's stage weights,
    stacking's out-of-fold predictions) need every worker to see the whole split. Per step, every replica computes the sum of its (weighted) per-example losses and the global loss is
    that sum over the number of loss elements of all replicas (all-reduced), so the last, uneven batches weigh
    right; the Keras optimizer all-reduces the gradients (sum), so every worker applies the same update and the
    weights stay identical. Iteration ends on all workers together (a distributed iterator hands empty batches
    to workers that ran out). The eval loss is computed by every worker on the whole eval split with the same
    weights, so every worker takes the same early-stopping decision; the best weights are restored at the end.
    """
    import csv
    import math

    import tensorflow as tf

    strategy = options.strategy
    with strategy.scope():
        optimizer = wrap_optimizer(keras.optimizers.Adam(learning_rate), options.policy)
        optimizer.build(model.trainable_variables)
    local = train_ds
    if options.data_shard is not None:
        index, count = options.data_shard

        def mine(*batch):
            keep = tf.equal(batch[0]["example_key"] % count, index)
            return tf.nest.map_structure(lambda t: tf.boolean_mask(t, keep), batch)

        local = train_ds.map(plain(mine), num_parallel_calls=tf.data.AUTOTUNE)
    # One replica per worker: the function's dataset is that replica's, batches as they are (no rebatching).
    dist_train = strategy.distribute_datasets_from_function(lambda context: local)

    def unpack(batch):
        return (batch[0], batch[1], batch[2] if len(batch) > 2 else None)

    def loss_sum_and_count(x, y, weights, training):
        values = tf.cast(loss(y, model(x, training=training)), tf.float32)
        if weights is not None:
            weights = tf.cast(weights, tf.float32)
            while weights.shape.rank < values.shape.rank:
                weights = weights[..., tf.newaxis]
            values = values * weights
        return tf.reduce_sum(values), tf.cast(tf.size(values), tf.float32)

    def replica_step(batch):
        x, y, weights = unpack(batch)
        with tf.GradientTape() as tape:
            total, count = loss_sum_and_count(x, y, weights, True)
            global_count = tf.distribute.get_replica_context().all_reduce("sum", count)
            step_loss = total / tf.maximum(global_count, 1.0)
            scaled = optimizer.scale_loss(step_loss) if hasattr(optimizer, "scale_loss") else step_loss
        gradients = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return total, count

    # reduce_retracing: the last batch of a worker and carved-out batches have other sizes
    @graph_function(jit_compile=bool(options.jit_compile) and options.jit_compile != "auto", reduce_retracing=True)
    def train_step(batch):
        total, count = strategy.run(replica_step, args=(batch,))
        return (strategy.reduce("sum", total, axis=None), strategy.reduce("sum", count, axis=None))

    @graph_function(reduce_retracing=True)
    def eval_step(batch):
        x, y, weights = unpack(batch)
        return loss_sum_and_count(x, y, weights, False)

    history: dict = {"phase": phase, "loss": []}
    if eval_ds is not None:
        history["val_loss"] = []
    best, best_weights, waited = math.inf, None, 0
    log_rows = []
    for epoch in range(epochs):
        total = count = 0.0   # summed as tensors: reading them every step would wait for the device each step
        for step, batch in enumerate(dist_train):
            if options.steps_per_epoch and step >= options.steps_per_epoch:
                break
            batch_total, batch_count = train_step(batch)
            total, count = total + batch_total, count + batch_count
        history["loss"].append(float(total) / max(float(count), 1.0))
        row = {"epoch": epoch, "loss": history["loss"][-1]}
        if eval_ds is not None:
            eval_total = eval_count = 0.0
            for batch in eval_ds:
                batch_total, batch_count = eval_step(batch)
                eval_total, eval_count = eval_total + batch_total, eval_count + batch_count
            history["val_loss"].append(float(eval_total) / max(float(eval_count), 1.0))
            row["val_loss"] = history["val_loss"][-1]
        log_rows.append(row)
        if keras_verbosity(options.verbose):
            print(f"[tfpipe train] {phase} epoch {epoch + 1}/{epochs}: " +
                  ", ".join(f"{key} {value:.5f}" for key, value in row.items() if key != "epoch"), flush=True)
        if eval_ds is not None and options.patience:
            if history["val_loss"][-1] < best:
                best, best_weights, waited = history["val_loss"][-1], model.get_weights(), 0
            else:
                waited += 1
                if waited >= options.patience:
                    break
    if best_weights is not None:
        model.set_weights(best_weights)
    if options.log_dir:
        os.makedirs(options.log_dir, exist_ok=True)
        with open(os.path.join(options.log_dir, f"{phase}.csv"), "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(log_rows[0]) if log_rows else ["epoch", "loss"])
            writer.writeheader()
            writer.writerows(log_rows)
    return history


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

        serve = graph_function(lambda x: self.serve(x))
        preds, members, labels = [], [], []
        for x, y in dataset:
            x = {k: v for k, v in x.items() if k != "example_key"}
            out = serve(x)
            preds.append(out["predictions"].numpy())
            members.append(out["member_predictions"].numpy())
            labels.append(np.asarray(y))
        return {"predictions": np.concatenate(preds), "member_predictions": np.concatenate(members),
                "labels": np.concatenate(labels).reshape(-1)}
