"""``ExportConfig`` (``proto/pipeline.proto``): what ``tfpipe train`` writes beside the trained model.

Like :mod:`tfpipe.ensembles.train_config`: the ``tfpipe train`` export flags are a view of this message
(:data:`FLAGS`), :func:`proto_from_args` turns parsed flags into it, ``tfpipe run`` reads it from a pipeline file
(``PipelineConfig.export``), and both become keyword arguments of :func:`tfpipe.train.train_ensemble` through
:func:`export_kwargs` only; unset fields take that function's defaults.

Example::

    >>> from tfpipe.proto import pipeline_pb2
    >>> export_kwargs(pipeline_pb2.ExportConfig(metric_splits=["test"], estimator_signatures=False))
    {'estimator_signatures': False, 'metric_splits': ('test',)}
"""
from __future__ import annotations

# field of ExportConfig -> the `tfpipe train` flag that sets it
FLAGS = {"estimator_signatures": "--no-estimator-signatures", "metric_splits": "--metric-splits",
         "report": "--no-report"}


def proto_from_args(args):
    """The ``ExportConfig`` of parsed ``tfpipe train`` arguments; flags not given stay unset."""
    from tfpipe.proto import pipeline_pb2

    config = pipeline_pb2.ExportConfig()
    for name in ("estimator_signatures", "report"):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    if args.metric_splits is not None:
        config.metric_splits.extend(split.strip() for split in args.metric_splits.split(",") if split.strip())
    return config


def export_kwargs(config) -> dict:
    """Keyword arguments of ``train_ensemble`` from an ``ExportConfig`` (unset fields: its defaults)."""
    options = {name: getattr(config, name) for name in ("estimator_signatures", "report") if config.HasField(name)}
    if len(config.metric_splits):
        options["metric_splits"] = tuple(config.metric_splits)
    return options
