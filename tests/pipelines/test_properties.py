"""Property-based tests (Hypothesis) of ``tfpipe preprocess`` on generated CSV, JSON-lines and Parquet files.

Generated rows hold every kind of value real files hold: empty strings, quotes, delimiters and newlines inside
quoted fields, non-ASCII and invalid UTF-8, huge and tiny numbers, NaN / infinity, missing values, ragged
lists, CRLF line ends, a byte-order mark, no data rows at all. Whatever the schema inference makes of them:

- the job never dies with anything but a :class:`PreprocessError` or a ``ValueError`` naming the file (the
  ``tfpipe`` command prints either as one line);
- nothing is lost: rows read = rows generated = rows written + rows rejected;
- every written row decodes back (``tf.train.Example``) to the values that went in, as the inferred schema types
  them (stripped text; ``int``; float32), and null tokens to nothing;
- every rejected row names its file, row, field (or a structural reason) and why;
- the one-pass job (schema from a sample, checked against the whole data's evidence) writes byte for byte what
  the two-pass job (``--infer-schema full-pass``) writes. The files are smaller than a sample, so this checks that
  the checks the sample's relaxed rules leave out cannot reject a row of the data the schema came from.

A run is a whole Beam job (~1–2 s), so CI tries ``TFPIPE_HYPOTHESIS_EXAMPLES`` (default 6) files per format;
before a release run ``TFPIPE_HYPOTHESIS_EXAMPLES=300 pytest tests/pipelines/test_properties.py`` (15.5 minutes on 2 cores).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tfpipe.pipelines import PreprocessOptions, run_preprocess
from tfpipe.pipelines.artifacts import iter_rejected, load_schema, shard_paths
from tfpipe.pipelines.preprocess import PreprocessError
from tfpipe.pipelines.row_checks import DEFAULT_NULL_VALUES

EXAMPLES = int(os.environ.get("TFPIPE_HYPOTHESIS_EXAMPLES", "6"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("TFPIPE_HYPOTHESIS_EXAMPLES"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

TEXT = st.one_of(st.text(alphabet=st.sampled_from(list('ab1 ,;"\'\n\r\t\\éß中😀')), max_size=8),
                 st.sampled_from(["NA", " null ", "?", "007", " 12 ", "1e5", "-inf"]))
BAD_UTF8 = st.sampled_from([b"\xff", b"\xc3\x28", b"ok\xfe", b"\xed\xa0\x80"])
NUMBER = st.one_of(st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([1e-45, -0.0, 3.4e38, 3.5e38, 1e308, 5e-324]))
CELL = st.one_of(st.none(), TEXT, NUMBER, BAD_UTF8)


def _cell_text(value) -> bytes | None:
    """How a generated value is written in a text file (None = left empty / absent)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, float) and math.isnan(value):
        return b"nan"
    return (value if isinstance(value, str) else repr(value)).encode("utf-8", "surrogatepass")


def _csv_field(raw: bytes | None) -> bytes:
    if raw is None:
        return b""
    if any(c in raw for c in b',"\n\r') or raw != raw.strip():
        return b'"' + raw.replace(b'"', b'""') + b'"'
    return raw


ROWS = st.lists(st.fixed_dictionaries({"a": CELL, "b": CELL, "c": CELL}), max_size=25)


def _run(tmp_path, name: str, content: bytes, fmt: str):
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "out"
    options = PreprocessOptions(inputs=[f"train={path}"], output=str(out), format=fmt, max_rejected_fraction=1.0,
                                csv_multiline=True, progress=False, overwrite=True, num_shards=1, report=False,
                                dataset_name="data")
    try:
        manifest = run_preprocess(options)
    except PreprocessError as error:                       # a clear refusal is allowed, a crash is not
        assert str(error)
        return None, out
    except ValueError as error:                            # bad input named by its path (the CLI prints it)
        assert str(path) in str(error), error
        return None, out
    two_passes = tmp_path / "two_passes"
    assert run_preprocess(dataclasses.replace(options, output=str(two_passes), infer_schema="full-pass")) == manifest
    assert _files(two_passes) == _files(out)
    return manifest, out


def _files(directory) -> dict:
    return {os.path.relpath(os.path.join(folder, name), directory): open(os.path.join(folder, name), "rb").read()
            for folder, _, names in os.walk(directory) for name in names}


def _expected(raw: bytes | None, kind: int):
    """The value a written row must decode to for a cell written as ``raw`` (None = nothing)."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    if raw is None:
        return None
    text = raw.decode("utf-8").strip()
    if text in DEFAULT_NULL_VALUES:
        return None
    if kind == schema_pb2.INT:
        return [int(text)]
    if kind == schema_pb2.FLOAT:
        return [float(np.float32(float(text)))]
    return [text.encode()]


def _check(manifest, out, rows: list[dict], cells: list[dict]):
    """The properties of the module docstring, for the rows the file held (``cells``: how each was written)."""
    import tensorflow as tf

    if manifest is None:
        return
    written = sum(manifest["rows_written"].values())
    assert manifest["rows_read"] == len(rows) == written + manifest["rows_rejected"]
    rejected = list(iter_rejected(str(out)))
    assert len(rejected) == manifest["rows_rejected"]
    for record in rejected:
        assert record["source"].endswith(("data.csv", "data.jsonl", "data.parquet")) and record["row"] >= 1
        assert record["reason"] and ("field" in record) and "raw" in record
    if not written:
        return
    schema = {f.name: f.type for f in load_schema(str(out)).feature}
    seen = set()
    for record in tf.data.TFRecordDataset(shard_paths(str(out), "train")):
        example = tf.train.Example.FromString(record.numpy())
        features = example.features.feature
        row = int(features["id"].int64_list.value[0])
        assert row not in seen
        seen.add(row)
        for name in ("a", "b", "c"):
            want = _expected(cells[row][name], schema.get(name))
            if name not in features or want is None:
                assert want is None or name not in schema, (name, cells[row][name], features.get(name))
                continue
            got = features[name]
            values = list(got.int64_list.value or got.float_list.value or got.bytes_list.value)
            if schema[name] == 3:   # FLOAT: NaN equals NaN
                assert len(values) == 1 and (values[0] == want[0] or (math.isnan(values[0]) and math.isnan(want[0])))
            else:
                assert values == want, (name, cells[row][name], values)


@SETTINGS
@given(rows=ROWS, crlf=st.booleans(), bom=st.booleans())
def test_csv(tmp_path, rows, crlf, bom):
    end = b"\r\n" if crlf else b"\n"
    cells = [{"id": str(i).encode(), **{k: _cell_text(v) for k, v in row.items()}} for i, row in enumerate(rows)]
    lines = [b"id,a,b,c"] + [b",".join(_csv_field(c[k]) for k in ("id", "a", "b", "c")) for c in cells]
    content = (b"\xef\xbb\xbf" if bom else b"") + end.join(lines) + end
    manifest, out = _run(tmp_path, "data.csv", content, "csv")
    _check(manifest, out, rows, cells)


@SETTINGS
@given(rows=st.lists(st.fixed_dictionaries({"a": CELL, "b": CELL, "c": st.one_of(
    CELL, st.lists(st.one_of(st.none(), TEXT), max_size=3))}), max_size=25), garbage=st.booleans())
@example(rows=[{"a": None, "b": None, "c": [None, None]}], garbage=False)   # found by Hypothesis: pyarrow's
def test_json_lines(tmp_path, rows, garbage):                                 # invalid list-of-nulls array
    lines, cells = [], []
    for i, row in enumerate(rows):
        obj = {"id": i}
        for key, value in row.items():
            if value is None:
                continue
            obj[key] = value.decode("latin-1") if isinstance(value, bytes) else value
        lines.append(json.dumps(obj, ensure_ascii=bool(i % 2)).encode())
        cells.append(None)
    if garbage and lines:
        lines[len(lines) // 2] = b'{"id": oops'                   # a broken line is rejected, not fatal
    manifest, out = _run(tmp_path, "data.jsonl", b"\n".join(lines) + (b"\n" if lines else b""), "jsonl")
    if manifest is None:
        return
    assert manifest["rows_read"] == len(rows) == sum(manifest["rows_written"].values()) + manifest["rows_rejected"]
    assert manifest["rows_rejected"] >= (1 if garbage and lines else 0)


@SETTINGS
@example(rows=[{"x": None, "n": None, "s": "1e5", "tags": None}])     # found by Hypothesis: "s" is then a number
@given(rows=st.lists(st.fixed_dictionaries({
    "x": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    "n": st.one_of(st.none(), st.integers(-2 ** 63, 2 ** 63 - 1)),
    "s": st.one_of(st.none(), TEXT),
    "tags": st.one_of(st.none(), st.lists(st.one_of(st.none(), TEXT), max_size=3))}), max_size=25))
def test_parquet(tmp_path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import tensorflow as tf

    table = pa.table({"id": pa.array(range(len(rows)), pa.int64()),
                      "x": pa.array([r["x"] for r in rows], pa.float64()),
                      "n": pa.array([r["n"] for r in rows], pa.int64()),
                      "s": pa.array([r["s"] for r in rows], pa.string()),
                      "tags": pa.array([r["tags"] for r in rows], pa.list_(pa.string()))})
    pq.write_table(table, tmp_path / "data.parquet")
    manifest, out = _run(tmp_path, "data.parquet", (tmp_path / "data.parquet").read_bytes(), "parquet")
    if manifest is None:
        return
    written = sum(manifest["rows_written"].values())
    assert manifest["rows_read"] == len(rows) == written + manifest["rows_rejected"]
    schema = {f.name: f.type for f in load_schema(str(out)).feature} if written else {}
    for record in tf.data.TFRecordDataset(shard_paths(str(out), "train")) if written else []:
        features = tf.train.Example.FromString(record.numpy()).features.feature
        row = rows[int(features["id"].int64_list.value[0])]
        if row["n"] is not None and "n" in features:
            assert list(features["n"].int64_list.value) == [row["n"]]
        if row["x"] is not None and "x" in features and not math.isnan(row["x"]):
            assert list(features["x"].float_list.value) == [float(np.float32(row["x"]))]
        want = None if row["s"] is None else _expected(row["s"].encode(), schema.get("s"))
        if want is not None:   # text that reads as numbers only is typed as numbers by the schema inference
            got = features["s"]
            assert list(got.int64_list.value or got.float_list.value or got.bytes_list.value) == want


def test_empty_and_header_only_files_are_refused_clearly(tmp_path):
    for name, content, fmt in (("data.csv", b"", "csv"), ("data.csv", b"id,a\n", "csv"), ("data.jsonl", b"", "jsonl")):
        manifest, _ = _run(tmp_path, name, content, fmt)
        assert manifest is None or manifest["rows_read"] == 0
