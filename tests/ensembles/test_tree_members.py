"""What tree members of both libraries share: config validation, CLI params, the layer's library dispatch."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tfpipe.ensembles.member_kinds import parse_member_kinds
from tfpipe.ensembles.members import make_member
from tfpipe.ensembles.member_kinds import LIBRARY_OF_KIND
from tfpipe.ensembles.tree_members import TRAINERS, TreeConfig, TreeMembers
from tfpipe.ensembles.tree_params import parse_params


def test_params_and_kinds_are_validated():
    assert parse_params(["max_depth=4", "eta=0.1", "grow_policy=lossguide", "x=true"]) == (
        ("max_depth", 4), ("eta", 0.1), ("grow_policy", "lossguide"), ("x", True))
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_params(["max_depth"])
    with pytest.raises(ValueError, match="--gbdt-param.*set by tfpipe"):
        TreeConfig(params=parse_params(["objective=reg:gamma"]))
    with pytest.raises(ValueError, match="--lgbm-param.*set by tfpipe"):
        TreeConfig(lgbm_params={"linear_tree": True})
    with pytest.raises(ValueError, match="device"):
        TreeConfig(device="tpu")
    with pytest.raises(ValueError, match="comma list"):
        parse_member_kinds("gbdt,forest")
    with pytest.raises(ValueError, match="library"):
        TreeMembers(1, 1, library="catboost")


def test_no_tree_library_is_imported_until_a_member_trains():
    code = ("import sys; import tfpipe.ensembles.tree_members, tfpipe.ensembles.members, tfpipe.train; "
            "print(sorted(m for m in ('xgboost', 'lightgbm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert set(TRAINERS) == set(LIBRARY_OF_KIND.values())


@pytest.mark.parametrize("kind", ["gbdt", "lgbm"])
def test_each_kind_trains_through_its_library_and_serves_zeros_before(kind, adult_task):
    train_ds, test_ds, compiled, task = adult_task("binary")
    layer = make_member(kind, 1, task.units, name=kind, gbdt_config=TreeConfig(num_boost_round=5, device="cpu"))
    inputs = next(iter(test_ds))[0]
    assert not layer.fitted and np.all(layer(inputs).numpy() == 0)
    history = layer.fit(train_ds, None, task, compiled.tree_features)
    assert layer.fitted and history["models"][0]["rounds"] == 5
    assert type(layer.boosters[0]).__module__.split(".")[0] == LIBRARY_OF_KIND[kind]
    assert layer(inputs).shape == (inputs["tree"].shape[0], 1, 1) and np.std(layer(inputs).numpy()) > 0
