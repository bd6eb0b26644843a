"""A wide, census-like table for training-scale benchmarks (issue 22): 8 numbers and 33 categoricals of 2-60
values (skewed frequencies, some missing), a binary label that depends on main effects of most columns, a few
interactions and non-linear numbers, so trees and neural members both have something to find.

Deterministic in ``--seed``; rows are generated and written in chunks (memory stays flat in ``--rows``).
Writes ``OUT/train.csv`` and ``OUT/test.csv`` (``--test-rows``, same generator, other rows) with a header.

    python benchmarks/wide_table.py --rows 250000 --out /tmp/wide250k
    tfpipe preprocess --input train=/tmp/wide250k/train.csv test=/tmp/wide250k/test.csv --label label \\
        --output /tmp/wide250k/data

Example::

    >>> table = make_chunk(1000, chunk_index=0, seed=0)
    >>> len(table.column_names), table.num_rows, sorted(set(table.column("label").to_pylist()))
    (42, 1000, ['no', 'yes'])
    >>> make_chunk(1000, 0, seed=0, target="regression").column("label").type
    DataType(double)
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

N_NUMERIC = 8
N_CATEGORICAL = 33
CHUNK = 100_000


def _cardinalities(seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    cards = np.concatenate([[2, 2, 3, 5, 60, 52, 47], rng.integers(2, 61, N_CATEGORICAL - 7)])
    return [int(c) for c in cards]


def _effects(seed: int):
    """The label model's fixed parameters (the same for every chunk)."""
    rng = np.random.default_rng(seed + 1)
    cards = _cardinalities(seed)
    probs = [rng.dirichlet(np.full(c, 0.6)) for c in cards]                   # skewed value frequencies
    effects = [rng.normal(0, 0.5 if i % 3 else 0.15, c) for i, c in enumerate(cards)]
    interactions = [(rng.integers(0, N_CATEGORICAL), rng.integers(0, N_CATEGORICAL),
                     rng.normal(0, 0.8, (60, 60))) for _ in range(4)]
    return cards, probs, effects, interactions


def make_chunk(rows: int, chunk_index: int, seed: int = 0, target: str = "binary") -> pa.Table:
    """``rows`` rows of the table (chunk ``chunk_index`` of the stream). ``target``: ``"binary"`` (label yes/no
    drawn from the logit) or ``"regression"`` (label = the logit plus unit normal noise; the same columns)."""
    cards, probs, effects, interactions = _effects(seed)
    rng = np.random.default_rng([seed, chunk_index])
    logit = np.full(rows, -1.2)
    columns = {}
    age = rng.gamma(6.0, 6.5, rows).clip(17, 90).round()
    hours = rng.normal(40, 12, rows).clip(1, 99).round()
    gain = np.where(rng.random(rows) < 0.08, rng.lognormal(8.5, 1.0, rows), 0.0).round()
    loss = np.where(rng.random(rows) < 0.05, rng.lognormal(7.5, 0.3, rows), 0.0).round()
    weight = rng.lognormal(12, 0.5, rows).round()
    wage = np.where(rng.random(rows) < 0.3, rng.gamma(2.0, 400.0, rows), 0.0).round()
    weeks = rng.integers(0, 53, rows).astype(float)
    score = rng.normal(0, 1, rows)
    logit += 0.04 * (age - 38) - 0.0007 * (age - 45) ** 2 + 0.03 * (hours - 40) + 0.9 * (gain > 5000)
    logit += 0.5 * (loss > 1800) + 0.001 * wage + 0.02 * weeks + 0.4 * np.sin(2 * score)
    numbers = {"age": age, "hours": hours, "capital_gain": gain, "capital_loss": loss, "weight": weight,
               "wage_per_hour": wage, "weeks_worked": weeks, "score": score}
    for name, values in numbers.items():
        missing = rng.random(rows) < (0.03 if name in ("wage_per_hour", "score") else 0.0)
        columns[name] = pa.array(values, mask=missing)
    codes = []
    for i, (card, p, effect) in enumerate(zip(cards, probs, effects)):
        code = rng.choice(card, size=rows, p=p)
        codes.append(code)
        logit += effect[code]
        missing = rng.random(rows) < (0.05 if i % 5 == 0 else 0.0)
        values = np.array([f"c{i}_v{v}" for v in range(card)], dtype=object)[code]
        columns[f"cat_{i:02d}"] = pa.array(values, mask=missing)
    for a, b, table in interactions:
        logit += table[codes[a] % 60, codes[b] % 60]
    if target == "regression":
        columns["label"] = pa.array((logit + rng.normal(0, 1, rows)).round(4))
    else:
        label = rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))
        columns["label"] = pa.array(np.where(label, "yes", "no"))
    return pa.table(columns)


def write(path: str, rows: int, first_chunk: int, seed: int, target: str = "binary") -> None:
    options = pacsv.WriteOptions(include_header=True)
    with pacsv.CSVWriter(path, make_chunk(1, 0, seed, target).schema, write_options=options) as writer:
        done, index = 0, first_chunk
        while done < rows:
            n = min(CHUNK, rows - done)
            writer.write_table(make_chunk(n, index, seed, target))
            done, index = done + n, index + 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=250_000)
    p.add_argument("--test-rows", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--target", choices=("binary", "regression"), default="binary")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    write(os.path.join(args.out, "train.csv"), args.rows, 0, args.seed, args.target)
    write(os.path.join(args.out, "test.csv"), args.test_rows, 10_000_000, args.seed, args.target)   # chunks never reused
    print(f"wrote {args.rows} + {args.test_rows} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
