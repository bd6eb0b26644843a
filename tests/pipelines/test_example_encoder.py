import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf

from tfpipe.pipelines.example_encoder import encode_examples


def _reference(columns, row):
    example = tf.train.Example()
    for name, kind, array in columns:
        value = array[row].as_py()
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        feature = example.features.feature[name]
        if kind == "INT":
            feature.int64_list.value.extend(values)
        elif kind == "FLOAT":
            feature.float_list.value.extend(values)
        else:
            feature.bytes_list.value.extend(v.encode("utf-8") if isinstance(v, str) else v for v in values)
    return example


COLUMNS = [
    ("age", "INT", pa.array([39, None, -5, 2**62, 0])),
    ("weight", "FLOAT", pa.array([1.5, 2.0, None, -3.25e30, 0.0], pa.float32())),
    ("name", "BYTES", pa.array(["a", None, "", "x" * 300, "naïve ☃"])),
    ("tags", "BYTES", pa.array([["a", "b"], [], None, ["c"], ["é"]], pa.list_(pa.string()))),
    ("ids", "INT", pa.array([[1, -2], [], None, [2**40], [7]], pa.list_(pa.int64()))),
    ("scores", "FLOAT", pa.array([[1.0], [], None, [2.0, 3.0], [0.5]], pa.list_(pa.float32()))),
    ("key-with.dots", "INT", pa.array([1, 2, 3, 4, 5])),
]


@pytest.mark.parametrize("row", range(5))
def test_every_row_equals_the_protobuf_reference(row):
    encoded = encode_examples(COLUMNS)
    assert tf.train.Example.FromString(encoded[row].as_py()) == _reference(COLUMNS, row)


def test_missing_value_is_an_absent_feature_and_empty_list_a_present_one():
    parsed = tf.train.Example.FromString(encode_examples(COLUMNS)[1].as_py())
    assert "age" not in parsed.features.feature and "name" not in parsed.features.feature
    assert "tags" in parsed.features.feature and len(parsed.features.feature["tags"].bytes_list.value) == 0


def test_batched_parse_example_reads_the_encoding():
    rng = np.random.default_rng(1)
    n = 2000
    ints, floats = rng.integers(-10**12, 10**12, n), rng.normal(size=n).astype(np.float32)
    words = rng.choice(["Private", "Self-emp-inc", "?", "Ünïcode"], n)
    encoded = encode_examples([("i", "INT", pa.array(ints)), ("f", "FLOAT", pa.array(floats)),
                               ("s", "BYTES", pa.array(words))])
    parsed = tf.io.parse_example(encoded.to_pylist(), {
        "i": tf.io.FixedLenFeature([], tf.int64), "f": tf.io.FixedLenFeature([], tf.float32),
        "s": tf.io.FixedLenFeature([], tf.string)})
    np.testing.assert_array_equal(parsed["i"].numpy(), ints)
    np.testing.assert_array_equal(parsed["f"].numpy(), floats)
    assert [v.decode() for v in parsed["s"].numpy()] == words.tolist()


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown kind"):
        encode_examples([("x", "DOUBLE", pa.array([1.0]))])


def test_dictionary_path_for_repeated_values_gives_the_same_bytes_as_the_direct_path():
    rng = np.random.default_rng(2)
    n = 5000  # above the size where repeated values are encoded once per distinct value
    ints = pa.array(np.where(rng.random(n) < 0.1, None, rng.integers(-50, 50, n)).tolist(), pa.int64())
    words = pa.array(np.where(rng.random(n) < 0.1, None, rng.choice(["a", "bb", "ccc", "é"], n)).tolist())
    whole = encode_examples([("i", "INT", ints), ("w", "BYTES", words)]).to_pylist()
    pieces = []
    for start in range(0, n, 500):  # small batches take the direct path
        pieces += encode_examples([("i", "INT", ints.slice(start, 500)), ("w", "BYTES", words.slice(start, 500))]
                                  ).to_pylist()
    assert whole == pieces
