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


def test_relaxed_rules_keep_types_and_valency_and_drop_checks_a_sample_cannot_be_trusted_with():
    from tfpipe.pipelines.schema import FeatureRule
    from tfpipe.pipelines.schema_inference import relaxed_rules, rules_differ

    full = [FeatureRule("y", "INT", required=True), FeatureRule("c", "BYTES", required=True, domain=frozenset("ab")),
            FeatureRule("v", "FLOAT", multivalued=True, min_values=1)]
    relaxed = relaxed_rules(full, label="y")
    assert [(r.name, r.kind, r.required, r.multivalued, r.domain, r.min_values) for r in relaxed] == [
        ("y", "INT", True, False, None, 0), ("c", "BYTES", False, False, None, 0), ("v", "FLOAT", False, True, None, 0)]
    sample = [FeatureRule("y", "INT"), FeatureRule("c", "BYTES"), FeatureRule("v", "FLOAT")]
    assert rules_differ(sample, full, "y") == "column 'v' is one value in the sample, a list in the whole data"
    assert rules_differ(sample[:2], full, "y").startswith("the sample has the columns ['y', 'c']")
    assert rules_differ(relaxed, full, "y") is None
    longer = full[:2] + [FeatureRule("v", "FLOAT", multivalued=True, min_values=2)]
    assert "at least 2 values" in rules_differ(relaxed, longer, "y")   # a single value would be rejected


def test_the_sample_is_the_head_of_the_first_chunk_of_each_file_and_chunks_spread_over_the_rest():
    from tfpipe.pipelines.schema_inference import sample_chunks
    from tfpipe.pipelines.sources import Chunk

    chunks = [Chunk(f, i, f"{f}.csv", "csv", None, i * 100, i * 100 + 100) for f in range(3) for i in range(20)]
    chunks.append(Chunk(3, 0, "x.parquet", "parquet", None, 0, 1))
    picked = sample_chunks(chunks, count=8, sample_bytes=30)
    assert [(c.file_index, c.chunk_index) for c in picked] == [(0, 0), (0, 15), (1, 0), (1, 10), (2, 0), (2, 5),
                                                               (3, 0)]
    assert all(c.end - c.start == 30 for c in picked if c.format == "csv") and picked[-1].end == 1
