"""Batch preprocessing (Apache Beam): raw rows → validated ``tf.Example`` shards + statistics + schema.

Example::

    >>> from tfpipe.pipelines import PreprocessOptions, run_preprocess
    >>> manifest = run_preprocess(PreprocessOptions(inputs=["rows.csv"], output="/tmp/out", label="y"))
"""
from tfpipe.pipelines.preprocess import PreprocessError, PreprocessOptions, TooManyRejectedRows, run_preprocess

__all__ = ["PreprocessError", "PreprocessOptions", "TooManyRejectedRows", "run_preprocess"]
