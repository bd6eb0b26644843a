"""Learning-rate pacing of tree members under a deadline (ensembles/pacing.py), on real Adult rows."""
import json
import time

import numpy as np
import pytest

from tfpipe.ensembles import pacing
from tfpipe.ensembles.tree_members import TreeConfig
from tfpipe.ensembles.base import TreeData
from tfpipe.ensembles.xgboost_members import train_boosters
from tfpipe.ensembles.lightgbm_members import train_lightgbm_boosters
from tfpipe.ensembles.pacing import Pace


def test_pace_raises_the_rate_once_after_the_probe_only_when_the_rest_would_not_converge():
    far = Pace(deadline=time.monotonic() + 3600, rate=0.05, rounds=2000)
    assert far.rate_after(pacing.PROBE_ROUNDS) is None and far.paced is None     # 2000 rounds x 0.05 fit
    near = Pace(deadline=time.monotonic() + 2.0, rate=0.05, rounds=2000)
    near.started -= 1.0                                # 0.1 s a round: ~30 rounds fit → 30 / 30 = 1 → capped
    assert near.rate_after(pacing.PROBE_ROUNDS - 1) is None
    assert near.rate_after(pacing.PROBE_ROUNDS) == pacing.MAX_RATE == near.paced
    assert near.rate_after(pacing.PROBE_ROUNDS + 1) is None                      # decided once
    with pytest.raises(ValueError):
        Pace(time.monotonic(), rate=0.0, rounds=10)


@pytest.fixture(scope="module")
def trees(adult_task):
    train, test, compiled, task = adult_task("binary")
    return train, test, compiled.tree_features, task


@pytest.mark.parametrize("train_fn", [train_boosters, train_lightgbm_boosters], ids=["xgboost", "lightgbm"])
def test_a_deadline_paces_the_default_rate_but_never_a_rate_the_user_set(trees, monkeypatch, train_fn):
    train, test, features, task = trees
    monkeypatch.setattr(pacing, "TARGET", 1e9)         # any deadline is "too near": the rate is always raised
    deadline = time.monotonic() + 600
    config = TreeConfig(num_boost_round=40, early_stopping_rounds=0)
    quiet = lambda message: None                       # noqa: E731
    (paced,), (info,) = train_fn(TreeData(train, None, features), task, 1, config, log=quiet, deadline=deadline)
    assert info["paced_rate"] == pacing.MAX_RATE and info["rounds"] == 40
    (plain,), (plain_info,) = train_fn(TreeData(train, None, features), task, 1, config, log=quiet)
    assert "paced_rate" not in plain_info
    key = "eta" if train_fn is train_boosters else "learning_rate"
    user = TreeConfig(num_boost_round=40, early_stopping_rounds=0, **(
        {"params": ((key, 0.05),)} if key == "eta" else {"lgbm_params": ((key, 0.05),)}))
    (_,), (user_info,) = train_fn(TreeData(train, None, features), task, 1, user, log=quiet, deadline=deadline)
    assert "paced_rate" not in user_info
    if train_fn is train_boosters:
        eta = json.loads(paced.save_config())["learner"]["gradient_booster"]["tree_train_param"]["eta"]
        assert float(eta) == pytest.approx(pacing.MAX_RATE)
    # the first PROBE_ROUNDS trees are the same; the rest are larger steps (0.3 instead of 0.05)
    spread = lambda booster: np.ptp(_margins(booster, train, features))   # noqa: E731
    assert spread(paced) > 2 * spread(plain)


def _margins(booster, train, features):
    """Raw margins of the first train batch."""
    import xgboost as xgb

    from tfpipe.ensembles.tree_members import feature_types

    x = next(iter(train))[0]["tree"].numpy()
    if isinstance(booster, xgb.Booster):
        data = xgb.DMatrix(x, feature_types=feature_types(features), enable_categorical=True)
        return booster.predict(data, output_margin=True)
    return booster.predict(x, raw_score=True)
