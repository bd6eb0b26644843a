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
