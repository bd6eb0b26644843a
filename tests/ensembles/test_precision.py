import keras
import numpy as np
import pytest

from tfpipe.ensembles.bagging import BaggingEnsemble
from tfpipe.ensembles.base import FitOptions
from tfpipe.ensembles.metrics import roc_auc
from tfpipe.ensembles.precision import policy_scope, resolve_precision, wrap_optimizer
from tfpipe.ensembles.task import Task


def test_resolve_precision():
    # measured (H100, K=16 bagging, XLA): float16 pays for wide members only; narrow ones are faster in float32
    assert resolve_precision("auto", compute_capability=(9, 0), widest_hidden=1024) == "mixed_float16"
    assert resolve_precision("auto", compute_capability=(7, 5), widest_hidden=512) == "mixed_float16"
    assert resolve_precision("auto", compute_capability=(9, 0), widest_hidden=64) == "float32"
    assert resolve_precision("auto", compute_capability=(9, 0)) == "float32"
    assert resolve_precision("auto", compute_capability=(6, 1), widest_hidden=1024) == "float32"
    assert resolve_precision("auto", compute_capability=None) == "float32"
    assert resolve_precision("auto") == "float32"          # CI has no GPU
    assert resolve_precision("mixed_float16") == "mixed_float16"
    with pytest.raises(ValueError):
        resolve_precision("float16")


def test_policy_scope_restores_and_loss_scaling():
    before = keras.mixed_precision.global_policy().name
    with policy_scope("mixed_float16"):
        assert keras.layers.Dense(1).compute_dtype == "float16"
        opt = wrap_optimizer(keras.optimizers.Adam(), "mixed_float16")
        assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
    assert keras.mixed_precision.global_policy().name == before
    assert not isinstance(wrap_optimizer(keras.optimizers.Adam(), "mixed_bfloat16"), keras.optimizers.LossScaleOptimizer)


@pytest.mark.parametrize("policy,compute", [("float32", "float32"), ("mixed_float16", "float16"),
                                            ("mixed_bfloat16", "bfloat16")])
def test_each_policy_trains(policy, compute, adult_binary):
    train, evals, compiled = adult_binary
    keras.utils.set_random_seed(0)
    with policy_scope(policy):
        ens = BaggingEnsemble(Task("binary"), 3, "wide_deep", hidden=(16,),
                              embedding_specs=compiled.embedding_specs)
        ens.build_on(next(iter(train))[0])
        history = ens.fit_ensemble(train, evals, FitOptions(epochs=2, verbose=0, policy=policy, patience=0))
    assert history[0]["loss"][-1] < history[0]["loss"][0]
    assert ens.stack.hidden_layers[0].compute_dtype == compute
    assert ens.stack.vectorized_embedding.compute_dtype == compute
    assert ens.stack.deep_out.compute_dtype == "float32" and ens.stack.linear_out.compute_dtype == "float32"
    assert {v.dtype for v in ens.weights} == {"float32"}
    out = ens.predict_dataset(evals)
    assert out["predictions"].dtype == np.float32 and out["member_predictions"].dtype == np.float32
    assert roc_auc(out["labels"], out["predictions"]) > 0.8
    if policy == "mixed_float16":
        assert isinstance(ens.optimizer, keras.optimizers.LossScaleOptimizer)
