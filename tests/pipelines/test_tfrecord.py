import numpy as np
import pyarrow as pa
import tensorflow as tf

from tfpipe.pipelines.tfrecord import write_tfrecords


def test_tf_data_reads_what_we_write_with_crc_checks(tmp_path):
    records = [b"", b"a", bytes(range(256)) * 40] + [np.random.default_rng(0).bytes(n) for n in range(0, 300, 7)]
    path = str(tmp_path / "x.tfrecord")
    assert write_tfrecords(path, pa.array(records, pa.binary()))[0] == len(records)
    # tf.data verifies both CRCs of every record and fails on a mismatch.
    assert [r.numpy() for r in tf.data.TFRecordDataset(path)] == records


def test_gzip_output_is_readable_and_reproducible(tmp_path):
    records = pa.array([b"x" * 100, b"y"])
    write_tfrecords(str(tmp_path / "a.gz"), records, "gzip")
    write_tfrecords(str(tmp_path / "b.gz"), records, "gzip")
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(tmp_path / "a.gz"), compression_type="GZIP")] == \
        [b"x" * 100, b"y"]


def test_corrupted_byte_is_detected(tmp_path):
    path = tmp_path / "c.tfrecord"
    write_tfrecords(str(path), pa.array([b"hello world"]))
    data = bytearray(path.read_bytes())
    data[14] ^= 0xFF  # inside the payload
    path.write_bytes(bytes(data))
    try:
        list(tf.data.TFRecordDataset(str(path)))
    except tf.errors.DataLossError:
        return
    raise AssertionError("a corrupted record was read without a CRC error")


def _tf_blocks(path, block, compression=""):
    return [[r for r in b.numpy().tolist()] for b in tf.data.TFRecordDataset(path, compression_type=compression)
            .batch(block)]


def test_read_record_blocks_gives_tf_data_blocks_across_chunk_boundaries(tmp_path):
    from tfpipe.pipelines.tfrecord import read_record_blocks

    rng = np.random.default_rng(3)
    records = [b"", b"a"] + [rng.bytes(int(n)) for n in rng.integers(0, 900, 400)]
    for compression, tf_name in (("none", ""), ("gzip", "GZIP")):
        path = str(tmp_path / f"r.{compression}")
        write_tfrecords(path, pa.array(records, pa.binary()), compression)
        for block, chunk in ((1, 7), (32, 1000), (7, 1 << 20), (1000, 513)):   # chunks cut headers and records
            got = list(read_record_blocks(path, block, compression=tf_name, chunk_bytes=chunk, ahead=1))
            assert got == _tf_blocks(path, block, tf_name), (compression, block, chunk)
    empty = str(tmp_path / "empty")
    write_tfrecords(empty, pa.array([], pa.binary()))
    assert list(read_record_blocks(empty, 4)) == []


def test_read_record_blocks_names_the_file_and_offset_of_damage(tmp_path):
    import pytest

    from tfpipe.pipelines.tfrecord import CorruptRecord, read_record_blocks

    path = tmp_path / "d.tfrecord"
    write_tfrecords(str(path), pa.array([b"first", b"hello world"]))
    good = path.read_bytes()
    damaged = bytearray(good)
    damaged[21 + 14] ^= 0xFF   # inside the second record's payload (the first takes 16 + 5 bytes)
    path.write_bytes(bytes(damaged))
    with pytest.raises(CorruptRecord, match=r"d\.tfrecord: corrupt TFRecord data at byte 21"):
        list(read_record_blocks(str(path), 1))
    path.write_bytes(good[:-3])
    with pytest.raises(CorruptRecord, match=r"truncated TFRecord at byte 21"):
        list(read_record_blocks(str(path), 1))
    assert list(read_record_blocks(str(path), 1, verify=False).__next__()) == [b"first"]


def test_read_record_spans_hold_whole_multiples_of_records_across_chunk_boundaries(tmp_path):
    from tfpipe.pipelines.tfrecord import read_record_spans

    rng = np.random.default_rng(5)
    records = [rng.bytes(int(n)) for n in rng.integers(0, 300, 500)]
    path = str(tmp_path / "r")
    write_tfrecords(path, pa.array(records, pa.binary()))
    for multiple, chunk in ((1, 11), (7, 1000), (64, 3000), (1000, 100)):   # 1000 > the file: one span
        spans = list(read_record_spans(path, chunk_bytes=chunk, ahead=1, multiple=multiple))
        assert all(len(starts) % multiple == 0 for _, starts, _ in spans[:-1]), (multiple, chunk)
        assert [buffer[s:s + n] for buffer, starts, lengths in spans
                for s, n in zip(starts.tolist(), lengths.tolist())] == records, (multiple, chunk)
