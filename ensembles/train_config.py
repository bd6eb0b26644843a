"""``TrainConfig`` (``proto/pipeline.proto``): the one description of what ``tfpipe train`` can be told.

The command's flags are a view of this message: :data:`FLAGS` names the flag of every field (a test checks that
the two cover each other), :func:`proto_from_args` turns parsed flags into the message, and ``tfpipe run`` reads
the same message from a pipeline file. Both become keyword arguments of
:func:`~tfpipe.train.train_ensemble` through :func:`train_kwargs` only; unset fields take the defaults of
``train_ensemble``. What to read and where to write (``--data``, ``--label``, ``--features``, ``--output``,
``--overwrite``) belong to a run, not to the config.

Example::

    >>> from tfpipe.proto import pipeline_pb2
    >>> train_kwargs(pipeline_pb2.TrainConfig(ensemble="boosting", members=4, hidden=[32], shrinkage=0.25))
    {'ensemble': 'boosting', 'members': 4, 'shrinkage': 0.25, 'hidden': (32,)}
"""
from __future__ import annotations

# field of TrainConfig -> the `tfpipe train` flag that sets it
FLAGS = {
    "ensemble": "--ensemble", "members": "--members", "epochs": "--epochs", "batch_size": "--batch-size",
    "precision": "--precision", "strategy": "--strategy", "seed": "--seed", "task": "--task",
    "member_kind": "--member-kind", "hidden": "--hidden", "feature_fraction": "--feature-fraction",
    "folds": "--folds", "boosting": "--boosting", "shrinkage": "--shrinkage", "corrective": "--no-corrective",
    "learning_rate": "--learning-rate", "eval_fraction": "--eval-fraction", "patience": "--patience",
    "jit_compile": "--jit-compile", "gbdt_param": "--gbdt-param",
    "lgbm_param": "--lgbm-param", "gbdt_rounds": "--gbdt-rounds", "gbdt_early_stopping": "--gbdt-early-stopping",
    "gbdt_device": "--gbdt-device", "bootstrap": "--no-bootstrap", "time_limit": "--time-limit",
    "cache_budget": "--cache-budget",
}
_STRINGS = ("ensemble", "precision", "strategy", "task", "member_kind", "boosting", "gbdt_device", "jit_compile",
            "cache_budget")
_COUNTS = ("members", "epochs", "batch_size")        # proto3 scalars: 0 = unset
_OPTIONALS = ("seed", "feature_fraction", "folds", "shrinkage", "corrective", "learning_rate", "eval_fraction",
              "patience", "gbdt_rounds", "gbdt_early_stopping", "bootstrap", "time_limit")


def proto_from_args(args):
    """The ``TrainConfig`` of parsed ``tfpipe train`` arguments (see :mod:`tfpipe.train_cli`); flags left at
    their defaults stay unset."""
    from tfpipe.proto import pipeline_pb2

    config = pipeline_pb2.TrainConfig()
    for name in _STRINGS + _COUNTS + _OPTIONALS:
        value = getattr(args, name)
        if value is not None:
            setattr(config, name, value)
    if args.hidden is not None:
        config.hidden.extend(int(width) for width in args.hidden.split(",") if width)
    config.gbdt_param.extend(args.gbdt_param or ())
    config.lgbm_param.extend(args.lgbm_param or ())
    return config


def train_kwargs(config) -> dict:
    """Keyword arguments of ``train_ensemble`` from a ``TrainConfig`` (unset fields: the function's defaults)."""
    c = config
    options = {name: getattr(c, name) for name in _STRINGS if getattr(c, name)}
    options.update({name: int(getattr(c, name)) for name in _COUNTS if getattr(c, name)})
    options.update({name: getattr(c, name) for name in _OPTIONALS if c.HasField(name)})
    if options.get("time_limit") == 0:     # TrainConfig's "no limit" (unset: train_ensemble's default, auto)
        options["time_limit"] = None
    if len(c.hidden):
        options["hidden"] = tuple(int(width) for width in c.hidden)
    if len(c.gbdt_param):
        options["gbdt_params"] = list(c.gbdt_param)
    if len(c.lgbm_param):
        options["lgbm_params"] = list(c.lgbm_param)
    return options
