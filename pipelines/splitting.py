"""Deterministic assignment of rows to splits and shards from a 64-bit hash of each row.

The hash is of the ``--key`` columns when given (so a key always lands in the same split, whatever else
changes), else of the whole serialized example. Splits use the hash as a fraction in [0, 1); shards use
a second, independently mixed draw from it, so the rows of a split spread evenly over its shards.

Example::

    >>> import numpy as np
    >>> assign_splits(np.array([0, 2**63, 2**64 - 1], dtype=np.uint64), [("train", 0.5), ("eval", 0.5)]).tolist()
    [0, 1, 1]
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing constant


def parse_split_spec(spec: str) -> list[tuple[str, float]]:
    """Parses ``train=0.8,eval=0.2`` into ``[("train", 0.8), ("eval", 0.2)]`` (weights normalized to 1)."""
    pairs = []
    for part in spec.split(","):
        if "=" not in part:
            raise ValueError(f"--split {spec!r}: expected NAME=FRACTION[,NAME=FRACTION...]")
        name, weight = part.split("=", 1)
        name = name.strip()
        if not name.isidentifier():
            raise ValueError(f"--split {spec!r}: split name {name!r} must be a word (letters, digits, _)")
        try:
            value = float(weight)
        except ValueError:
            raise ValueError(f"--split {spec!r}: {weight!r} is not a number") from None
        if not value > 0:
            raise ValueError(f"--split {spec!r}: fraction of {name!r} must be > 0")
        pairs.append((name, value))
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"--split {spec!r}: split names repeat")
    total = sum(value for _, value in pairs)
    return [(name, value / total) for name, value in pairs]


def mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: spreads any integers (e.g. 32-bit CRCs) over all 64 bits."""
    z = values.astype(np.uint64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def row_hashes(columns: Mapping[str, pa.Array], key_columns: Sequence[str], example_crcs: np.ndarray) -> np.ndarray:
    """A stable uint64 hash per row: of the key columns if any, else of the serialized example (its CRC32C,
    which the TFRecord framing needs anyway, mixed to 64 bits)."""
    if key_columns:
        frame = pd.DataFrame({name: columns[name].to_pandas() for name in key_columns})
        return pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().astype(np.uint64)
    return mix64(example_crcs)


def assign_splits(hashes: np.ndarray, splits: Sequence[tuple[str, float]]) -> np.ndarray:
    """Index of the split of each row (its hash as a fraction falls in that split's interval)."""
    edges = np.cumsum([fraction for _, fraction in splits])[:-1]
    fraction = (hashes >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return np.searchsorted(edges, fraction, side="right")


def assign_shards(hashes: np.ndarray, num_shards: int) -> np.ndarray:
    """Shard of each row, from a re-mixed draw of its hash (independent of the split draw)."""
    mixed = hashes * _MIX
    return ((mixed >> np.uint64(32)) % np.uint64(num_shards)).astype(np.int64)
