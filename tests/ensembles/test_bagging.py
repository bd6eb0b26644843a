import keras
import numpy as np

from tfpipe.ensembles.bagging import BaggingEnsemble
from tfpipe.ensembles.base import FitOptions
from tfpipe.ensembles.bootstrap import poisson_weights
from tfpipe.ensembles.metrics import roc_auc
from tfpipe.ensembles.task import Task


def _weights(ens, ds):
    return np.concatenate([w.numpy() for _, _, w in ens.training_dataset(ds)])


def test_bootstrap_weights_fixed_per_epoch_and_keyed(adult_binary):
    train, _, _ = adult_binary
    ens = BaggingEnsemble(Task("binary"), 4, seed=3)
    w1, w2 = _weights(ens, train), _weights(ens, train)
    np.testing.assert_array_equal(w1, w2)
    keys = np.concatenate([x["example_key"].numpy() for x, _ in train])
    np.testing.assert_array_equal(w1, poisson_weights(keys, 4, 3).numpy())
    x, y, w = next(iter(ens.training_dataset(train, bootstrap=False)))
    assert np.all(w.numpy() == 1) and y.shape[1:] == (1, 1)


def test_bagging_one_pass_trains_distinct_members_and_averages(adult_binary):
    train, evals, compiled = adult_binary
    keras.utils.set_random_seed(1)
    ens = BaggingEnsemble(Task("binary"), 4, "wide_deep", hidden=(16,), embedding_specs=compiled.embedding_specs)
    ens.build_on(next(iter(train))[0])
    ens.fit_ensemble(train, evals, FitOptions(epochs=3, verbose=0, patience=0))
    out = ens.predict_dataset(evals)
    members = out["member_predictions"]
    assert members.shape == (1000, 4)
    np.testing.assert_allclose(out["predictions"], members.mean(1), rtol=1e-6)
    assert np.abs(members[:, 0] - members[:, 1]).mean() > 1e-3                # bootstrap makes them differ
    assert roc_auc(out["labels"], out["predictions"]) > 0.85


def test_bagging_multiclass_and_regression_with_feature_subsets(adult_task):
    for kind in ("multiclass", "regression"):
        train, _, compiled, task = adult_task(kind)
        ens = BaggingEnsemble(task, 3, "dnn", hidden=(16,), embedding_specs=compiled.embedding_specs,
                              feature_fraction=0.6)
        ens.build_on(next(iter(train))[0])
        h = ens.fit_ensemble(train, None, FitOptions(epochs=2, verbose=0))
        assert h[0]["loss"][-1] < h[0]["loss"][0]
        out = ens.predict_dataset(train)
        if task.kind == "multiclass":
            k = task.n_classes
            assert out["predictions"].shape == (3000, k) and out["member_predictions"].shape == (3000, 3, k)
            np.testing.assert_allclose(out["predictions"].sum(1), 1.0, atol=1e-5)
        else:
            assert out["predictions"].shape == (3000,)
