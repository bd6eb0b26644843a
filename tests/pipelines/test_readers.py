import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tfpipe.pipelines.readers import read_chunk
from tfpipe.pipelines.sources import expand_inputs, plan_chunks

CSV = "a,b,c\n1,x,2.5\n\n3,y\n4,z,5,6\n5,q,nan\n6,w,1e3\n7,\"q,u\",8"


@pytest.mark.parametrize("chunk_bytes", [1, 5, 7, 13, 1 << 20])
def test_csv_rows_are_counted_once_whatever_the_chunking(tmp_path, chunk_bytes):
    path = tmp_path / "x.csv"
    path.write_text(CSV)
    batches = [read_chunk(c) for c in plan_chunks(expand_inputs([str(path)]), chunk_bytes)]
    values = [v for b in batches for v in b.columns["a"].to_pylist()]
    assert values == [b"1", b"5", b"6", b"7"]
    assert sum(b.line_count for b in batches) == 7  # lines after the header
    assert sum(b.blank_lines for b in batches) == 1
    reasons = sorted(r for b in batches for _, _, r in b.structural)
    assert reasons == ["wrong field count: expected 3 fields, found 2", "wrong field count: expected 3 fields, found 4"]


def test_csv_structural_rows_keep_their_text_and_line(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(CSV)
    batch = read_chunk(plan_chunks(expand_inputs([str(path)]))[0])
    assert batch.structural[0][:2] == (3, "3,y")  # third line after the header
    assert batch.raw_text(7) == '7,"q,u",8' and batch.raw_text(6) == '6,w,1e3'


def test_header_errors_are_clear(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,a\n1,2\n")
    with pytest.raises(ValueError, match="not a usable header"):
        plan_chunks(expand_inputs([str(path)]))


def test_jsonl_fast_path_and_line_by_line_fallback(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n')
    batch = read_chunk(plan_chunks(expand_inputs([str(good)]))[0])
    assert batch.columns["a"].to_pylist() == [1, 2] and batch.structural == []
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n{"a": "text", "t": [1, 2]}\nnot json\n[1]\n\n{"a": null}\n')
    batch = read_chunk(plan_chunks(expand_inputs([str(bad)]))[0])
    assert batch.row_numbers.tolist() == [1, 2, 6]
    assert [(n, r.split(":")[0]) for n, _, r in batch.structural] == [(3, "invalid JSON"), (4, "a JSON line must be an object, found list")]
    assert batch.columns["a"].to_pylist() == ["1", "text", None]
    assert batch.columns["t"].to_pylist() == [None, ["1", "2"], None]
    assert batch.blank_lines == 1


def test_parquet_row_groups_are_chunks_with_file_row_numbers(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": np.arange(10), "s": [str(i) for i in range(10)]}), str(path), row_group_size=4)
    chunks = plan_chunks(expand_inputs([str(path)]))
    assert len(chunks) == 3
    last = read_chunk(chunks[2])
    assert last.row_numbers.tolist() == [9, 10]
    assert json.loads(last.raw_text(10)) == {"a": 9, "s": "9"}


def test_missing_inputs_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.csv")])
    with pytest.raises(ValueError, match="cannot tell the format"):
        (tmp_path / "x.bin").write_text("1")
        expand_inputs([str(tmp_path / "x.bin")])
