"""fit_input: one iterator over the repeated training data for all epochs, each pass reshuffled."""
from __future__ import annotations

import tensorflow as tf

from tfpipe.ensembles.base import FitOptions, fit_input


def test_fit_input_repeats_when_the_batches_per_pass_are_known():
    data = tf.data.Dataset.range(10).shuffle(10, seed=3, reshuffle_each_iteration=True).batch(4)
    same, steps = fit_input(data, FitOptions())
    assert same is data and steps is None
    repeated, steps = fit_input(data, FitOptions(batches_per_epoch=3))
    batches = [b.numpy().tolist() for b in repeated.take(6)]
    assert steps == 3 and [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    first, second = sum(batches[:3], []), sum(batches[3:], [])
    assert sorted(first) == sorted(second) == list(range(10)) and first != second   # every pass, a new order
    assert fit_input(data, FitOptions(batches_per_epoch=3, steps_per_epoch=2))[1] == 2  # the user's cap wins
