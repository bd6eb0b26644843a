"""What ``tfpipe train`` writes beside the trained model: :class:`ExportOptions`, and ``ExportConfig``
(``proto/pipeline.proto``), its form in flags and pipeline files.

The ``tfpipe train`` export flags are a view of the message (:data:`FLAGS`), :func:`proto_from_args` turns parsed
flags into it, ``tfpipe run`` reads it from a pipeline file (``PipelineConfig.export``), and both become an
:class:`ExportOptions` through :func:`options_from_proto` only; unset fields keep the class's defaults.

Example::

    >>> from tfpipe.proto import pipeline_pb2
    >>> options_from_proto(pipeline_pb2.ExportConfig(metric_splits=["test"], estimator_signatures=False))
    ExportOptions(report=True, metric_splits=('test',), estimator_signatures=False)
"""
from __future__ import annotations

import dataclasses

# field of ExportConfig -> the `tfpipe train` flag that sets it
FLAGS = {"estimator_signatures": "--no-estimator-signatures", "metric_splits": "--metric-splits",
         "report": "--no-report"}


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """``report``: write ``MODEL_DIR/report.html`` (plots, permutation importance); ``metric_splits``: the splits
    measured into ``metrics.json`` (None: train, eval and every other split of the data);
    ``estimator_signatures``: add the classification / regression signatures of TF Serving's Classify / Regress
    APIs beside ``serving_default``."""

    report: bool = True
    metric_splits: tuple[str, ...] | None = None
    estimator_signatures: bool = True

    def __post_init__(self):
        for name in ("report", "estimator_signatures"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"ExportOptions.{name} must be True or False, got {getattr(self, name)!r}")
        splits = self.metric_splits
        if splits is not None:
            splits = tuple(s.strip() for s in (splits.split(",") if isinstance(splits, str) else splits))
            if not splits or not all(splits):
                raise ValueError(f"ExportOptions.metric_splits must name splits, got {self.metric_splits!r}")
            object.__setattr__(self, "metric_splits", splits)


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


def options_from_proto(config) -> ExportOptions:
    """The :class:`ExportOptions` of an ``ExportConfig`` (unset fields: the class's defaults)."""
    given = {name: getattr(config, name) for name in ("estimator_signatures", "report") if config.HasField(name)}
    if len(config.metric_splits):
        given["metric_splits"] = tuple(config.metric_splits)
    return ExportOptions(**given)
