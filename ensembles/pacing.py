"""A tree member's learning rate paced to its deadline (``--time-limit``), for XGBoost and LightGBM alike.

The defaults (learning rate 0.05, up to 2,000 rounds with early stopping) are the accurate choice when time is
free; under a deadline they stop long before the model has converged (1M rows on 2 cores: ~150 rounds fit in a
minute, 0.05 x 150 = 7.5 "rate-rounds", where a converged default of the libraries is about 0.3 x 100 = 30). So:
after the first :data:`PROBE_ROUNDS` rounds the time per round is measured, the rounds that still fit before the
deadline are counted, and when ``rate x rounds`` falls short of :data:`TARGET` the rate of the remaining rounds is
raised to ``TARGET / rounds`` (at most :data:`MAX_RATE`). The rounds already trained keep their rate: XGBoost and
LightGBM both allow the rate to change between rounds (``Booster.set_param`` / ``reset_parameter``), and the
compiled trees carry each tree's leaf values as trained, so serving is unchanged. A rate the user set
(``--gbdt-param eta=...`` / ``--lgbm-param learning_rate=...``) is never paced.

Example::

    >>> import time
    >>> pace = Pace(deadline=time.monotonic() + 20, rate=0.05, rounds=2000)
    >>> pace.started -= 1.0     # 0.1 s a round, ~210 rounds fit: 30 / 210
    >>> round(pace.rate_after(PROBE_ROUNDS), 2), round(pace.paced, 2)
    (0.14, 0.14)
"""
from __future__ import annotations

import time

PROBE_ROUNDS = 10     # rounds timed before the rate is decided
TARGET = 30.0         # learning rate x rounds of a converged library default (XGBoost: 0.3 x 100)
MAX_RATE = 0.3        # never faster than XGBoost's own default
RATE_NAMES = ("eta", "learning_rate", "shrinkage_rate")     # a rate the user set under any name is never paced


class Pace:
    """When to raise a booster's learning rate so that it converges before ``deadline`` (``time.monotonic()``).

    ``rate``: the configured rate; ``rounds``: the most rounds the booster may train."""

    def __init__(self, deadline: float, rate: float, rounds: int):
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate!r}")
        self.deadline, self.rate, self.rounds = float(deadline), float(rate), int(rounds)
        self.started = time.monotonic()
        self.paced: float | None = None      # the rate chosen after the probe (None: unchanged)

    def rate_after(self, done: int) -> float | None:
        """The rate for the rounds after the first ``done`` ones: a new rate once, right after the probe
        (``done == PROBE_ROUNDS``) when the configured one would not converge in time; None otherwise."""
        if done != PROBE_ROUNDS:
            return None
        per_round = max((time.monotonic() - self.started) / done, 1e-9)
        fit = min(self.rounds, done + max(self.deadline - time.monotonic(), 0.0) / per_round)
        if self.rate * fit >= TARGET:
            return None
        rate = min(MAX_RATE, TARGET / max(fit, 1.0))
        if rate <= self.rate:
            return None
        self.paced = rate
        return rate


def pace_for(deadline: float | None, params: dict, user_params, rounds: int, key: str) -> Pace | None:
    """The :class:`Pace` of one booster: None without a deadline or when ``user_params`` set a rate; else paced
    from ``params[key]`` (the library's configured rate)."""
    if deadline is None or any(name in dict(user_params) for name in RATE_NAMES):
        return None
    return Pace(deadline, float(params[key]), rounds)
