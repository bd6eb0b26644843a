"""Greedy ensemble selection: weights from held-out predictions, useless members get weight 0."""
import numpy as np
import pytest

from tfpipe.ensembles.greedy_selection import _loss, select
from tfpipe.ensembles.task import Task


def test_binary_mixes_two_complementary_members_and_drops_noise():
    rng = np.random.default_rng(1)
    n = 4000
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(a + b)))).astype(int)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    members = np.stack([sig(2 * a), sig(2 * b), rng.uniform(0.01, 0.99, n)], axis=1)
    weights, losses = select(members, y, Task("binary"))
    assert weights[2] == 0.0 and weights[0] > 0.2 and weights[1] > 0.2
    assert weights.sum() == pytest.approx(1.0)
    mixed = members @ weights
    assert _loss(mixed, y, Task("binary")) == pytest.approx(losses[-1])
    assert losses[-1] < min(_loss(members[:, j], y, Task("binary")) for j in range(3))
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))


def test_multiclass_and_regression():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 1000)
    good = np.full((1000, 3), 0.1)
    good[np.arange(1000), y] = 0.8
    flat = np.full((1000, 3), 1 / 3)
    weights, _ = select(np.stack([flat, good], axis=1), y, Task("multiclass", 3))
    assert weights.tolist() == [0.0, 1.0]
    target = rng.normal(size=500)
    weights, _ = select(np.stack([target + 1.0, target - 1.0, np.zeros(500)], axis=1), target, Task("regression"))
    assert weights[0] == pytest.approx(0.5) and weights[1] == pytest.approx(0.5) and weights[2] == 0.0


def test_one_member_gets_all_weight_and_no_member_is_refused():
    weights, _ = select(np.full((10, 1), 0.3), np.zeros(10), Task("binary"))
    assert weights.tolist() == [1.0]
    with pytest.raises(ValueError, match="at least one member"):
        select(np.zeros((10, 0)), np.zeros(10), Task("binary"))
