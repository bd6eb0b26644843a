"""Writes TFRecord files: ``uint64 length, uint32 masked_crc32c(length), data, uint32 masked_crc32c(data)``.

Framing is built for a whole Arrow binary array at once; only the CRC of each record is a per-record C call
(google-crc32c). GZIP output is one gzip stream with a zero timestamp, so reruns are byte-identical.

Example::

    >>> import os, tempfile, pyarrow as pa, tensorflow as tf
    >>> path = os.path.join(tempfile.mkdtemp(), "x.tfrecord")
    >>> write_tfrecords(path, pa.array([b"a", b"bc"]))     # 16 bytes of framing per record
    (2, 35)
    >>> [r.numpy() for r in tf.data.TFRecordDataset(path)]
    [b'a', b'bc']
"""
from __future__ import annotations

import gzip
import io

import google_crc32c
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tfpipe.pipelines.varint import binary_lengths, segments_to_binary

_MASK_DELTA = 0xA282EAD8


def _masked_array(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC of each uint32 CRC value, as little-endian uint32."""
    crc = crc.astype(np.uint64)
    rotated = ((crc >> np.uint64(15)) | (crc << np.uint64(17))) & np.uint64(0xFFFFFFFF)
    return ((rotated + np.uint64(_MASK_DELTA)) & np.uint64(0xFFFFFFFF)).astype("<u4")


def record_crcs(records: pa.BinaryArray) -> np.ndarray:
    """The (unmasked) CRC32C of every record, as uint32."""
    blob = pa.concat_arrays([records]) if records.offset else records
    n = len(blob)
    offsets = np.frombuffer(blob.buffers()[1], dtype=np.int32, count=n + 1).tolist()
    data = blob.buffers()[2].to_pybytes() if blob.buffers()[2] is not None else b""
    value = google_crc32c.value
    return np.fromiter((value(data[start:end]) for start, end in zip(offsets, offsets[1:])), np.uint32, count=n)


def frame_records(records: pa.BinaryArray, crcs: np.ndarray | None = None) -> memoryview:
    """The TFRecord bytes of all records, in order (``crcs``: their :func:`record_crcs`, if known)."""
    if isinstance(records, pa.ChunkedArray):
        records = records.combine_chunks()
    n = len(records)
    if n == 0:
        return memoryview(b"")
    lengths = binary_lengths(records).astype("<u8")
    length_bytes = lengths.view(np.uint8).reshape(n, 8)
    value = google_crc32c.value
    unique_lengths, inverse = np.unique(lengths, return_inverse=True)  # few distinct lengths: CRC each once
    length_crcs = np.array([value(int(length).to_bytes(8, "little")) for length in unique_lengths], np.uint64)
    header_crcs = _masked_array(length_crcs[inverse])
    data_crcs = _masked_array(record_crcs(records) if crcs is None else crcs)
    header = segments_to_binary(n, [length_bytes, header_crcs.view(np.uint8).reshape(n, 4)])
    trailer = segments_to_binary(n, [data_crcs.view(np.uint8).reshape(n, 4)])
    framed = pc.binary_join_element_wise(header, records, trailer, pa.scalar(b"", pa.binary()))
    framed = pa.concat_arrays([framed])  # offset 0: its data buffer is the file, in order
    size = int(np.frombuffer(framed.buffers()[1], dtype=np.int32, count=n + 1)[-1])
    return memoryview(framed.buffers()[2])[:size]


def gzip_bytes(payload) -> bytes:
    """One gzip stream with a zero timestamp and no file name: the same input gives the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as stream:
        stream.write(payload)
    return buffer.getvalue()


def write_tfrecords(path: str, records: pa.BinaryArray, compression: str = "none",
                    crcs: np.ndarray | None = None) -> tuple[int, int]:
    """Writes ``records`` to ``path`` (any store :mod:`tfpipe.pipelines.storage` handles); returns
    (number of records, bytes written)."""
    from tfpipe.pipelines import storage

    payload = frame_records(records, crcs)
    if compression == "gzip":
        payload = memoryview(gzip_bytes(payload))
    elif compression != "none":
        raise ValueError(f"unknown compression {compression!r}; expected none or gzip")
    with storage.create(path) as handle:
        handle.write(payload)
    return len(records), payload.nbytes
