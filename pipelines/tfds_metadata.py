"""Writes the TFDS metadata (``dataset_info.json``, ``features.json``) beside the shards, so that
``tfds.builder_from_directory(DIR/tfds).as_dataset(split=...)`` reads them offline.

The TFDS feature of a column follows its schema rule: a required single value is a scalar ``Tensor``; an
optional value or a list is a ``Tensor`` of shape ``(None,)`` (empty where missing).

Example::

    >>> import os, tempfile, tensorflow as tf, tensorflow_datasets as tfds
    >>> from tfpipe.pipelines.schema import FeatureRule
    >>> folder = tempfile.mkdtemp()
    >>> example = tf.train.Example(features=tf.train.Features(feature={
    ...     "age": tf.train.Feature(int64_list=tf.train.Int64List(value=[39]))}))
    >>> with tf.io.TFRecordWriter(os.path.join(folder, "toy-train.tfrecord-00000-of-00001")) as writer:
    ...     writer.write(example.SerializeToString())
    >>> write_tfds_metadata(folder, "toy", [FeatureRule("age", "INT", required=True)], {"train": [1]}, {"train": 20})
    >>> [int(row["age"]) for row in tfds.builder_from_directory(folder).as_dataset(split="train")]
    [39]
"""
from __future__ import annotations

from typing import Mapping, Sequence

from tfpipe.pipelines.schema import FeatureRule

TFDS_TEMPLATE = "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}"


def tfds_features(rules: Sequence[FeatureRule]):
    """The ``tfds.features.FeaturesDict`` matching how rows are encoded."""
    import numpy as np
    import tensorflow_datasets as tfds

    # NumPy dtypes keep TensorFlow out of the driver (TFDS maps np.str_ to tf.string when reading).
    dtypes = {"INT": np.int64, "FLOAT": np.float32, "BYTES": np.str_}
    features = {}
    for rule in rules:
        shape = () if rule.required and not rule.multivalued else (None,)
        features[rule.name] = tfds.features.Tensor(shape=shape, dtype=dtypes[rule.kind])
    return tfds.features.FeaturesDict(features)


def write_tfds_metadata(tfds_dir: str, dataset_name: str, rules: Sequence[FeatureRule],
                        shard_lengths: Mapping[str, list], split_bytes: Mapping[str, int],
                        description: str = "") -> None:
    """Writes ``dataset_info.json`` and ``features.json`` for shards already in ``tfds_dir``."""
    import tensorflow_datasets as tfds

    template = tfds.core.ShardedFileTemplate(data_dir=tfds_dir, template=TFDS_TEMPLATE,
                                             dataset_name=dataset_name, filetype_suffix="tfrecord")
    split_infos = [tfds.core.SplitInfo(name=split, shard_lengths=list(lengths), num_bytes=int(split_bytes[split]),
                                       filename_template=template)
                   for split, lengths in shard_lengths.items()]
    tfds.folder_dataset.write_metadata(data_dir=tfds_dir, features=tfds_features(rules), split_infos=split_infos,
                                       filename_template=template, check_data=False,
                                       description=description or f"{dataset_name}, written by tfpipe preprocess")
