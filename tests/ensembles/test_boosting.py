import numpy as np
import pytest

from tfpipe.ensembles.base import FitOptions
from tfpipe.ensembles.boosting import BoostingEnsemble
from tfpipe.ensembles.metrics import compute_metrics
from tfpipe.ensembles.task import Task


def test_gradient_boosting_regression_stages_reduce_error(adult_task):
    train, _, compiled, task = adult_task("regression")
    ens = BoostingEnsemble(task, 3, "dnn", hidden=(16,), embedding_specs=compiled.embedding_specs,
                           shrinkage=0.5, corrective=False)
    hist = ens.fit_ensemble(train, None, FitOptions(epochs=2, verbose=0))
    assert [h["phase"] for h in hist] == ["stage_0", "stage_1", "stage_2"]
    out = ens.predict_dataset(train)
    rmse = [compute_metrics("regression", out["labels"], out["member_predictions"][:, m])["rmse"] for m in range(3)]
    assert rmse[0] > rmse[1] > rmse[2]
    np.testing.assert_allclose(out["predictions"], out["member_predictions"][:, -1], rtol=1e-6)
    base = np.sqrt(np.mean((out["labels"] - out["labels"].mean()) ** 2))
    assert rmse[2] < 0.9 * base                     # age from the other Adult columns: R^2 ~ 0.3


def test_gradient_boosting_binary_with_corrective(adult_binary):
    train, evals, compiled = adult_binary
    ens = BoostingEnsemble(Task("binary"), 2, "dnn", hidden=(16,), embedding_specs=compiled.embedding_specs)
    hist = ens.fit_ensemble(train, evals, FitOptions(epochs=2, verbose=0))
    assert hist[-1]["phase"] == "corrective"
    out = ens.predict_dataset(evals)
    assert compute_metrics("binary", out["labels"], out["predictions"])["auc"] > 0.85
    assert np.all((out["predictions"] >= 0) & (out["predictions"] <= 1))


def test_adaboost_samme_multiclass(adult_task):
    train, _, compiled, task = adult_task("multiclass")
    k = task.n_classes
    ens = BoostingEnsemble(task, 2, "dnn", hidden=(16,), embedding_specs=compiled.embedding_specs,
                           algorithm="adaboost")
    hist = ens.fit_ensemble(train, None, FitOptions(epochs=2, verbose=0))
    alphas = ens.stage_weights.numpy()
    assert alphas[0] > 0 and hist[0]["error"] < 1 - 1 / k             # better than chance -> positive alpha
    assert alphas[0] == pytest.approx(np.log((1 - hist[0]["error"]) / hist[0]["error"]) + np.log(k - 1), rel=1e-5)
    out = ens.predict_dataset(train)
    np.testing.assert_allclose(out["predictions"].sum(1), 1.0, atol=1e-5)
    a = alphas / alphas.sum()
    np.testing.assert_allclose(out["predictions"], np.einsum("bmc,m->bc", out["member_predictions"], a), atol=1e-5)


def test_adaboost_rejects_regression():
    with pytest.raises(ValueError):
        BoostingEnsemble(Task("regression"), 2, algorithm="adaboost")


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_newton_stage_loss_matches_hand_computed_weighted_least_squares(kind):
    task = Task(kind, 3) if kind == "multiclass" else Task(kind)
    u = task.units
    rng = np.random.default_rng(0)
    prev = rng.normal(size=(5, u)).astype("float32") * 2
    h = rng.normal(size=(5, u)).astype("float32")
    y = rng.integers(0, 3 if kind == "multiclass" else 2, size=5)
    ens = BoostingEnsemble(task, 2, "dnn", hidden=(4,), step="newton")
    got = np.asarray(ens._gradient_loss(1)(y, np.concatenate([prev, h], axis=1)))
    if kind == "binary":
        p = 1 / (1 + np.exp(-prev))
        r = y[:, None] - p
    else:
        p = np.exp(prev) / np.exp(prev).sum(1, keepdims=True)
        r = np.eye(3)[y] - p
    w = p * (1 - p)                                              # diagonal Hessian of the loss
    want = np.mean(w * (h - r / w) ** 2, axis=1)                # weighted least squares on the Newton target
    np.testing.assert_allclose(got, want, rtol=1e-4)
    # the minimizer of the stage loss is the Newton step -g / H, not the negative gradient
    plain = np.asarray(BoostingEnsemble(task, 2, "dnn", hidden=(4,), step="gradient")._gradient_loss(1)(
        y, np.concatenate([prev, r / w], axis=1)))
    np.testing.assert_allclose(np.asarray(ens._gradient_loss(1)(y, np.concatenate([prev, r / w], axis=1))), 0,
                               atol=1e-5)
    assert np.all(plain > 0)


def test_newton_step_lowers_training_loss_more_than_gradient_step(adult_binary):
    train, _, compiled = adult_binary
    losses = {}
    for step in ("gradient", "newton"):
        ens = BoostingEnsemble(Task("binary"), 2, "dnn", hidden=(16,), embedding_specs=compiled.embedding_specs,
                               shrinkage=0.5, corrective=False, step=step)
        ens.fit_ensemble(train, None, FitOptions(epochs=2, verbose=0))
        out = ens.predict_dataset(train)
        losses[step] = compute_metrics("binary", out["labels"], out["predictions"])["logloss"]
    assert losses["newton"] < losses["gradient"]


def test_unknown_step_rejected():
    with pytest.raises(ValueError):
        BoostingEnsemble(Task("binary"), 2, step="adam")
