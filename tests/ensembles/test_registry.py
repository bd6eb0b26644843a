import inspect

import pytest

from tfpipe.ensembles import registry
from tfpipe.ensembles.task import Task
from tfpipe.ensembles.train import ENSEMBLE_FLAGS, build_ensemble, check_applicable


@pytest.mark.parametrize("name", registry.names())
def test_every_entry_builds_its_class_and_reads_only_its_options(name):
    entry = registry.get(name)
    cls = entry.load()
    assert cls.ensemble_kind == name
    own = set(inspect.signature(cls.from_options).parameters) - {"task", "members", "kinds", "common", "hidden"}
    assert own == set(entry.options)                          # the registry says which options the class reads
    assert set(entry.options) <= set(ENSEMBLE_FLAGS)            # and each has a CLI flag
    model = build_ensemble(name, Task("binary"), 3, None, member_kind="dnn", hidden=(8,), folds=2, shrinkage=0.25)
    assert type(model) is cls and len(model.member_names()) == 3


def test_options_reach_the_ensemble_that_reads_them():
    assert build_ensemble("stacking", Task("binary"), 2, None, member_kind="linear", folds=4).n_folds == 4
    boosting = build_ensemble("boosting", Task("binary"), 2, None, member_kind="dnn", hidden=(64, 16),
                              shrinkage=0.25, boosting="adaboost")
    assert boosting.algorithm == "adaboost" and boosting.shrinkage == 0.25
    assert build_ensemble("bagging", Task("binary"), 2, None, member_kind="linear", bootstrap=False).bootstrap is False


def test_unknown_names_and_foreign_options_are_refused():
    with pytest.raises(ValueError, match="ensemble must be one of .*bagging"):
        registry.get("voting")
    with pytest.raises(ValueError, match="--shrinkage applies to boosting only"):
        check_applicable("stacking", None, {"shrinkage": 0.1}, {"shrinkage": 0.5})
    check_applicable("boosting", None, {"shrinkage": 0.1}, {"shrinkage": 0.5})   # its own: accepted
    with pytest.raises(ValueError, match="target must be"):
        registry.EnsembleKind("x", "no_colon", ("dnn",))
