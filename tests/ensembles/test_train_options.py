"""TrainOptions: frozen, checked on creation, the error naming the field and echoing the value; an option that
does not apply to the chosen ensemble cannot be expressed or is refused."""
import dataclasses

import pytest

from tfpipe.ensembles.train_options import (BaggingOptions, DataOptions, KerasOptions, LightGBMOptions,
                                            RuntimeOptions, SelectionOptions, StackingOptions, TrainOptions,
                                            TreeOptions, XGBoostOptions)


@pytest.mark.parametrize("make,message", [
    (lambda: KerasOptions(epochs=0), "KerasOptions.epochs must be an integer >= 1, got 0"),
    (lambda: KerasOptions(hidden=(64, -1)), "KerasOptions.hidden must be integers >= 1, got \\(64, -1\\)"),
    (lambda: KerasOptions(learning_rate="fast"), "KerasOptions.learning_rate must be a number > 0, got 'fast'"),
    (lambda: RuntimeOptions(precision="fp8"), "RuntimeOptions.precision must be one of"),
    (lambda: RuntimeOptions(seed=1.5), "RuntimeOptions.seed must be an integer, got 1.5"),
    (lambda: DataOptions(eval_fraction=1.0), "DataOptions.eval_fraction must be a number in \\(0, 1\\), got 1.0"),
    (lambda: DataOptions(cache_budget="lots"), "cache budget"),
    (lambda: TreeOptions(rounds=0), "TreeOptions.rounds must be an integer >= 1, got 0"),
    (lambda: XGBoostOptions(device="tpu"), "XGBoostOptions.device must be one of"),
    (lambda: XGBoostOptions(["objective=reg:gamma"]), "--gbdt-param \\['objective'\\]: set by tfpipe"),
    (lambda: LightGBMOptions({"linear_tree": True}), "--lgbm-param \\['linear_tree'\\]: set by tfpipe"),
    (lambda: TrainOptions(time_limit=-1), "TrainOptions.time_limit must be seconds > 0, 'auto' or None, got -1"),
    (lambda: TrainOptions(task="ranking"), "TrainOptions.task must be None or one of"),
    (lambda: TrainOptions(keras=TreeOptions()), "TrainOptions.keras must be a KerasOptions"),
])
def test_bad_values_are_refused_naming_the_field_and_the_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_values_are_normalized_and_frozen():
    assert KerasOptions(hidden="32,16").hidden == (32, 16) and KerasOptions(hidden=[8]).hidden == (8,)
    assert DataOptions(cache_budget="512M").cache_budget == 512 << 20
    assert XGBoostOptions({"max_depth": 4}).params == XGBoostOptions(["max_depth=4"]).params == (("max_depth", 4),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainOptions().keras.epochs = 3
    assert TrainOptions() == TrainOptions() and hash(TrainOptions()) == hash(TrainOptions())


def test_the_kind_is_the_type_of_the_ensemble_options_and_member_kinds_default_per_kind():
    assert TrainOptions(ensemble=StackingOptions()).kind == "stacking"
    assert TrainOptions(ensemble=StackingOptions()).member_kinds == ("gbdt", "lgbm", "wide_deep", "dnn")
    assert TrainOptions(ensemble=BaggingOptions(member_kinds="gbdt, dnn")).member_kinds == ("gbdt", "dnn")
    assert TrainOptions(ensemble=BaggingOptions()).has_trees is False and TrainOptions().has_trees is True

    class Voting(SelectionOptions):
        pass

    with pytest.raises(ValueError, match="ensemble options must be one of"):
        TrainOptions(ensemble=Voting())


def test_tree_options_need_a_member_of_their_library():
    lgbm_only = SelectionOptions(member_kinds="lgbm,wide_deep")
    TrainOptions(ensemble=lgbm_only, trees=TreeOptions(rounds=10, lightgbm=LightGBMOptions(["num_leaves=7"])))
    with pytest.raises(ValueError, match="TrainOptions.trees.xgboost \\(device='cpu'\\) applies to gbdt members; "
                                         "this is a selection of lgbm,wide_deep members"):
        TrainOptions(ensemble=lgbm_only, trees=TreeOptions(xgboost=XGBoostOptions(device="cpu")))
    with pytest.raises(ValueError, match="TrainOptions.trees \\(early_stopping=5\\) applies to gbdt or lgbm"):
        TrainOptions(ensemble=BaggingOptions(), trees=TreeOptions(early_stopping=5))


def test_tree_options_become_the_trainers_config():
    trees = TreeOptions(rounds=7, early_stopping=3, xgboost=XGBoostOptions(["eta=0.2"], "cpu"),
                        lightgbm=LightGBMOptions(["num_leaves=7"]))
    config = trees.config(cache_bytes=0)
    assert (config.num_boost_round, config.early_stopping_rounds, config.device, config.cache_bytes) == (7, 3, "cpu", 0)
    assert dict(config.params) == {"eta": 0.2} and dict(config.lgbm_params) == {"num_leaves": 7}
