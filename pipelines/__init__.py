"""Batch preprocessing (Apache Beam): raw rows → validated ``tf.Example`` shards + statistics + schema.

Example::

    >>> import os, tempfile
    >>> from tfpipe.demo import ADULT_COLUMNS, adult_dir
    >>> from tfpipe.pipelines import PreprocessOptions, run_preprocess
    >>> manifest = run_preprocess(PreprocessOptions(
    ...     inputs=[os.path.join(adult_dir(), "adult.data")], output=os.path.join(tempfile.mkdtemp(), "adult"),
    ...     label="income", column_names=ADULT_COLUMNS, split="train=0.9,eval=0.1", progress=False, report=False))
    >>> manifest["rows_read"], sum(manifest["rows_written"].values()), manifest["rows_rejected"]
    (32561, 32561, 0)
"""
from tfpipe.pipelines.preprocess import PreprocessError, PreprocessOptions, TooManyRejectedRows, run_preprocess

__all__ = ["PreprocessError", "PreprocessOptions", "TooManyRejectedRows", "run_preprocess"]
