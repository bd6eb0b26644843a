"""``PreprocessConfig`` (``proto/pipeline.proto``): the one description of what ``tfpipe preprocess`` can be told.

The command's flags are a view of this message: :data:`FLAGS` names the flag of every field (a test checks that
the two cover each other), :func:`proto_from_args` turns parsed flags into the message, and ``tfpipe run`` reads
the same message from a pipeline file. Both become :class:`~tfpipe.pipelines.preprocess.PreprocessOptions`
through :func:`options_from_proto` only; unset fields take the defaults of ``PreprocessOptions``. Where to write
(``--output``, ``--overwrite``) and how to show it (``--quiet``, ``--verbose``) belong to a run, not to the
config.

Example::

    >>> from tfpipe.proto import pipeline_pb2
    >>> config = pipeline_pb2.PreprocessConfig(input=["train=a.csv"], label="y", key=["id"])
    >>> options = options_from_proto(config, "out")
    >>> options.inputs, options.key, options.compression, options.max_rejected_fraction
    (['train=a.csv'], ['id'], 'none', 0.0)
"""
from __future__ import annotations

# field of PreprocessConfig -> the `tfpipe preprocess` flag that sets it
FLAGS = {
    "input": "--input", "label": "--label", "format": "--format", "column_names": "--column-names",
    "schema": "--schema", "split": "--split", "key": "--key", "num_shards": "--num-shards",
    "compression": "--compression", "max_rejected_fraction": "--max-rejected-fraction", "value_maps": "--value-map",
    "runner": "--runner", "beam_args": "(any other --flag: a Beam option)", "delimiter": "--delimiter",
    "csv_multiline": "--csv-multiline", "null_values": "--null-values", "strip": "--no-strip",
    "chunk_bytes": "--chunk-mb", "report": "--no-report", "dataset_name": "--dataset-name",
    "max_field_bytes": "--max-field-bytes", "infer_schema": "--infer-schema",
}
_STRINGS = ("label", "format", "schema", "split", "compression", "runner", "delimiter", "dataset_name",
            "infer_schema")


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()] if text else []


def proto_from_args(args):
    """The ``PreprocessConfig`` of parsed ``tfpipe preprocess`` arguments (see :mod:`tfpipe.pipelines.cli`)."""
    from tfpipe.pipelines.preprocess import parse_value_maps
    from tfpipe.proto import pipeline_pb2

    config = pipeline_pb2.PreprocessConfig()
    config.input.extend(args.input)
    for name in _STRINGS:
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    config.column_names.extend(_names(args.column_names))
    config.key.extend(_names(args.key))
    if args.null_values is not None:
        config.null_values.extend(args.null_values.split(","))
    if args.num_shards is not None:
        config.num_shards = args.num_shards
    if args.max_rejected_fraction is not None:
        config.max_rejected_fraction = args.max_rejected_fraction
    if args.max_field_bytes is not None:
        config.max_field_bytes = args.max_field_bytes
    if args.chunk_mb is not None:
        config.chunk_bytes = args.chunk_mb << 20
    config.beam_args.extend(getattr(args, "extra_args", []))
    config.csv_multiline = bool(args.csv_multiline)
    if args.no_strip:
        config.strip = False
    if args.no_report:
        config.report = False
    for column, mapping in parse_value_maps(args.value_map).items():
        config.value_maps[column].values.update(mapping)
    return config


def options_from_proto(config, output: str, overwrite: bool = False, progress: bool = True):
    """``PreprocessOptions`` from a ``PreprocessConfig`` (unset fields: the defaults of ``PreprocessOptions``)."""
    from tfpipe.pipelines.preprocess import PreprocessOptions

    c = config
    options = dict(inputs=list(c.input), output=output, overwrite=overwrite, progress=progress)
    options.update({name: getattr(c, name) for name in _STRINGS if getattr(c, name)})
    for name in ("column_names", "key", "beam_args"):
        if len(getattr(c, name)):
            options[name] = list(getattr(c, name))
    if len(c.null_values):
        options["null_values"] = tuple(c.null_values)
    options.update({name: int(getattr(c, name)) for name in ("num_shards", "chunk_bytes") if getattr(c, name)})
    options.update({name: getattr(c, name) for name in ("max_rejected_fraction", "strip", "report",
                                                        "max_field_bytes") if c.HasField(name)})
    if c.csv_multiline:
        options["csv_multiline"] = True
    if c.value_maps:
        options["value_maps"] = {column: dict(mapping.values) for column, mapping in c.value_maps.items()}
    return PreprocessOptions(**options)
