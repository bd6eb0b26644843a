"""Session fixtures of the ensembles tests (small data, few epochs: the suites must stay fast on 2 CPU cores)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def synthetic_binary():
    """(train_ds, eval_ds, vocab) of synthetic Adult-shaped data."""
    from tfpipe.ensembles.synthetic import synthetic_dataset
    from tfpipe.ensembles.task import Task

    train, vocab = synthetic_dataset(3000, Task("binary"), batch_size=256, seed=0)
    evals, _ = synthetic_dataset(1000, Task("binary"), batch_size=500, seed=1, key_offset=10 ** 6)
    return train, evals, vocab
