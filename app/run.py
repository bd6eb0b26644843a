"""``tfpipe run CONFIG``: one ``PipelineConfig`` file (proto/pipeline.proto) → preprocess → train → export → evaluate.

Writes ``OUTPUT/data`` (the ``tfpipe preprocess`` output), ``OUTPUT/model`` (the ``tfpipe train`` output: the
SavedModel, metrics of every split computed through it, the report) and ``OUTPUT/pipeline.pbtxt``: the config as
run, every path made absolute, so that the run can be repeated from anywhere. Paths in a config are relative to
the config file; ``tfpipe-data:adult/adult.data`` names a file bundled with tfpipe (so the shipped
``examples/adult.pbtxt`` runs from any directory). The same config on the same machine gives byte-identical
shards and the same metrics (seeded; deterministic ops on CPU).

OUTPUT may be on a store (``--output s3://bucket/run``; settings as for every command: the store's own
configuration, e.g. ``AWS_ENDPOINT_URL``, or ``--s3_endpoint_url=...``).

Example::

    $ tfpipe run examples/adult.pbtxt --output /tmp/adult_run
"""
from __future__ import annotations

import os
import sys

from tfpipe.pipelines import storage

BUNDLED = "tfpipe-data:"
RESOLVED_CONFIG = "pipeline.pbtxt"


def bundled_data_dir() -> str:
    from importlib import resources

    return str(resources.files("tfpipe.data"))


def resolve_path(path: str, base: str) -> str:
    """``path`` of a config in folder ``base``: bundled, a URL, absolute, or relative to ``base``."""
    if not path:
        return path
    if path.startswith(BUNDLED):
        return os.path.join(bundled_data_dir(), path[len(BUNDLED):])
    if not storage.is_local(path) or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base, path))


def _resolve_input(spec: str, base: str) -> str:
    split, sep, path = spec.partition("=")
    if sep and split.isidentifier() and storage.scheme(spec) is None:
        return f"{split}={resolve_path(path, base)}"
    return resolve_path(spec, base)


def load_pipeline_config(path: str):
    """Reads a text ``PipelineConfig`` and returns it with every path resolved (absolute)."""
    from google.protobuf import text_format

    from tfpipe.proto import pipeline_pb2

    with open(path, encoding="utf-8") as handle:
        try:
            config = text_format.Parse(handle.read(), pipeline_pb2.PipelineConfig())
        except text_format.ParseError as error:
            hint = ""
            if '"tfpipe.proto.TrainConfig" has no field' in str(error):   # a file of before the nested config
                hint = ("; `train` is nested by concern since 2026-12-07, e.g. train { bagging { members: 8 } "
                        "keras { epochs: 5 } runtime { seed: 0 } } (proto/pipeline.proto, TrainConfig)")
            raise ValueError(f"{path}: {error}{hint}") from None
    base = os.path.dirname(os.path.abspath(path))
    inputs = [_resolve_input(spec, base) for spec in config.preprocess.input]
    del config.preprocess.input[:]
    config.preprocess.input.extend(inputs)
    config.preprocess.schema = resolve_path(config.preprocess.schema, base)
    config.features = resolve_path(config.features, base)
    if not config.preprocess.input:
        raise ValueError(f"{path}: preprocess.input is empty: name the data to read")
    return config


def _check_output(output: str, overwrite: bool) -> None:
    """OUTPUT (local or on a store) may be new, empty, or (with ``overwrite``) an earlier ``tfpipe run`` output;
    nothing else."""
    if storage.is_local(output):
        if not os.path.exists(output) or (os.path.isdir(output) and not os.listdir(output)):
            return
    elif not storage.list_files(output):
        return
    earlier = storage.exists(storage.join(output, RESOLVED_CONFIG))
    if not earlier:
        raise ValueError(f"refusing to write into {output}: it exists and is not an earlier `tfpipe run` output "
                         f"(no {RESOLVED_CONFIG}); choose another --output")
    if not overwrite:
        raise ValueError(f"{output} holds an earlier `tfpipe run` output; pass --overwrite to replace it")


def run_pipeline(config, output: str, overwrite: bool = False, progress: bool = True) -> dict:
    """Runs a (resolved) ``PipelineConfig`` into ``output``; returns ``{"data", "model", "metrics", "config"}``."""
    from google.protobuf import text_format

    from tfpipe.train import train_ensemble
    from tfpipe.ensembles.train_config import options_from_proto as train_options
    from tfpipe.pipelines import run_preprocess
    from tfpipe.pipelines.preprocess_config import options_from_proto
    from tfpipe.serving.export_config import options_from_proto as export_options

    output = storage.absolute(storage.check_supported(output))
    _check_output(output, overwrite)
    if storage.is_local(output):
        os.makedirs(output, exist_ok=True)
    data_dir, model_dir = storage.join(output, "data"), storage.join(output, "model")
    resolved = storage.join(output, RESOLVED_CONFIG)
    # first: the folder is recognisably ours from now on
    storage.write_text(resolved, text_format.MessageToString(config))
    print(f"== preprocess -> {data_dir}", file=sys.stderr, flush=True)
    manifest = run_preprocess(options_from_proto(config.preprocess, data_dir, overwrite, progress))
    print(f"== train -> {model_dir}", file=sys.stderr, flush=True)
    options = train_options(config.train, runtime={"verbose": "auto" if progress else 0})
    result = train_ensemble(data_dir, model_dir, options, features_config=config.features or None,
                            overwrite=overwrite, export=export_options(config.export))
    return {"data": data_dir, "model": model_dir, "metrics": result.metrics, "manifest": manifest,
            "config": resolved, "result": result}


def register(subparsers) -> None:
    """Adds the ``run`` subcommand."""
    parser = subparsers.add_parser("run", help="run a whole pipeline from one PipelineConfig file",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("config", help="a PipelineConfig in text format (proto/pipeline.proto)")
    parser.add_argument("--output", help="output folder (default: ./NAME from the config, else the file's name)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier `tfpipe run` output")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.set_defaults(handler=run)


def run(args) -> int:
    config = load_pipeline_config(args.config)
    name = config.name or os.path.splitext(os.path.basename(args.config))[0]
    out = run_pipeline(config, args.output or name, overwrite=args.overwrite, progress=not args.quiet)
    print(f"data: {out['data']}\nmodel: {out['model']}\nconfig as run: {out['config']}")
    return 0
