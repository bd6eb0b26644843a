import numpy as np
import pyarrow as pa
import tensorflow as tf

from tfpipe.features import remote_shards
from tfpipe.pipelines.tfrecord import write_tfrecords


def test_record_blocks_are_what_tf_data_batches_and_rebatch_without_error_lines(tmp_path, capfd):
    rng = np.random.default_rng(2)
    paths = []
    for index in range(2):
        records = [rng.bytes(int(n)) for n in rng.integers(1, 200, 3000 + 17 * index)]
        paths.append(str(tmp_path / f"s{index}"))
        write_tfrecords(paths[-1], pa.array(records, pa.binary()))
    for block in (1, 100, 1024):
        for path in paths:
            expected = [b.numpy().tolist() for b in tf.data.TFRecordDataset(path).batch(block)]
            assert [b.numpy().tolist() for b in remote_shards.record_blocks(path, block)] == expected
    capfd.readouterr()
    # what record_batches does with them: interleave the shards, then form batches
    files = tf.data.Dataset.from_tensor_slices(paths)
    joined = files.interleave(lambda p: remote_shards.record_blocks(p, 100), cycle_length=2,
                              num_parallel_calls=2, deterministic=False).rebatch(256)
    assert sum(int(b.shape[0]) for b in joined) == 6017
    assert "RefCount" not in capfd.readouterr().err
