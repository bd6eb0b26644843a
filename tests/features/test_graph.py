"""The no-AutoGraph policy: functions are traced as written; a Python branch on a tensor fails clearly."""
import pytest
import tensorflow as tf

from tfpipe.features.graph import graph_function, plain


def test_static_python_branches_trace_and_tensor_branches_fail_clearly():
    def clip(x):
        if x.shape.rank == 1:          # a static branch: fine without AutoGraph
            return tf.where(x > 1.0, 1.0, x)
        return x

    assert graph_function(clip)(tf.constant([0.5, 2.0])).numpy().tolist() == [0.5, 1.0]
    assert [v.numpy().tolist() for v in tf.data.Dataset.from_tensor_slices([[3.0]]).map(plain(clip))] == [[1.0]]

    def branchy(x):
        if tf.reduce_sum(x) > 0:       # a Python branch on a tensor: AutoGraph would have rewritten it
            return x
        return -x

    with pytest.raises(tf.errors.OperatorNotAllowedInGraphError):
        graph_function(branchy)(tf.constant([1.0]))
    assert float(tf.function(branchy)(tf.constant([-1.0]))[0]) == 1.0   # what AutoGraph does instead
