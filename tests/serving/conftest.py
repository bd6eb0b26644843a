"""Session fixtures of the serving tests: one small model trained under mixed_bfloat16 on a small Adult DIR."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def trained(adult_small_dir, tmp_path_factory):
    """A TrainResult: bagging of a gbdt, an lgbm, a wide_deep and a dnn member, mixed_bfloat16, 1 epoch."""
    from tfpipe.ensembles.train import train_ensemble

    out = str(tmp_path_factory.mktemp("model"))
    return train_ensemble(adult_small_dir, out, label="income", ensemble="bagging", members=4, epochs=1,
                          batch_size=256, precision="mixed_bfloat16", strategy="default", seed=0, hidden=(16,),
                          verbose=0, report=False, member_kind="gbdt,lgbm,wide_deep,dnn", gbdt_rounds=60)
