"""Fixtures shared by every stage's tests: the bundled UCI Adult data, preprocessed once per session."""
from __future__ import annotations

import os

import pytest

from tfpipe.demo import adult_dir, adult_preprocess_options


@pytest.fixture(scope="session")
def adult_raw_dir() -> str:
    """Directory of the bundled, unmodified adult.data / adult.test."""
    return adult_dir()


@pytest.fixture(scope="session")
def adult_data_dir(tmp_path_factory) -> str:
    """``tfpipe preprocess`` output for the bundled Adult files (splits train and test), made once."""
    from tfpipe.pipelines import run_preprocess

    output = str(tmp_path_factory.mktemp("adult") / "adult")
    run_preprocess(adult_preprocess_options(output, progress=False))
    assert os.path.exists(os.path.join(output, "manifest.json"))
    return output
