"""Session fixtures of the ensembles tests: batches of the small Adult dataset through the production path
(``default_config`` features fitted from the statistics, compiled, ``make_dataset``), for three tasks; small data
and few epochs, so the suites stay fast on 2 CPU cores."""
from __future__ import annotations

import pytest

LABELS = {"binary": "income", "multiclass": "race", "regression": "age"}


@pytest.fixture(scope="session")
def adult_task(adult_small_dir):
    """``adult_task(kind)`` → ``(train_ds, test_ds, compiled, task)`` of ``adult_small_dir`` (3000 / 1000 rows)
    with label ``LABELS[kind]`` (income: binary; race: 5 classes; age: regression), batches of 256 / 500."""
    from tfpipe import features as tff
    from tfpipe.ensembles.task import task_from_label_spec
    from tfpipe.features.init_config import default_config

    made = {}

    def make(kind: str = "binary"):
        if kind not in made:
            label = LABELS[kind]
            spec = tff.fit_label(adult_small_dir, adult_small_dir, label)
            definitions = tff.fit(default_config(adult_small_dir, adult_small_dir, label=label,
                                                 numeric_embedding="none"), adult_small_dir)
            compiled = tff.compile_features(definitions, label_spec=spec)
            train = tff.make_dataset(adult_small_dir, "train", compiled, 256, cache=True, label=spec,
                                     deterministic=True)
            test = tff.make_dataset(adult_small_dir, "test", compiled, 500, cache=True, label=spec,
                                    deterministic=True)
            made[kind] = (train, test, compiled, task_from_label_spec(spec))
        return made[kind]

    return make


@pytest.fixture(scope="session")
def adult_binary(adult_task):
    """``(train_ds, test_ds, compiled)`` for the income label."""
    return adult_task("binary")[:3]
