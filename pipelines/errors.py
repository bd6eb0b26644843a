"""tfpipe's errors: one hierarchy, so that every command reports a failure the same way.

:class:`TfpipeError` is a failure tfpipe explains: its message names the file, row or field and what to do, and
every ``tfpipe`` command prints it as one line and exits with status 2 (``--verbose``, or ``TFPIPE_DEBUG=1``,
shows the traceback; see :mod:`tfpipe.cli`). :class:`InputError` is the part of it that the user's input caused
(a path, a column, a value, an option, a store setting); it is also a ``ValueError``, so code that catches
``ValueError`` keeps working. The classes live here, at the first stage, so that every stage may raise them;
subclasses that belong to one owner live with it (``storage.StoreError``, ``storage.UnsupportedPath``,
``publish.NotATfpipeOutput``, ``tfrecord.CorruptRecord``, ``preprocess.PreprocessError``).

Example::

    >>> from tfpipe.pipelines.storage import StoreError
    >>> issubclass(StoreError, InputError) and issubclass(StoreError, ValueError)
    True
    >>> str(InputError("data.csv, row 7, field 'age': 'old' is not a number"))
    "data.csv, row 7, field 'age': 'old' is not a number"
"""
from __future__ import annotations


class TfpipeError(Exception):
    """A failure tfpipe explains in its message (what, where, what to do): one line from every command."""


class InputError(TfpipeError, ValueError):
    """The input given to tfpipe cannot be used: a path, a column, a value, an option or a store setting."""
