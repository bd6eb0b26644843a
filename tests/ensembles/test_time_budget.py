"""--time-limit auto: the probe times XGBoost's defaults on the first rows of the tree feed only, for every task,
and the limit it gives is the floor or the factor times the scaled estimate."""
import numpy as np
import pytest
import tensorflow as tf

from tfpipe.ensembles import time_budget
from tfpipe.ensembles.task import Task


def _batches(n, kind, classes=2, fail_after=None):
    """``(inputs, label)`` batches of 1,000 rows as the gbdt feed gives them; past ``fail_after`` batches the
    iterator raises, so a probe that reads further fails."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    x[:, 3] = rng.integers(0, 5, n)                      # a categorical column, as the tree block holds them
    y = {"binary": (x[:, 0] > 0).astype("int64"), "multiclass": rng.integers(0, classes, n),
         "regression": x[:, 0] * 2.0}[kind]
    for i, begin in enumerate(range(0, n, 1000)):
        if fail_after is not None and i >= fail_after:
            raise AssertionError(f"the probe read batch {i + 1}, past its rows")
        yield {"tree": tf.constant(x[begin:begin + 1000])}, tf.constant(y[begin:begin + 1000])


@pytest.mark.parametrize("task", [Task("binary"), Task("multiclass", 4), Task("regression")])
def test_the_probe_reads_only_its_rows_and_scales_to_the_table(task):
    types = ["q", "q", "q", "c"]
    est = time_budget.estimate_native_seconds(_batches(6000, task.kind, 4, fail_after=3), task, types,
                                              rows=3_000_000, probe_rows=2500)
    assert est.probe_rows == 2500 and est.rows == 3_000_000
    assert est.build_seconds > 0 and est.round_seconds > 0
    assert est.seconds == pytest.approx(3_000_000 / 2500 * (est.build_seconds + 100 * est.round_seconds))


def test_auto_deadline_uses_the_floor_below_the_skip_size_and_the_factor_above():
    seen = []
    small = time_budget.AutoDeadline(lambda limit: seen.append(limit) or 1000.0 + limit)
    assert small.resolve(_batches(1000, "binary"), Task("binary"), ["q"] * 4, rows=1000, log=seen.append) == 1120.0
    assert small.limit == 120.0 and small.estimate is None and "the floor" in seen[0]
    big = time_budget.AutoDeadline(lambda limit: limit)
    limit = big.resolve(_batches(3000, "binary"), Task("binary"), ["q"] * 4, rows=200_000_000, log=lambda m: None)
    assert big.estimate.probe_rows == 3000 and big.estimate.rows == 200_000_000
    assert limit == big.limit == max(time_budget.AUTO_FLOOR, time_budget.AUTO_FACTOR * big.estimate.seconds)
    assert big.to_json()["source"] == "auto" and big.to_json()["native_estimate"]["rows"] == 200_000_000


def test_an_empty_feed_is_a_clear_error():
    empty = _batches(0, "binary")
    with pytest.raises(ValueError, match="no rows"):
        time_budget.estimate_native_seconds(empty, Task("binary"), ["q"] * 4, rows=10)
