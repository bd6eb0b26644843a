"""The tree libraries' parameters as tfpipe takes them (``--gbdt-param`` / ``--lgbm-param KEY=VALUE``), and those
tfpipe sets itself. Imports no tree library and no Keras (options are checked before either loads).

Example::

    >>> parse_params(["max_depth=4", "eta=0.1", "grow_policy=lossguide", "x=true"])
    (('max_depth', 4), ('eta', 0.1), ('grow_policy', 'lossguide'), ('x', True))
    >>> parse_params({"objective": "reg:tweedie"})
    Traceback (most recent call last):
    ...
    ValueError: --gbdt-param ['objective']: set by tfpipe from the task (it must match the compiled model)
"""
from __future__ import annotations

# Set by tfpipe itself: overriding them would break what the compiled SavedModel computes (XGBoost's names).
XGBOOST_RESERVED_PARAMS = ("objective", "num_class", "base_score", "booster", "multi_strategy")
# The same for LightGBM (lgbm members; ensembles/lightgbm_trees.py says what they would change).
LIGHTGBM_RESERVED_PARAMS = ("objective", "num_class", "sigmoid", "zero_as_missing", "linear_tree", "boosting",
                            "boosting_type", "num_tree_per_iteration")
RESERVED = {"--gbdt-param": XGBOOST_RESERVED_PARAMS, "--lgbm-param": LIGHTGBM_RESERVED_PARAMS}


def _value(raw: str):
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            continue
    text = raw.strip()
    return text.lower() == "true" if text.lower() in ("true", "false") else text


def parse_params(items, flag: str = "--gbdt-param") -> tuple:
    """``["KEY=VALUE", ...]``, ``(key, value)`` pairs or a dict → ``((key, value), ...)``, ints / floats / bools
    parsed; ``flag`` (``--gbdt-param`` XGBoost, ``--lgbm-param`` LightGBM) names the option in errors and picks
    the parameters tfpipe reserves."""
    out = []
    for item in (items.items() if isinstance(items, dict) else items or ()):
        if isinstance(item, tuple):
            key, value = item
        else:
            key, sep, raw = str(item).partition("=")
            if not sep or not key.strip():
                raise ValueError(f"{flag} {item!r}: expected KEY=VALUE")
            value = _value(raw)
        out.append((str(key).strip(), value))
    bad = [k for k, _ in out if k in RESERVED.get(flag, ())]
    if bad:
        raise ValueError(f"{flag} {bad}: set by tfpipe from the task (it must match the compiled model)")
    return tuple(out)
