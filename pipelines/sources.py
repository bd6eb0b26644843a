"""Finds the input files and cuts them into chunks that Beam workers read in parallel.

A chunk is a byte range of a CSV / JSON-lines file (a line belongs to the chunk in which it starts, as in
Hadoop's text input) or a range of row groups of a Parquet file. Chunking depends only on the files and the
chunk size, so the same inputs always give the same chunks (and the same output bytes).

Example::

    >>> from tfpipe.demo import ADULT_COLUMNS, adult_dir
    >>> adult = InputFile(os.path.join(adult_dir(), "adult.data"), "csv", split="train")
    >>> chunks = plan_chunks([adult], chunk_bytes=1 << 20, column_names=ADULT_COLUMNS)   # no header line
    >>> len(chunks), chunks[0].start, chunks[1].start, chunks[-1].end == adult.num_bytes
    (4, 0, 1048576, True)
"""
from __future__ import annotations

import dataclasses
import os
from typing import Optional, Sequence

from tfpipe.pipelines import storage

FORMATS = ("csv", "parquet", "jsonl")
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".data": "csv", ".test": "csv",
             ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
DEFAULT_CHUNK_BYTES = 16 << 20


@dataclasses.dataclass(frozen=True)
class InputFile:
    """One input file, its format and the split its rows go to (None: split by hash)."""

    path: str
    format: str
    split: Optional[str] = None
    size: int = -1            # bytes, from the store's metadata (-1: not known; looked up when needed)

    @property
    def num_bytes(self) -> int:
        return self.size if self.size >= 0 else storage.size(self.path)


@dataclasses.dataclass(frozen=True)
class Chunk:
    """A unit of parallel reading: bytes [start, end) of a text file, or row groups [start, end) of Parquet."""

    file_index: int
    chunk_index: int
    path: str
    format: str
    split: Optional[str]
    start: int
    end: int
    data_start: int = 0      # first byte after the header (text files)
    first_row: int = 1       # number of the first data row/line of the file (text: 2 after a header)
    column_names: tuple = () # CSV: the file's columns (from its header or --column-names)

    @property
    def order_key(self) -> tuple[int, int]:
        """Sort key that puts rows back in input order."""
        return self.file_index, self.chunk_index


def detect_format(path: str, requested: str = "auto") -> str:
    """The format of ``path``: ``requested`` unless it is ``auto``, else from the file name."""
    if requested != "auto":
        if requested not in FORMATS:
            raise ValueError(f"unknown format {requested!r}; expected auto or one of {FORMATS}")
        return requested
    name = path[:-3] if path.endswith(".gz") else path
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in _SUFFIXES:
        raise ValueError(f"{path}: cannot tell the format from the name; pass --format csv|parquet|jsonl")
    return _SUFFIXES[suffix]


def expand_inputs(specs: Sequence[str], requested_format: str = "auto") -> list[InputFile]:
    """Expands ``PATH_OR_GLOB`` and ``SPLIT=PATH_OR_GLOB`` specs into sorted, existing files.

    Paths may be local or on any store Beam has a filesystem for (``s3://``, ``gs://``, ...). A spec matching
    no file is an error (a typo must not silently produce an empty dataset); the same file twice is read once.
    """
    files: list[InputFile] = []
    seen: set = set()
    for spec in specs:
        split, pattern = None, spec
        if "=" in spec and storage.scheme(spec) is None and not os.path.exists(spec):
            split, pattern = spec.split("=", 1)
            if not split.isidentifier():
                raise ValueError(f"--input {spec!r}: split name {split!r} must be a word (letters, digits, _)")
        storage.check_supported(pattern)
        matches = storage.match(storage.absolute(pattern) if storage.is_local(pattern) else pattern)
        if not matches:
            raise FileNotFoundError(f"--input {spec!r}: no file matches {pattern!r}")
        for path, size in matches:
            if path in seen:
                continue
            seen.add(path)
            files.append(InputFile(path, detect_format(path, requested_format), split, size))
    splits = {file.split for file in files}
    if None in splits and len(splits) > 1:
        raise ValueError("--input: either give every input a split (SPLIT=PATH) or none")
    return files


def read_csv_header(path: str, delimiter: str = ",") -> tuple[int, tuple]:
    """(offset of the first byte after the header line, column names with surrounding spaces removed)."""
    import csv

    with storage.open_read(path) as handle:
        first = handle.readline()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: line 1 (the header) is not valid UTF-8: {error}") from None
    names = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter), [])
    names = tuple(name.strip() for name in names)
    if not names or any(not name for name in names) or len(set(names)) != len(names):
        raise ValueError(f"{path}: line 1 is not a usable header (names must be non-empty and unique): {names}; "
                         f"pass --column-names if the file has no header")
    return len(first), names


def plan_chunks(files: Sequence[InputFile], chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                column_names: Optional[Sequence[str]] = None, delimiter: str = ",",
                split_text_files: bool = True) -> list[Chunk]:
    """Cuts every file into chunks of about ``chunk_bytes`` (Parquet: whole row groups).

    CSV files have a header line unless ``column_names`` is given.
    """
    chunks: list[Chunk] = []
    for file_index, file in enumerate(files):
        if file.format == "parquet":
            import pyarrow.parquet as pq

            with storage.open_read(file.path) as handle:
                row_groups = pq.ParquetFile(handle).metadata.num_row_groups
            for index in range(row_groups):
                chunks.append(Chunk(file_index, index, file.path, file.format, file.split, index, index + 1))
            continue
        size = file.num_bytes
        has_header = file.format == "csv" and not column_names
        data_start, names = read_csv_header(file.path, delimiter) if has_header else (0, tuple(column_names or ()))
        first_row = 2 if has_header else 1
        bounds = list(range(data_start, size, chunk_bytes)) if split_text_files else [data_start]
        bounds = (bounds or [data_start]) + [max(size, data_start)]
        for index, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
            chunks.append(Chunk(file_index, index, file.path, file.format, file.split, start, end,
                                data_start, first_row, names))
    return chunks
