"""Reads one :class:`~tfpipe.pipelines.sources.Chunk` into raw Arrow columns, keeping every row accounted for.

Rows that cannot even be split into fields (wrong field count, a line that is not a JSON object) come
back as *structural* rejects; blank lines (only spaces) are not rows: they are counted, never parsed; all the others come back as columns (CSV: strings, untouched;
JSON lines and Parquet: as typed by the file) for :mod:`tfpipe.pipelines.row_checks`. Row numbers are
*local*: the line within the chunk for text files (the job turns them into file line numbers once it knows
how many lines the earlier chunks hold), the row within the file for Parquet.

Example::

    >>> import os
    >>> from tfpipe.demo import ADULT_COLUMNS, adult_dir
    >>> from tfpipe.pipelines.sources import InputFile, plan_chunks
    >>> chunk = plan_chunks([InputFile(os.path.join(adult_dir(), "adult.test"), "csv")],
    ...                     column_names=ADULT_COLUMNS)[0]
    >>> batch = read_chunk(chunk, CsvOptions())
    >>> batch.num_rows_read == len(batch.row_numbers) + len(batch.structural)
    True
    >>> batch.structural[0][2]     # adult.test's first line is a comment
    'wrong field count: expected 15 fields, found 1'
"""
from __future__ import annotations

import dataclasses
import io
import json
import re
from typing import Optional

import numpy as np
import pyarrow as pa

from tfpipe.pipelines import storage
from tfpipe.pipelines.sources import Chunk

_BLANK_LINE = re.compile(rb"(^|\n)[ \t\r]*(\n|$)")


@dataclasses.dataclass(frozen=True)
class CsvOptions:
    """How CSV text is split into fields."""

    delimiter: str = ","
    quote_char: str = '"'
    multiline: bool = False   # quoted values may hold newlines (files are then read whole)


@dataclasses.dataclass
class RawBatch:
    """The rows of one chunk: raw columns, their local row numbers, and rows rejected while splitting."""

    chunk: Chunk
    columns: dict                       # name -> pa.Array, one entry per readable row
    row_numbers: np.ndarray             # local number of each readable row
    structural: list                    # (local row number, raw text, reason)
    line_count: int                     # lines that start in this chunk (text files; 0 for Parquet)
    text: Optional[bytes] = None        # the chunk's text, to quote rejected rows
    blank_lines: int = 0                # lines holding nothing but spaces (not rows)
    quote: Optional[bytes] = None       # multi-line CSV: records may span lines inside this quote character
    _starts: Optional[tuple] = dataclasses.field(default=None, repr=False)

    @property
    def num_rows_read(self) -> int:
        return len(self.row_numbers) + len(self.structural)

    def _record_starts(self) -> tuple[np.ndarray, np.ndarray]:
        """(byte offset where each local row starts (+ one past the end), newline offsets), found once per chunk
        (a chunk may hold many rejected rows). A multi-line CSV record ends at a newline outside quotes: one with
        an even number of quote characters before it (a doubled quote inside a field counts twice)."""
        if self._starts is None:
            raw = np.frombuffer(self.text, np.uint8)
            newlines = np.flatnonzero(raw == ord("\n"))
            ends = newlines
            if self.quote is not None and newlines.size:
                quotes_before = np.cumsum(raw == ord(self.quote))[newlines]
                ends = newlines[quotes_before % 2 == 0]
            self._starts = (np.concatenate([[0], ends + 1, [len(self.text) + 1]]), newlines)
        return self._starts

    def line_of(self, local_row: int) -> int:
        """The local line number where a row starts (rows of a multi-line CSV can span several lines)."""
        if self.text is None or self.quote is None:
            return local_row
        starts, newlines = self._record_starts()
        if not 1 <= local_row < len(starts):
            return local_row
        return 1 + int(np.searchsorted(newlines, starts[local_row - 1]))

    def raw_text(self, local_row: int) -> str:
        """The source text of a row (a JSON rendering for Parquet)."""
        if self.text is not None:
            starts, _ = self._record_starts()
            if not 1 <= local_row < len(starts):
                return ""
            start, end = starts[local_row - 1], starts[local_row] - 1
            return self.text[start:end].rstrip(b"\r").decode("utf-8", errors="backslashreplace")
        index = int(np.searchsorted(self.row_numbers, local_row))
        row = {name: _jsonable(array[index].as_py()) for name, array in self.columns.items()}
        return json.dumps(row, sort_keys=False, default=str)


def _jsonable(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    return value


def read_text_range(chunk: Chunk) -> bytes:
    """The whole lines that start in [chunk.start, chunk.end)."""
    with storage.open_read(chunk.path) as handle:
        begin = chunk.start
        if chunk.start > chunk.data_start:
            handle.seek(chunk.start - 1)
            if handle.read(1) != b"\n":
                handle.readline()
                begin = handle.tell()
        if begin >= chunk.end:
            return b""
        handle.seek(begin)
        data = handle.read(chunk.end - begin)
        if data and not data.endswith(b"\n"):
            data += handle.readline()
        return data


def count_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _read_csv(chunk: Chunk, data: bytes, options: CsvOptions) -> RawBatch:
    import pyarrow.csv as csv

    names = list(chunk.column_names)
    lines = count_lines(data)
    structural = []

    def on_invalid(row):
        reason = (f"wrong field count: expected {row.expected_columns} fields, found {row.actual_columns}")
        structural.append((row.number, row.text.rstrip("\r"), reason))
        return "skip"

    table = csv.read_csv(
        io.BytesIO(data),
        read_options=csv.ReadOptions(column_names=names, use_threads=False, block_size=max(len(data), 1 << 16) + 1),
        parse_options=csv.ParseOptions(delimiter=options.delimiter, quote_char=options.quote_char,
                                       newlines_in_values=options.multiline, ignore_empty_lines=False,
                                       invalid_row_handler=on_invalid),
        convert_options=csv.ConvertOptions(column_types={name: pa.binary() for name in names},
                                           strings_can_be_null=False, quoted_strings_can_be_null=False),
    ) if data else pa.table({name: pa.array([], pa.binary()) for name in names})
    if any(number is None for number, _, _ in structural):
        raise RuntimeError(f"{chunk.path}: pyarrow did not report row numbers of invalid rows")
    bad_numbers = np.array(sorted(number for number, _, _ in structural), dtype=np.int64)
    total = table.num_rows + len(structural)
    row_numbers = np.setdiff1d(np.arange(1, total + 1, dtype=np.int64), bad_numbers, assume_unique=True)
    columns = {name: table.column(name).combine_chunks() for name in names}
    blank = _blank_rows(columns, table.num_rows)
    if blank.any():
        keep = pa.array(np.flatnonzero(~blank))
        columns = {name: array.take(keep) for name, array in columns.items()}
        row_numbers = row_numbers[~blank]
    structural.sort(key=lambda item: item[0])
    quote = options.quote_char.encode() if options.multiline and options.quote_char else None
    return RawBatch(chunk, columns, row_numbers, structural, lines, data, int(blank.sum()), quote=quote)


def _blank_rows(columns: dict, n: int) -> np.ndarray:
    import pyarrow.compute as pc

    blank = np.ones(n, bool)
    for array in columns.values():
        blank &= pc.equal(pc.binary_length(array), 0).to_numpy(zero_copy_only=False)
        if not blank.any():
            break
    return blank


def _read_jsonl(chunk: Chunk, data: bytes) -> RawBatch:
    import pyarrow.json as pj

    lines = count_lines(data)
    body = data[:-1] if data.endswith(b"\n") else data  # the last line's terminator is no blank line
    if data and not _BLANK_LINE.search(body):
        try:
            table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(use_threads=False,
                                                                              block_size=len(data) + 1))
            # pyarrow 25 can build an invalid list column (offsets past its values) for a list of nulls such as
            # [null, null]: a full validation sends such chunks to the line-by-line parser.
            if table.num_rows == lines and table.validate(full=True) is None:
                columns = {name: table.column(name).combine_chunks() for name in table.column_names}
                return RawBatch(chunk, columns, np.arange(1, lines + 1, dtype=np.int64), [], lines, data)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # a bad line or mixed types somewhere in the chunk: parse it line by line
    return _read_jsonl_lines(chunk, data, lines)


def _json_text(value):
    """A JSON scalar as the text the validator parses (strings stay strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return value


def _read_jsonl_lines(chunk: Chunk, data: bytes, lines: int) -> RawBatch:
    structural, rows, numbers = [], [], []
    blank_lines = 0
    names: dict[str, None] = {}
    for number, line in enumerate(data.split(b"\n")[:lines], start=1):
        text = line.rstrip(b"\r")
        if not text.strip():
            blank_lines += 1
            continue
        try:
            row = json.loads(text)
        except (ValueError, UnicodeDecodeError) as error:
            structural.append((number, text.decode("utf-8", "backslashreplace"), f"invalid JSON: {error}"))
            continue
        if not isinstance(row, dict):
            structural.append((number, text.decode("utf-8", "backslashreplace"),
                               f"a JSON line must be an object, found {type(row).__name__}"))
            continue
        rows.append(row)
        numbers.append(number)
        names.update(dict.fromkeys(row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if any(isinstance(value, dict) for value in values):
            values = [json.dumps(value) if isinstance(value, dict) else value for value in values]
            columns[name] = pa.array([{"nested": value} if value is not None else None for value in values])
            continue
        if any(isinstance(value, list) for value in values):
            converted = [None if value is None else
                         [None if item is None else str(_json_text(item)) for item in value]
                         if isinstance(value, list) else [str(_json_text(value))] for value in values]
            columns[name] = pa.array(converted, pa.list_(pa.string()))
        else:
            columns[name] = pa.array([None if value is None else str(_json_text(value)) for value in values],
                                     pa.string())
    return RawBatch(chunk, columns, np.array(numbers, dtype=np.int64), structural, lines, data, blank_lines)


def _read_parquet(chunk: Chunk) -> RawBatch:
    import pyarrow.parquet as pq

    with storage.open_read(chunk.path) as handle:
        parquet = pq.ParquetFile(handle)
        first = sum(parquet.metadata.row_group(index).num_rows for index in range(chunk.start))
        table = parquet.read_row_groups(list(range(chunk.start, chunk.end)))
    columns = {name: table.column(name).combine_chunks() for name in table.column_names}
    numbers = np.arange(first + 1, first + table.num_rows + 1, dtype=np.int64)
    return RawBatch(chunk, columns, numbers, [], 0, None)


def read_chunk(chunk: Chunk, csv_options: CsvOptions = CsvOptions()) -> RawBatch:
    """Reads a chunk of any supported format."""
    if chunk.format == "parquet":
        return _read_parquet(chunk)
    data = read_text_range(chunk)
    if chunk.format == "csv":
        return _read_csv(chunk, data, csv_options)
    return _read_jsonl(chunk, data)
