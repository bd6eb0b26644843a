import numpy as np
import pyarrow as pa

from tfpipe.pipelines.schema import FeatureRule
from tfpipe.pipelines.row_checks import ValidationOptions, validate_batch


def _reasons(result):
    return {int(i): result.reason(int(i)) for i in np.flatnonzero(result.rejected)}


def test_each_problem_is_named_with_its_field_and_value():
    raw = {
        "n": pa.array([b"1", b"x", b"", b"99999999999999999999", b"4\xff", b"5", b"6", b"7", b"8", b"9"]),
        "f": pa.array([b"1.5", b"2", b"3", b"4", b"5", b"nan", b"inf", b"1e40", b"6", b"7"]),
        "s": pa.array([b"a", b"b", b"a", b"a", b"a", b"a", b"a", b"a", b"zz", b"a" * 30]),
    }
    rules = [FeatureRule("n", "INT", required=True), FeatureRule("f", "FLOAT"),
             FeatureRule("s", "BYTES", domain=frozenset({"a", "b", "a" * 30}))]
    result = validate_batch(raw, rules, ValidationOptions(max_field_bytes=25))
    reasons = _reasons(result)
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert reasons[1] == ("n", "not an integer: 'x'")
    assert reasons[2] == ("n", "missing required value")
    assert reasons[3][0] == "n" and reasons[3][1].startswith("out of int64 range")
    assert reasons[4][0] == "n" and reasons[4][1].startswith("invalid UTF-8")
    assert reasons[5] == ("f", "NaN is not allowed: 'nan'")
    assert reasons[6] == ("f", "infinity is not allowed: 'inf'")
    assert reasons[7] == ("f", "out of float32 range: '1e40'")
    assert reasons[8] == ("s", "not in the schema's domain: 'zz'")
    assert reasons[9] == ("s", "field over the size limit (30 bytes)")
    assert result.columns["n"][0].as_py() == 1 and result.columns["f"][0].as_py() == 1.5


def test_null_markers_trimming_and_value_maps():
    raw = {"label": pa.array([b" >50K.", b"<=50K", b" ?"]), "x": pa.array([b" 3 ", b"NA", b"4"])}
    options = ValidationOptions(value_maps={"label": {">50K.": ">50K"}})
    result = validate_batch(raw, [FeatureRule("label", "BYTES", required=True), FeatureRule("x", "INT")], options)
    assert result.columns["label"].to_pylist()[:2] == [">50K", "<=50K"]
    assert result.columns["x"].to_pylist()[:2] == [3, None]
    assert _reasons(result) == {2: ("label", "missing required value")}


def test_typed_inputs_and_lists():
    raw = {"i": pa.array([1.0, 2.5, None]), "tags": pa.array([["a"], ["b", "c"], []]),
           "one": pa.array([[1], [2, 3], None]), "extra": pa.array([None, None, "x"])}
    rules = [FeatureRule("i", "INT"), FeatureRule("tags", "BYTES", multivalued=True, max_values=2),
             FeatureRule("one", "INT")]
    result = validate_batch(raw, rules, ValidationOptions())
    reasons = _reasons(result)
    assert reasons[1] == ("i", "not an integer: 2.5")
    assert reasons[2] == ("extra", "field not in the schema: 'x'")
    ok = validate_batch({"one": pa.array([[1], [2, 3]])}, [FeatureRule("one", "INT")], ValidationOptions())
    assert _reasons(ok) == {1: ("one", "a list where one value is expected: [2, 3]")}
    assert result.columns["tags"][0].as_py() == ["a"]


def test_inputs_are_never_lost_every_row_is_either_valid_or_has_a_reason():
    rng = np.random.default_rng(0)
    values = rng.choice([b"1", b"x", b"", b"2.5", b"7"], 5000)
    result = validate_batch({"v": pa.array(values)}, [FeatureRule("v", "INT", required=True)], ValidationOptions())
    valid = ~result.rejected
    assert valid.sum() + result.rejected.sum() == 5000
    assert set(values[valid].tolist()) == {b"1", b"7"}


def test_repeated_text_is_checked_per_distinct_value_with_the_same_outcome_as_per_row():
    """Large batches of repeated text take the distinct-value path; every value, code and reason matches the
    row-by-row conversion (_coerce_distinct run on the rows themselves)."""
    from tfpipe.pipelines.row_checks import _coerce_distinct, _coerce_values

    distinct = [b"1", b" 2 ", b"x", b"", b"?", b"NA", b"99999999999999999999", b"4\xff", b"1.5", b"nan", b"-inf",
                b"1e40", b"007", b"a", b"b", b"zz", b"b" * 30, None]
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(distinct), 5000)
    raw = pa.array([distinct[i] for i in picks], pa.binary())
    options = ValidationOptions(max_field_bytes=25, value_maps={"s": {"zz": "a"}})
    for rule in [FeatureRule("n", "INT", required=True, minimum=0, maximum=50), FeatureRule("f", "FLOAT"),
                 FeatureRule("s", "BYTES", domain=frozenset({"a", "b"}))]:
        for array in (raw, raw.cast(pa.string(), safe=False).filter(pa.array(picks != 7))):  # binary, string
            values, codes = _coerce_values(array, rule, options)
            expected_values, expected_codes = _coerce_distinct(array, rule, options)
            assert values.equals(expected_values), rule
            assert codes.tolist() == expected_codes.tolist(), rule
    rules = [FeatureRule("n", "INT", required=True)]
    result = validate_batch({"n": raw}, rules, ValidationOptions())
    assert result.reason(int(np.flatnonzero(picks == 2)[0])) == ("n", "not an integer: 'x'")
