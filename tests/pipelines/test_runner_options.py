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


def test_remote_workers_get_tfpipe_by_default_or_the_job_says_how(monkeypatch):
    from tfpipe.pipelines import runner_options

    # from a checkout (editable install): Beam builds tfpipe's sdist from its setup.py for the workers
    monkeypatch.setattr(runner_options, "checkout_setup_file", lambda: "/src/tfpipe/setup.py")
    assert _all("FlinkRunner", ["--flink_master=h:8081"])["setup_file"] == "/src/tfpipe/setup.py"
    assert _all("DataflowRunner", ["--sdk_container_image=img"])["setup_file"] is None   # the user chose
    assert _all("PortableRunner", ["--job_endpoint=localhost:1", "--environment_type=LOOPBACK"])["setup_file"] is None
    # installed from a wheel: no setup.py to hand to Beam, so the job says what to pass
    monkeypatch.setattr(runner_options, "checkout_setup_file", lambda: None)
    with pytest.raises(ValueError, match="--sdk_container_image"):
        pipeline_options("DataflowRunner", ["--project=p"])
    assert checkout_setup_file() is None or checkout_setup_file().endswith("setup.py")
