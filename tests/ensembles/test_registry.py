import dataclasses
import inspect

import pytest

from tfpipe.ensembles import registry
from tfpipe.ensembles.ensemble_options import own_options
from tfpipe.ensembles.task import Task
from tfpipe.ensembles.train import build_ensemble
from tfpipe.ensembles.train_options import (BaggingOptions, BoostingOptions, KerasOptions, StackingOptions,
                                            TrainOptions)


@pytest.mark.parametrize("name", registry.names())
def test_every_entry_builds_its_class_from_its_own_options(name):
    entry = registry.get(name)
    cls = entry.load()
    assert cls.ensemble_kind == name
    assert "options" in inspect.signature(cls.from_options).parameters
    assert registry.of_options(entry.options()) is entry
    options = TrainOptions(ensemble=entry.options(members=3, member_kinds="dnn"), keras=KerasOptions(hidden=(8,)))
    model = build_ensemble(options, Task("binary"))
    assert type(model) is cls and len(model.member_names()) == 3


def test_options_reach_the_ensemble_that_reads_them():
    def build(ensemble, **keras):
        return build_ensemble(TrainOptions(ensemble=ensemble, keras=KerasOptions(**keras)), Task("binary"))

    assert build(StackingOptions(members=2, member_kinds="linear", folds=4)).n_folds == 4
    boosting = build(BoostingOptions(members=2, member_kinds="dnn", shrinkage=0.25, algorithm="adaboost"),
                     hidden=(64, 16))
    assert boosting.algorithm == "adaboost" and boosting.shrinkage == 0.25
    assert build(BaggingOptions(members=2, member_kinds="linear", bootstrap=False)).bootstrap is False


def test_each_kind_holds_only_its_own_options_and_checks_them():
    assert set(own_options(BaggingOptions())) == {"feature_fraction", "bootstrap"}
    assert set(own_options(StackingOptions())) == {"folds"}
    with pytest.raises(TypeError):
        BaggingOptions(folds=3)            # an option of another kind has no field to go in
    with pytest.raises(dataclasses.FrozenInstanceError):
        BaggingOptions().bootstrap = False
    with pytest.raises(ValueError, match="BaggingOptions.feature_fraction must be a number in \\(0, 1\\], got 1.5"):
        BaggingOptions(feature_fraction=1.5)
    with pytest.raises(ValueError, match="member kinds must be a comma list"):
        BaggingOptions(member_kinds="forest")


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="ensemble must be one of .*bagging"):
        registry.get("voting")
    with pytest.raises(ValueError, match="target must be"):
        registry.EnsembleKind("x", "no_colon", ("dnn",))
