import numpy as np
from sklearn.metrics import log_loss, mean_absolute_error, roc_auc_score

from tfpipe.ensembles.metrics import compute_metrics, ensemble_metrics, roc_auc


def test_binary_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.clip(rng.random(500) * 0.6 + y * 0.3, 0, 1).round(2)   # with ties
    m = compute_metrics("binary", y, p)
    assert abs(m["auc"] - roc_auc_score(y, p)) < 1e-12
    assert abs(m["logloss"] - log_loss(y, np.clip(p, 1e-7, 1 - 1e-7))) < 1e-9
    assert m["accuracy"] == np.mean((p > 0.5) == y)
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_multiclass_and_regression_metrics():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    p = rng.dirichlet([1, 1, 1], 300)
    m = compute_metrics("multiclass", y, p)
    assert abs(m["auc"] - roc_auc_score(y, p, multi_class="ovr", average="macro")) < 1e-9
    assert abs(m["logloss"] - log_loss(y, p)) < 1e-6
    r = compute_metrics("regression", [1.0, 2.0, 4.0], [1.0, 3.0, 2.0])
    assert abs(r["rmse"] - np.sqrt(5 / 3)) < 1e-12 and abs(r["mae"] - mean_absolute_error([1, 2, 4], [1, 3, 2])) < 1e-12


def test_ensemble_metrics_best_member():
    y = np.array([0, 1, 0, 1])
    members = np.array([[0.1, 0.6], [0.9, 0.4], [0.2, 0.5], [0.8, 0.3]])
    m = ensemble_metrics("binary", y, members.mean(1), members, ["good", "bad"])
    assert m["best_member"] == "good" and m["members"]["good"]["auc"] == 1.0
