"""Beam pipeline options of ``tfpipe preprocess``: the runner by name, the user's Beam flags checked, tfpipe's defaults.

Flags are spelled as Beam spells them (``--job_endpoint=localhost:8099``, ``--s3_endpoint_url=...``) and are
parsed by the same parser Beam builds from every registered ``PipelineOptions`` class (the runner's own, e.g.
``DaskOptions``, is imported first). A flag no class knows is an error that names the closest known flag,
instead of Beam's silent "discarding unparseable args". tfpipe's defaults (threads and one worker per core on
the DirectRunner; one chunk per Dask partition; quiet SDK workers) apply only to options the user did not set.

Workers of a remote runner (Dataflow, Flink, Spark, a portable runner with Docker workers) need tfpipe itself:
unless the user names how (``--setup_file``, ``--requirements_file``, ``--extra_package``,
``--sdk_container_image``), a job started from a tfpipe checkout passes ``--setup_file=<checkout>/setup.py``,
and Beam builds and stages tfpipe's sdist; otherwise tfpipe says what to pass.

Example::

    >>> resolve_runner("DaskRunner")
    'apache_beam.runners.dask.dask_runner.DaskRunner'
    >>> options = pipeline_options("DirectRunner", ["--direct_num_workers=3"])
    >>> options.get_all_options()["direct_num_workers"], options.get_all_options()["direct_running_mode"]
    (3, 'multi_threading')
    >>> pipeline_options("DirectRunner", ["--beam_option=x"])
    Traceback (most recent call last):
    ...
    ValueError: unknown Beam option --beam_option=x ...
"""
from __future__ import annotations

import difflib
import importlib
import os
from typing import Sequence

# Runners Beam does not resolve by short name (it only knows its own list); full paths always work.
RUNNER_PATHS = {"DaskRunner": "apache_beam.runners.dask.dask_runner.DaskRunner",
                "dask": "apache_beam.runners.dask.dask_runner.DaskRunner"}
_DIRECT = ("DirectRunner", "direct", "BundleBasedDirectRunner")


def resolve_runner(runner: str) -> str:
    return RUNNER_PATHS.get(runner, runner)


def is_direct(runner: str) -> bool:
    return runner in _DIRECT


def is_dask(runner: str) -> bool:
    return resolve_runner(runner).endswith("dask_runner.DaskRunner")


def _parser(runner: str):
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    if "." in runner:   # importing a runner's module registers its options class (DaskOptions, ...)
        try:
            importlib.import_module(runner.rsplit(".", 1)[0])
        except ImportError as error:
            extra = " (pip install 'apache-beam[dask]')" if is_dask(runner) else ""
            raise ValueError(f"--runner {runner}: cannot import it: {error}{extra}") from None
    parser = _BeamArgumentParser(allow_abbrev=False)
    classes: dict = {}
    for cls in PipelineOptions.__subclasses__():
        classes.setdefault(str(cls), cls)
    for cls in classes.values():
        cls._add_argparse_args(parser)  # pylint: disable=protected-access  (what Beam's get_all_options does)
    return parser


_REMOTE = ("DataflowRunner", "FlinkRunner", "SparkRunner", "PrismRunner")
_LOCAL_ENVIRONMENTS = ("LOOPBACK", "EXTERNAL", "beam:env:harness_subprocess_python:v1", "PROCESS")
_PACKAGING = {"setup_file", "requirements_file", "extra_packages", "sdk_container_image", "environment_config"}


def _needs_packaging(runner: str, flags: Sequence[str]) -> bool:
    """True when the runner's workers are other machines/containers that do not have this Python environment."""
    environment = next((flag.split("=", 1)[1] for flag in flags if flag.startswith("--environment_type=")), None)
    if runner.rsplit(".", 1)[-1] in _REMOTE:
        return environment not in _LOCAL_ENVIRONMENTS
    if runner.rsplit(".", 1)[-1] == "PortableRunner":
        return environment is None or environment.upper() == "DOCKER"
    return False


def checkout_setup_file():
    """``setup.py`` of the tfpipe checkout this package runs from (an editable install), or None."""
    import tfpipe

    root = os.path.dirname(os.path.dirname(os.path.abspath(tfpipe.__file__)))
    path = os.path.join(root, "setup.py")
    return path if os.path.isfile(path) and os.path.isdir(os.path.join(root, "pipelines")) else None


def _given(flags: Sequence[str], parser) -> set:
    """The destinations of the options the user named (even when set to their default value)."""
    given = set()
    for flag in flags:
        if flag.startswith("--"):
            action = parser._option_string_actions.get(flag.split("=", 1)[0])  # pylint: disable=protected-access
            if action is not None:
                given.add(action.dest)
    return given


def pipeline_options(runner: str, flags: Sequence[str] = ()):
    """Beam ``PipelineOptions`` for ``runner`` from the user's ``flags`` plus tfpipe's defaults.

    Raises ``ValueError`` for a flag no options class knows.
    """
    from apache_beam.options.pipeline_options import PipelineOptions

    runner = resolve_runner(runner)
    flags = list(flags)
    parser = _parser(runner)
    _, unknown = parser.parse_known_args(flags)
    unknown = [flag for flag in unknown if flag.startswith("-")]
    if unknown:
        known = [name for name in parser._option_string_actions if name.startswith("--")]  # pylint: disable=W0212
        hints = []
        for flag in unknown:
            close = difflib.get_close_matches(flag.split("=", 1)[0].replace("-", "_").replace("__", "--"), known, 1)
            hints.append(f"{flag}" + (f" (did you mean {close[0]}?)" if close else ""))
        raise ValueError(f"unknown Beam option {', '.join(hints)}; Beam options are spelled as Beam spells them, "
                         f"e.g. --job_endpoint=localhost:8099 (Beam's pipeline options reference and the runner's "
                         f"documentation list them)")
    given = _given(flags, parser)
    if is_direct(runner):
        if "direct_num_workers" not in given:
            flags.append(f"--direct_num_workers={os.cpu_count() or 1}")
        if "direct_running_mode" not in given:
            # Threads, not processes: the work is Arrow/NumPy kernels that release the GIL, and threads
            # skip the worker start-up and the pickling of every result between processes (measured faster).
            flags.append("--direct_running_mode=multi_threading")
    if is_dask(runner) and not given & {"npartitions", "partition_size"}:
        # Beam's DaskRunner puts 128 elements in a partition by default: all chunks would go to one worker.
        flags.append("--dask_partition_size=1")
    if _needs_packaging(runner, flags) and not given & _PACKAGING:
        setup_file = checkout_setup_file()
        if setup_file is None:
            raise ValueError(f"--runner {runner}: its workers need tfpipe installed; pass --setup_file=PATH/setup.py "
                             f"(a tfpipe checkout), --extra_package=tfpipe-*.tar.gz or --sdk_container_image=IMAGE")
        flags.append(f"--setup_file={setup_file}")
    if "default_sdk_harness_log_level" not in given:
        flags.append("--default_sdk_harness_log_level=WARNING")
    from tfpipe.pipelines.storage import environment_store_flags

    flags += environment_store_flags(flags)   # the store settings of the environment, for workers elsewhere too
    return PipelineOptions(flags=flags, runner=runner)
