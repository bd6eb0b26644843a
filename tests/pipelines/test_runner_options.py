import pytest

from tfpipe.pipelines.runner_options import checkout_setup_file, pipeline_options, resolve_runner


def _all(runner, flags):
    return pipeline_options(runner, flags).get_all_options()


def test_tfpipe_defaults_apply_only_to_options_the_user_did_not_set():
    assert _all("DirectRunner", [])["direct_running_mode"] == "multi_threading"
    chosen = _all("DirectRunner", ["--direct_num_workers=1", "--direct_running_mode=multi_processing"])
    assert chosen["direct_num_workers"] == 1 and chosen["direct_running_mode"] == "multi_processing"


def test_unknown_or_misspelt_beam_options_are_errors_that_name_the_closest_option():
    with pytest.raises(ValueError, match=r"unknown Beam option --beam_option=x"):
        pipeline_options("DirectRunner", ["--beam_option=x"])
    with pytest.raises(ValueError, match=r"--s3_endpoint=http://x \(did you mean --s3_endpoint_url\?\)"):
        pipeline_options("DirectRunner", ["--s3_endpoint=http://x"])


def test_runner_short_names_and_worker_packaging():
    pytest.importorskip("distributed")
    assert resolve_runner("DaskRunner") == "apache_beam.runners.dask.dask_runner.DaskRunner"
    dask = _all("DaskRunner", ["--dask_client_address=127.0.0.1:1"])
    assert dask["partition_size"] == 1 and dask["address"] == "127.0.0.1:1"   # one chunk per Dask partition
    # remote workers get tfpipe from this checkout's setup.py unless told otherwise; local workers need nothing
    assert checkout_setup_file() and _all("FlinkRunner", ["--flink_master=h:8081"])["setup_file"] == checkout_setup_file()
    assert _all("DataflowRunner", ["--sdk_container_image=img"])["setup_file"] is None
    assert _all("PortableRunner", ["--job_endpoint=localhost:1", "--environment_type=LOOPBACK"])["setup_file"] is None
