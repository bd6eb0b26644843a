import numpy as np

from tfpipe.pipelines.quantiles import QuantileSketch


def test_exact_below_capacity():
    sketch = QuantileSketch(capacity=1000)
    values = np.random.default_rng(0).normal(size=999)
    sketch.add(values)
    fractions = np.linspace(0, 1, 11)
    expected = np.quantile(values, fractions, method="inverted_cdf")
    np.testing.assert_array_equal(sketch.quantiles(fractions), expected)
    assert sketch.rank_error_bound() == 0.0


def test_merged_partial_sketches_stay_within_their_rank_error_bound():
    rng = np.random.default_rng(1)
    values = rng.lognormal(size=400_000)
    parts = [QuantileSketch(capacity=512) for _ in range(7)]
    for index, part in enumerate(parts):
        for batch in np.array_split(values[index::7], 13):
            part.add(batch)
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    assert merged.count == values.size
    fractions = np.linspace(0.01, 0.99, 99)
    ranks = np.searchsorted(np.sort(values), merged.quantiles(fractions), side="right") / values.size
    assert np.max(np.abs(ranks - fractions)) <= merged.rank_error_bound()
    assert merged.rank_error_bound() < 0.05  # a meaningful bound, not a vacuous one


def test_rank_fraction_is_the_cdf():
    sketch = QuantileSketch()
    sketch.add(np.arange(1, 101, dtype=float))
    np.testing.assert_allclose(sketch.rank_fraction([0, 1, 50, 100, 1000]), [0, 0.01, 0.5, 1.0, 1.0])
