"""A mergeable quantile sketch over NumPy arrays (a KLL-style compactor hierarchy).

Level ``i`` holds values that each stand for ``2**i`` input values. When a level grows past ``capacity``
it is sorted and every other value moves up one level (the offset alternates, deterministically). With
``capacity = k`` the rank error of a query is at most about ``n * log2(n / k) / k``; while fewer than
``k`` values were added the sketch is exact. Merging is level-wise concatenation, so partial sketches
from parallel workers combine in any order.

Example::

    >>> import numpy as np
    >>> sketch = QuantileSketch()
    >>> sketch.add(np.arange(1, 101, dtype=float))
    >>> sketch.quantiles([0.0, 0.5, 1.0]).tolist()
    [1.0, 50.0, 100.0]
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

DEFAULT_CAPACITY = 4096


class QuantileSketch:
    """Approximate quantiles of a stream of float64 values; exact for fewer than ``capacity`` values."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        if capacity < 2:
            raise ValueError(f"capacity must be >= 2, got {capacity}")
        self.capacity = capacity
        self.levels: list[np.ndarray] = [np.empty(0)]
        self.count = 0
        self._flip = 0

    def add(self, values: np.ndarray) -> None:
        """Adds the finite values of ``values`` (NaN and inf must be filtered out by the caller)."""
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.size == 0:
            return
        self.count += values.size
        self.levels[0] = np.concatenate([self.levels[0], values])
        self._compact()

    def merge(self, other: "QuantileSketch") -> "QuantileSketch":
        """Adds everything ``other`` saw into this sketch; returns self."""
        while len(self.levels) < len(other.levels):
            self.levels.append(np.empty(0))
        for level, values in enumerate(other.levels):
            if values.size:
                self.levels[level] = np.concatenate([self.levels[level], values])
        self.count += other.count
        self._compact()
        return self

    def _compact(self) -> None:
        level = 0
        while level < len(self.levels):
            values = self.levels[level]
            if values.size > self.capacity:
                values = np.sort(values, kind="stable")
                odd = values.size % 2
                keep, promote = (values[-1:], values[:-1]) if odd else (values[:0], values)
                promoted = promote[self._flip::2]
                self._flip ^= 1
                self.levels[level] = keep
                if level + 1 == len(self.levels):
                    self.levels.append(np.empty(0))
                self.levels[level + 1] = np.concatenate([self.levels[level + 1], promoted])
            level += 1

    def _weighted(self) -> tuple[np.ndarray, np.ndarray]:
        values = np.concatenate(self.levels)
        weights = np.concatenate([np.full(v.size, 2.0 ** i) for i, v in enumerate(self.levels)])
        order = np.argsort(values, kind="stable")
        return values[order], weights[order]

    def quantiles(self, fractions: Sequence[float]) -> np.ndarray:
        """Values at the given fractions of the rank (0 = minimum, 1 = maximum)."""
        fractions = np.asarray(fractions, dtype=np.float64)
        if self.count == 0:
            return np.full(fractions.shape, np.nan)
        values, weights = self._weighted()
        cumulative = np.cumsum(weights)
        total = cumulative[-1]
        # The value whose cumulative weight first reaches ceil(q * total) (lower quantile, 1-based rank).
        ranks = np.maximum(np.ceil(fractions * total), 1.0)
        index = np.minimum(np.searchsorted(cumulative, ranks - 1e-9, side="left"), values.size - 1)
        return values[index]

    def rank_fraction(self, points: Sequence[float]) -> np.ndarray:
        """Estimated fraction of values <= each point (the empirical CDF)."""
        if self.count == 0:
            return np.zeros(len(points))
        values, weights = self._weighted()
        cumulative = np.concatenate([[0.0], np.cumsum(weights)])
        return cumulative[np.searchsorted(values, np.asarray(points, np.float64), side="right")] / cumulative[-1]

    def rank_error_bound(self) -> float:
        """An upper bound on the rank error of a query, as a fraction of the count."""
        if self.count <= self.capacity:
            return 0.0
        return min(1.0, (len(self.levels) - 1) / self.capacity * 2)
