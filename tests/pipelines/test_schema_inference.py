import pyarrow as pa

from tfpipe.pipelines.schema import rules_from_schema
from tfpipe.pipelines.schema_inference import evidence_of_batch, merge_evidence, schema_from_evidence
from tfpipe.pipelines.row_checks import ValidationOptions


def _infer(batches, rows, required=()):
    evidence = {}
    for index, batch in enumerate(batches):
        merge_evidence(evidence, evidence_of_batch(batch, ValidationOptions(), chunk_index=index))
    return {rule.name: rule for rule in rules_from_schema(schema_from_evidence(evidence, rows, required))}


def test_types_presence_lists_and_domains():
    first = {"age": pa.array([b"39", b"50"] * 10), "zip": pa.array([b"02134", b"10001"] * 10),
             "w": pa.array([b"1.5", b"?"] * 10), "cat": pa.array([b"a", b"b"] * 10),
             "ids": pa.array([[1, 2], [3]] * 10)}
    second = {"age": pa.array([b"41"] * 5), "zip": pa.array([b"1"] * 5), "w": pa.array([b"2"] * 5),
              "cat": pa.array([b"c"] * 5), "ids": pa.array([None] * 5, pa.list_(pa.int64()))}
    rules = _infer([first, second], 25)
    assert [rules[n].kind for n in ("age", "zip", "w", "cat", "ids")] == ["INT", "BYTES", "FLOAT", "BYTES", "INT"]
    assert rules["age"].required and not rules["w"].required
    assert rules["ids"].multivalued and not rules["age"].multivalued
    assert rules["cat"].domain == frozenset({"a", "b", "c"})
    assert not rules["w"].allow_nan and not rules["w"].allow_inf


def test_a_few_bad_values_do_not_change_the_type_but_many_do():
    mostly = {"x": pa.array([str(i).encode() for i in range(200)] + [b"oops"])}
    assert _infer([mostly], 201)["x"].kind == "INT"
    half = {"x": pa.array([b"1", b"word"] * 50)}
    assert _infer([half], 100)["x"].kind == "BYTES"


def test_label_is_required_even_with_missing_values_and_columns_keep_file_order():
    batch = {"b": pa.array([b"1", b"?"]), "a": pa.array([b"x", b"y"])}
    rules = _infer([batch], 2, required=("b",))
    assert list(rules) == ["b", "a"] and rules["b"].required


def test_value_maps_apply_before_the_domain_is_inferred():
    """A column whose values are all re-mapped (Adult's test labels '>50K.') gets the mapped values as its
    domain, so validation (which maps first) accepts them."""
    options = ValidationOptions(value_maps={"income": {">50K.": ">50K", "<=50K.": "<=50K"}})
    columns = {"income": pa.array([" >50K.", "<=50K.", "<=50K.", ">50K."] * 3)}
    schema = schema_from_evidence(evidence_of_batch(columns, options), 12, required=("income",))
    assert list(schema.string_domain[0].value) == ["<=50K", ">50K"]
