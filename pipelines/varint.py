"""Vectorized protobuf wire-format primitives over NumPy / Arrow arrays.

Everything here works on whole columns at once, never row by row: it is the building block of
:mod:`tfpipe.pipelines.example_encoder`.

Example::

    >>> import numpy as np
    >>> varint_array(np.array([1, 300], dtype=np.uint64)).to_pylist()
    [b'\\x01', b'\\xac\\x02']
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def binary_from_parts(data: np.ndarray, offsets: np.ndarray) -> pa.BinaryArray:
    """Wraps a flat uint8 buffer and offsets (n + 1 entries) as an Arrow binary array, zero-copy."""
    offsets = np.ascontiguousarray(offsets, dtype=np.int32)
    data = np.ascontiguousarray(data, dtype=np.uint8)
    return pa.BinaryArray.from_buffers(
        pa.binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def varint_sizes(values: np.ndarray) -> np.ndarray:
    """Number of bytes of the base-128 varint of each uint64 value (1 to 10)."""
    values = np.asarray(values, dtype=np.uint64)
    sizes = np.ones(values.shape, dtype=np.int64)
    largest = int(values.max()) if values.size else 0
    for shift in range(7, 64, 7):
        if largest < (1 << shift):
            break
        sizes += values >= (np.uint64(1) << np.uint64(shift))
    return sizes


def _varint_matrix(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, width) varint bytes of each value and their sizes; width is the largest size."""
    values = np.asarray(values).astype(np.uint64, copy=False)
    if values.shape[0] == 0:
        return np.zeros((0, 1), np.uint8), np.zeros(0, np.int64)
    if values.max() < 128:  # the common case of small lengths: the varint is the byte itself
        return values.astype(np.uint8)[:, None], np.ones(values.shape[0], np.int64)
    sizes = varint_sizes(values)
    width = int(sizes.max())
    shifts = np.arange(width, dtype=np.uint64) * np.uint64(7)
    groups = ((values[:, None] >> shifts[None, :]) & np.uint64(0x7F)).astype(np.uint8)
    groups |= np.where(np.arange(width)[None, :] < (sizes[:, None] - 1), np.uint8(0x80), np.uint8(0))
    return groups, sizes


class Varint:
    """A segment of :func:`segments_to_binary`: the varint encoding of one uint64 per row."""

    def __init__(self, values: np.ndarray):
        self.values = values


Segment = Union[bytes, Varint, np.ndarray]  # constant bytes, a varint per row, or an (n, k) uint8 matrix


def segments_to_binary(n: int, segments: Sequence[Segment], present: np.ndarray | None = None) -> pa.BinaryArray:
    """Concatenates per-row segments into one binary value per row (empty where ``present`` is False).

    A segment is constant ``bytes`` (the same in every row), a :class:`Varint` of per-row values, or an
    ``(n, k)`` uint8 matrix of raw bytes. Built as one byte matrix and one boolean mask: no row loop.
    """
    blocks, masks = [], []
    ragged = False
    for segment in segments:
        if isinstance(segment, bytes):
            block = np.broadcast_to(np.frombuffer(segment, np.uint8), (n, len(segment)))
            mask = None
        elif isinstance(segment, Varint):
            block, sizes = _varint_matrix(segment.values)
            mask = np.arange(block.shape[1])[None, :] < sizes[:, None] if block.shape[1] > 1 else None
        else:
            block = np.asarray(segment, np.uint8).reshape(n, -1)
            mask = None
        ragged |= mask is not None
        blocks.append(block)
        masks.append(mask)
    matrix = np.concatenate(blocks, axis=1)
    width = matrix.shape[1]
    if present is not None and not present.all():
        ragged = True
    if not ragged:  # every row has the same width: no compaction needed
        return binary_from_parts(matrix.reshape(-1), np.arange(n + 1, dtype=np.int64) * width)
    mask = np.concatenate([np.ones(block.shape, bool) if mask is None else mask
                           for block, mask in zip(blocks, masks)], axis=1)
    if present is not None:
        mask &= present[:, None]
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(mask.sum(axis=1), out=offsets[1:])
    return binary_from_parts(matrix[mask], offsets)


def varint_array(values: np.ndarray) -> pa.BinaryArray:
    """Encodes uint64 values as protobuf varints, one binary element each.

    Negative int64 values must be passed as their two's complement uint64 (``values.view(np.uint64)``),
    which is what protobuf does for ``int64`` fields (10 bytes).
    """
    values = np.asarray(values).astype(np.uint64, copy=False)
    return segments_to_binary(values.shape[0], [Varint(values)])


def binary_lengths(array: pa.Array) -> np.ndarray:
    """Byte length of each element (0 for nulls) as int64."""
    return pc.binary_length(array).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)


def length_delimited(tag: bytes, payload: pa.Array) -> pa.Array:
    """Prefixes each payload with a field tag and its varint length: one protobuf LEN field per element."""
    header = segments_to_binary(len(payload), [tag, Varint(binary_lengths(payload))])
    return pc.binary_join_element_wise(header, payload.fill_null(b""), pa.scalar(b"", pa.binary()))


def regroup(flat: pa.Array, list_offsets: np.ndarray) -> pa.BinaryArray:
    """Concatenates consecutive elements of ``flat`` per list: row i gets elements
    ``list_offsets[i]:list_offsets[i+1]``. Zero-copy: it only re-offsets the flat buffer."""
    flat = flat if flat.type == pa.binary() else pc.cast(flat, pa.binary())
    if flat.offset or flat.null_count:
        flat = pa.concat_arrays([flat.fill_null(b"")])  # materialize with offset 0, no nulls
    value_offsets = np.frombuffer(flat.buffers()[1], dtype=np.int32, count=len(flat) + 1)
    data = flat.buffers()[2]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return binary_from_parts(data, value_offsets[np.asarray(list_offsets, dtype=np.int64)])
