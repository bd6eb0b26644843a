import numpy as np

from tfpipe.ensembles.base import FitOptions
from tfpipe.ensembles.bootstrap import fold_ids
from tfpipe.ensembles.metrics import roc_auc
from tfpipe.ensembles.stacking import StackingEnsemble
from tfpipe.ensembles.task import Task


def test_fold_weights_hold_out_each_fold(adult_binary):
    train, _, _ = adult_binary
    ens = StackingEnsemble(Task("binary"), ("linear", "dnn"), n_folds=3, seed=4)
    x, y, w = next(iter(ens._base_dataset(train, holdout=True)))
    w = w.numpy()
    folds = fold_ids(x["example_key"], 3, 4).numpy()
    assert w.shape == (len(folds), 2, 4)
    for f in range(3):
        assert np.all(w[folds == f, :, f] == 0) and np.all(w[folds != f, :, f] == 1)
    assert np.all(w[:, :, 3] == 1)                                   # the full-data refit sees everything


def test_stacking_trains_meta_on_oof_and_serves_full_copies(adult_binary):
    train, evals, compiled = adult_binary
    ens = StackingEnsemble(Task("binary"), ("linear", "dnn", "wide_deep"), n_folds=3, hidden=(16,),
                           embedding_specs=compiled.embedding_specs)
    hist = ens.fit_ensemble(train, evals, FitOptions(epochs=2, verbose=0))
    assert [h["phase"] for h in hist] == ["base_members", "meta_learner"]
    out = ens.predict_dataset(evals)
    assert out["member_predictions"].shape == (1000, 3)
    x, _ = next(iter(evals))
    logits = ens.base_logits(x).numpy()                              # [B, M, F+1, 1]
    np.testing.assert_allclose(out["member_predictions"][:500], 1 / (1 + np.exp(-logits[:, :, 3, 0])), atol=1e-5)
    kernel = ens.meta.kernel.numpy()
    assert not np.allclose(kernel, 1 / 3)                            # the meta-learner moved from the average
    assert roc_auc(out["labels"], out["predictions"]) > 0.85
