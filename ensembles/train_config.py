"""``TrainConfig`` (``proto/pipeline.proto``): :class:`~tfpipe.ensembles.train_options.TrainOptions` as flags and
pipeline files write it.

Each message mirrors the dataclass of the same name field for field, so :func:`options_from_proto` is one walk
over the dataclass fields (unset proto fields keep the dataclass defaults: proto3 scalars 0 / "" are unset); the
ensemble kind is the ``ensemble`` oneof. ``tfpipe train``'s flags are a view of the message: :data:`FLAGS` names
the flag of every field path (a test checks that flags, message and dataclasses cover each other), and
:func:`proto_from_args` refuses a flag of another ensemble kind (``--folds`` on a bagging) before any work.
What to read and where to write (``--data``, ``--label``, ``--features``, ``--output``, ``--overwrite``) belong
to a run, not to the config.

Example::

    >>> from tfpipe.proto import pipeline_pb2
    >>> config = pipeline_pb2.TrainConfig()
    >>> config.boosting.members, config.boosting.shrinkage, config.keras.hidden[:] = 4, 0.25, [32]
    >>> options = options_from_proto(config)
    >>> options.ensemble
    BoostingOptions(members=4, member_kinds=(), algorithm='gradient', shrinkage=0.25, corrective=True)
    >>> options.keras.hidden, options.keras.epochs
    ((32,), 5)
"""
from __future__ import annotations

import dataclasses

from tfpipe.ensembles import registry
from tfpipe.ensembles.train_options import TrainOptions

# field path of TrainConfig -> the `tfpipe train` flag that sets it ("*": the chosen ensemble's message)
FLAGS = {
    "ensemble": "--ensemble", "*.members": "--members", "*.member_kinds": "--member-kind",
    "bagging.feature_fraction": "--feature-fraction", "bagging.bootstrap": "--no-bootstrap",
    "boosting.algorithm": "--boosting", "boosting.shrinkage": "--shrinkage", "boosting.corrective": "--no-corrective",
    "stacking.folds": "--folds",
    "keras.epochs": "--epochs", "keras.batch_size": "--batch-size", "keras.hidden": "--hidden",
    "keras.learning_rate": "--learning-rate", "keras.patience": "--patience",
    "trees.rounds": "--gbdt-rounds", "trees.early_stopping": "--gbdt-early-stopping",
    "trees.xgboost.params": "--gbdt-param", "trees.xgboost.device": "--gbdt-device",
    "trees.lightgbm.params": "--lgbm-param",
    "runtime.precision": "--precision", "runtime.strategy": "--strategy", "runtime.jit_compile": "--jit-compile",
    "runtime.seed": "--seed",
    "data.eval_fraction": "--eval-fraction", "data.cache_budget": "--cache-budget",
    "task": "--task", "time_limit": "--time-limit",
}


def dest(flag: str) -> str:
    """The argparse ``dest`` of a flag: ``--no-bootstrap`` → ``bootstrap``, ``--gbdt-param`` → ``gbdt_param``."""
    name = flag[2:]
    return (name[3:] if name.startswith("no-") else name).replace("-", "_")


def default_of(path: str):
    """The default of a field path, read off :class:`TrainOptions` (``*``: any ensemble's; ``ensemble``: the
    registry's default kind).

    >>> default_of("stacking.folds"), default_of("keras.hidden"), default_of("*.members"), default_of("ensemble")
    (5, (64, 32), None, 'selection')
    """
    if path == "ensemble":
        return registry.DEFAULT
    head, _, rest = path.partition(".")
    if head == "*" or head in registry.names():
        value = registry.get(registry.DEFAULT if head == "*" else head).options()
    else:
        value, rest = TrainOptions(), path
    for name in rest.split("."):
        value = getattr(value, name)
    return value


def _from_message(message, cls):
    return cls(**_given(message, cls))


def _given(message, cls) -> dict:
    """The fields of dataclass ``cls`` that ``message`` sets (nested messages made into their dataclasses)."""
    given = {}
    fields = message.DESCRIPTOR.fields_by_name
    for field in dataclasses.fields(cls):
        descriptor = fields.get(field.name)
        if descriptor is None:          # Python-only (verbose, devices): not in pipeline files
            continue
        value = getattr(message, field.name)
        if descriptor.is_repeated:
            if len(value):
                given[field.name] = tuple(value)
        elif descriptor.message_type is not None:
            if message.HasField(field.name):
                given[field.name] = _from_message(value, type(field.default))
        elif descriptor.has_presence:
            if message.HasField(field.name):
                given[field.name] = value
        elif value:                     # proto3 scalar: 0 / "" = unset
            given[field.name] = value
    return given


def options_from_proto(config, **python_only) -> TrainOptions:
    """The :class:`TrainOptions` of a ``TrainConfig``; ``python_only``: groups replaced on top, e.g.
    ``runtime=...`` to set the verbosity, which pipeline files do not carry (their fields are merged)."""
    kind = config.WhichOneof("ensemble") or registry.DEFAULT
    given = _given(config, TrainOptions)
    given["ensemble"] = _from_message(getattr(config, kind), registry.get(kind).options)
    if given.get("time_limit") == 0:      # TrainConfig's "no limit"
        given["time_limit"] = None
    for name, changes in python_only.items():
        given[name] = dataclasses.replace(given.get(name, getattr(TrainOptions(), name)), **changes)
    return TrainOptions(**given)


def _set(message, path: str, value) -> None:
    *parents, name = path.split(".")
    for parent in parents:
        message = getattr(message, parent)
    field = message.DESCRIPTOR.fields_by_name[name]
    if field.is_repeated:
        getattr(message, name).extend(value)
    else:
        setattr(message, name, value)


def _flag_value(path: str, value):
    if path == "*.member_kinds":
        return [kind.strip() for kind in value.split(",") if kind.strip()]
    if path == "keras.hidden":
        return [int(width) for width in value.split(",") if width.strip()]
    return value


def proto_from_args(args):
    """The ``TrainConfig`` of parsed ``tfpipe train`` arguments (see :mod:`tfpipe.train_cli`); flags not given
    stay unset. A flag of another ensemble kind than ``--ensemble``'s is a ValueError naming it."""
    from tfpipe.proto import pipeline_pb2

    config = pipeline_pb2.TrainConfig()
    kind = args.ensemble or registry.DEFAULT
    getattr(config, kind).SetInParent()
    wrong = []
    for path, flag in FLAGS.items():
        value = getattr(args, dest(flag))
        if path == "ensemble" or value is None:
            continue
        head = path.split(".")[0]
        if head in registry.names() and head != kind:
            wrong.append(f"{flag} applies to {head} only")
            continue
        _set(config, path.replace("*", kind, 1), _flag_value(path, value))
    if wrong:
        raise ValueError(f"{'; '.join(wrong)}; this is a {kind}: drop {'it' if len(wrong) == 1 else 'them'}")
    return config
