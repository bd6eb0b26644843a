"""Looks features up in what ``tfpipe preprocess`` wrote (docs/CONTRACTS.md section 1).

Files are read by :mod:`tfpipe.pipelines.artifacts` (local or on any store :mod:`tfpipe.pipelines.storage`
handles); this module adds what the features stage asks of them:
one split's statistics, one feature's statistics, dtypes and valency.

Example (``adult``: a ``tfpipe preprocess`` output directory of Adult rows)::

    >>> stats = load_statistics(adult)
    >>> round(feature_statistics(stats, "age", split="train").num_stats.mean, 2)
    38.82
"""
from __future__ import annotations

import os
from typing import Union

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from tfpipe.pipelines import artifacts as pipeline_artifacts
from tfpipe.pipelines import storage
from tfpipe.pipelines.artifacts import (available_splits, load_manifest, shard_paths,  # noqa: F401 (re-exported
                                        split_rows)                                    # for this stage)

StatisticsLike = Union[statistics_pb2.DatasetFeatureStatisticsList, str, os.PathLike]
SchemaLike = Union[schema_pb2.Schema, str, os.PathLike, None]


def load_schema(path: SchemaLike) -> schema_pb2.Schema | None:
    """A Schema from a message, a preprocessed DIR or a ``schema.pbtxt`` path (None stays None)."""
    if path is None or isinstance(path, schema_pb2.Schema):
        return path
    path = os.fspath(path)
    if _is_dataset(path):
        return pipeline_artifacts.load_schema(path)
    return text_format.Parse(storage.read_text(path), schema_pb2.Schema())


def load_statistics(path: StatisticsLike) -> statistics_pb2.DatasetFeatureStatisticsList:
    """Statistics from a message, a preprocessed DIR or a ``statistics.pbtxt`` path."""
    if isinstance(path, statistics_pb2.DatasetFeatureStatisticsList):
        return path
    path = os.fspath(path)
    if _is_dataset(path):
        return pipeline_artifacts.load_statistics(path)
    return text_format.Parse(storage.read_text(path), statistics_pb2.DatasetFeatureStatisticsList())


def _is_dataset(path: str) -> bool:
    """A preprocessed DIR (local: a directory; on a store: a prefix with a manifest) rather than one file."""
    if storage.is_local(path):
        return os.path.isdir(path)
    return storage.exists(storage.join(path, pipeline_artifacts.MANIFEST))


def compression_type(data_dir: str) -> str:
    """``""`` or ``"GZIP"`` (the ``TFRecordDataset`` argument) from the manifest."""
    from tfpipe.pipelines.preprocessed import PreprocessedDataset

    return PreprocessedDataset.load(data_dir).compression_type


def split_statistics(statistics: statistics_pb2.DatasetFeatureStatisticsList, split: str | None
                     ) -> statistics_pb2.DatasetFeatureStatistics:
    """The dataset of ``split`` (the only one when ``split`` is None and there is one)."""
    datasets = list(statistics.datasets)
    if split is None and len(datasets) == 1:
        return datasets[0]
    for dataset in datasets:
        if dataset.name == split:
            return dataset
    raise KeyError(f"no statistics for split {split!r}; have {[d.name for d in datasets]}")


def feature_statistics(statistics, key: str, split: str | None = "train"
                       ) -> statistics_pb2.FeatureNameStatistics:
    """The statistics of feature ``key`` (matched by ``path.step == [key]`` or ``name``)."""
    dataset = statistics if isinstance(statistics, statistics_pb2.DatasetFeatureStatistics) else \
        split_statistics(statistics, split)
    for feature in dataset.features:
        if list(feature.path.step) == [key] or feature.name == key:
            return feature
    raise KeyError(f"no statistics for feature {key!r}")


def schema_feature(schema: schema_pb2.Schema | None, key: str) -> schema_pb2.Feature | None:
    """The schema feature named ``key`` or None (also when there is no schema)."""
    if schema is None:
        return None
    for feature in schema.feature:
        if feature.name == key:
            return feature
    return None


def feature_dtype(key: str, schema, stats: statistics_pb2.FeatureNameStatistics | None) -> str:
    """``"int64"``, ``"float32"`` or ``"string"`` from the schema type, else the statistics type."""
    feature = schema_feature(schema, key)
    if feature is not None and feature.type:
        return {schema_pb2.INT: "int64", schema_pb2.FLOAT: "float32", schema_pb2.BYTES: "string"}[feature.type]
    if stats is None:
        raise KeyError(f"feature {key!r} is neither in the schema nor in the statistics")
    kind = statistics_pb2.FeatureNameStatistics
    return {kind.INT: "int64", kind.FLOAT: "float32", kind.STRING: "string", kind.BYTES: "string"}[stats.type]


def common_stats(stats: statistics_pb2.FeatureNameStatistics):
    """The ``common_stats`` of a numeric or string feature."""
    return stats.num_stats.common_stats if stats.HasField("num_stats") else stats.string_stats.common_stats


def is_multivalent(key: str, schema, stats: statistics_pb2.FeatureNameStatistics | None) -> bool:
    """True when examples may hold more than one value (schema ``value_count.max > 1``, else statistics)."""
    feature = schema_feature(schema, key)
    if feature is not None:
        if feature.HasField("shape"):
            return not (len(feature.shape.dim) == 1 and feature.shape.dim[0].size == 1)
        if feature.HasField("value_count") and feature.value_count.max > 0:
            return feature.value_count.max > 1
    if stats is None:
        return False
    return common_stats(stats).max_num_values > 1
