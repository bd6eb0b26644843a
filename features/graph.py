"""Graph functions traced as written, without AutoGraph: the one policy for every function tfpipe hands to
``tf.data`` (``map``, ``filter``) or ``tf.function``.

AutoGraph rewrites a function's Python ``if`` / ``for`` / ``while`` on tensors into graph control flow before
tracing it. tfpipe's graph code has none (it writes ``tf.cond`` / ``tf.where`` / ``tf.boolean_mask`` itself, and
its Python branches are on static shapes and configuration), so the rewrite only costs time: on UCI Adult's
default ``tfpipe train`` AutoGraph converted 177 tfpipe functions for 3.0 s of a 37 s run (measured by timing
``autograph.impl.api._convert_actual``, 2026-12-07, 2 cores). Keras already traces its own train step without it.
A function that did branch on a tensor in Python now fails at trace time with TensorFlow's clear
``OperatorNotAllowedInGraphError`` instead of being converted: write the branch with ``tf.cond``.

Example::

    >>> import tensorflow as tf
    >>> double = graph_function(lambda x: x * 2, reduce_retracing=True)
    >>> int(double(tf.constant(3)))
    6
    >>> [int(v) for v in tf.data.Dataset.range(3).map(plain(lambda v: v + 1))]
    [1, 2, 3]
"""
from __future__ import annotations

import tensorflow as tf


def plain(fn):
    """``fn`` marked not to be converted by AutoGraph (for ``Dataset.map`` / ``filter``)."""
    return tf.autograph.experimental.do_not_convert(fn)


def graph_function(fn=None, **kwargs):
    """``tf.function(fn, autograph=False, **kwargs)``; with ``fn`` omitted, a decorator."""
    return tf.function(fn, autograph=False, **kwargs)
