"""The default time limit of ``tfpipe train`` (``--time-limit auto``): a multiple of what XGBoost's own defaults
would take on the same rows on this machine, measured by a short probe, and never below a floor.

Why a default limit: without one, the default ensemble (``selection``) trains its tree members at learning rate
0.05 for up to 2,000 early-stopped rounds and then a Keras pass. That is the accurate choice on small tables
(UCI Adult: 25 s), but on 1M rows of a wide table it costs many times what the GBDT libraries cost with their
own defaults (issue 22 asks <= 3x the slowest of HistGradientBoosting / XGBoost / LightGBM at 1M rows). A fixed
number of seconds would be wrong on every other machine, and so would a fixed rows-to-seconds rule, so the
limit is measured here:

1. :func:`estimate_native_seconds` takes the first :data:`PROBE_ROWS` rows of the tree members' own feed (the
   same tree block, labels and objective), builds XGBoost's ``QuantileDMatrix`` of them and trains
   :data:`PROBE_ROUNDS` rounds with XGBoost's defaults (``hist``, depth 6, all columns), on the device the gbdt
   members use. Both are scaled linearly to the train rows: ``rows / probe_rows x (build + 100 x round)``, the
   cost of ``xgboost.train`` with its default 100 rounds. Histogram building is linear in the rows; the fixed
   cost per round makes the scaled figure an over-estimate on small probes, never an under-estimate.
2. :func:`auto_limit`: ``max(AUTO_FLOOR, AUTO_FACTOR x estimate)``. The factor 2.2 leaves room under the
   goal's 3x for the probe's over-estimate (1M rows of the wide table on 2 cores: 46.8 s estimated, 37.4 s for
   ``XGBClassifier`` on the same rows in the same run: 1.25x; with 2.5 the default run took 3.14x) and for the
   command's start-up (5-10 s of imports), which the limit does not count. A table of fewer than
   :data:`SKIP_CELLS` rows x tree columns x outputs is not probed (the probe would cost ~1-2 s of a ~25 s run on
   UCI Adult, to give the floor anyway).

The limit then works as ``--time-limit`` does (:mod:`tfpipe.ensembles.selection`, :mod:`tfpipe.ensembles.pacing`):
tree members first, each paced to its share, the Keras pass only when time is left. On a table where the floor
is not reached (Adult: XGBoost ~2 s, floor 120 s; the default fits in ~25 s) nothing changes and reruns stay
identical. Where the limit binds, what was trained depends on the machine's speed: ``--time-limit none`` trains
without a limit (reproducible bit for bit), ``--time-limit SECONDS`` sets one.

Only the ``selection`` ensemble trains to a deadline; the other kinds ignore ``auto``. Without tree members there
is nothing to probe and ``auto`` means no limit.

Example (a tiny binary table; the estimate depends on the machine, so only its shape is shown)::

    >>> import numpy as np, tensorflow as tf
    >>> from tfpipe.ensembles.task import Task
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2000, 3)).astype("float32"); y = (x[:, 0] > 0).astype("int64")
    >>> batches = tf.data.Dataset.from_tensor_slices(({"tree": x}, y)).batch(500)
    >>> est = estimate_native_seconds(batches, Task("binary"), ["q", "q", "q"], rows=20_000)
    >>> est.probe_rows, est.rows, est.seconds > 0, auto_limit(est) >= AUTO_FLOOR
    (2000, 20000, True, True)
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

PROBE_ROWS = 131_072    # rows the probe trains on (two 65,536-row tree batches)
PROBE_ROUNDS = 10       # rounds timed; XGBoost's first round costs about what the later ones do on `hist`
NATIVE_ROUNDS = 100     # xgboost.train's default num_boost_round (and XGBClassifier's n_estimators)
AUTO_FACTOR = 2.2       # the limit, in units of the native estimate (which runs ~1.25x over: see below)
AUTO_FLOOR = 120.0      # seconds: never less (small tables train as without a limit)
SKIP_CELLS = 4_000_000  # rows x tree columns x outputs below which the probe is skipped and the floor used: at
                        # ~0.8 us per cell for 100 rounds (1M x 42 on 2 cores) that is ~3 s, 16x below the floor


@dataclasses.dataclass(frozen=True)
class NativeEstimate:
    """What ``xgboost.train`` with its defaults would take on ``rows`` rows, scaled from a probe of
    ``probe_rows``: ``build_seconds`` (the quantized matrix) and ``round_seconds`` (one round) of the probe."""

    seconds: float
    rows: int
    probe_rows: int
    build_seconds: float
    round_seconds: float

    def __post_init__(self):
        if self.rows < 0 or self.probe_rows <= 0:
            raise ValueError(f"rows must be >= 0 and probe_rows > 0, got {self.rows} and {self.probe_rows}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def estimate_native_seconds(batches, task, feature_types, rows: int, device: str = "cpu",
                            probe_rows: int = PROBE_ROWS) -> NativeEstimate:
    """Times XGBoost's defaults on the first ``probe_rows`` rows of ``batches`` (``(inputs, label)`` with
    ``inputs["tree"]``, as the gbdt members are fed) and scales the time to ``rows``; see the module."""
    import xgboost as xgb

    data, labels, seen = [], [], 0
    for inputs, y in batches:
        block = np.asarray(inputs["tree"])
        data.append(block[: probe_rows - seen])
        labels.append(np.asarray(y).reshape(-1)[: probe_rows - seen])
        seen += len(data[-1])
        if seen >= probe_rows:
            break
    if not seen:
        raise ValueError("the tree members' train feed gave no rows to time")
    x, y = np.concatenate(data), np.concatenate(labels)
    from tfpipe.ensembles.xgboost_members import task_params

    params = {"tree_method": "hist", "device": device, **task_params(task)}     # else XGBoost's defaults
    start = time.perf_counter()
    matrix = xgb.QuantileDMatrix(x, label=y.astype("float32" if task.kind == "regression" else "int32"),
                                 feature_types=list(feature_types), enable_categorical=True)
    build = time.perf_counter() - start
    start = time.perf_counter()
    xgb.train(params, matrix, num_boost_round=PROBE_ROUNDS)
    per_round = (time.perf_counter() - start) / PROBE_ROUNDS
    scale = max(int(rows), seen) / seen
    return NativeEstimate(seconds=scale * (build + NATIVE_ROUNDS * per_round), rows=int(rows), probe_rows=seen,
                          build_seconds=build, round_seconds=per_round)


def auto_limit(estimate: NativeEstimate, factor: float = AUTO_FACTOR, floor: float = AUTO_FLOOR) -> float:
    """Seconds for the call: ``max(floor, factor x estimate.seconds)``.

    >>> big, small = NativeEstimate(100.0, 1_000_000, 131_072, 0.1, 0.06), NativeEstimate(1.0, 1, 1, 0, 0)
    >>> round(auto_limit(big), 6), auto_limit(small)
    (220.0, 120.0)
    """
    return max(float(floor), float(factor) * estimate.seconds)


class AutoDeadline:
    """The deadline of ``--time-limit auto``, known only once the probe has run: ``to_deadline(limit_seconds)``
    turns a limit into the fit's ``time.monotonic()`` deadline (the caller keeps back what export and metrics
    need). After :meth:`resolve`, ``limit`` and ``estimate`` say what was chosen (None: no limit)."""

    def __init__(self, to_deadline):
        self.to_deadline = to_deadline
        self.limit: float | None = None
        self.estimate: NativeEstimate | None = None

    def resolve(self, batches, task, feature_types, rows: int, device: str = "cpu", log=print) -> float:
        """Runs the probe (unless the table is below :data:`SKIP_CELLS`) and returns the fit's deadline.
        ``batches``: the tree feed's batches, or a function making them (called only when the probe runs)."""
        cells = int(rows) * len(feature_types) * max(task.n_classes if task.kind == "multiclass" else 1, 1)
        if cells < SKIP_CELLS:
            self.limit = AUTO_FLOOR
            log(f"[tfpipe train] time limit auto: {self.limit:.0f} s (the floor: {rows:,} rows x "
                f"{len(feature_types)} tree columns need no probe; --time-limit none for no limit)")
            return self.to_deadline(self.limit)
        start = time.perf_counter()
        self.estimate = estimate_native_seconds(batches() if callable(batches) else batches, task, feature_types,
                                                rows, device=device)
        self.limit = auto_limit(self.estimate)
        log(f"[tfpipe train] time limit auto: {self.limit:.0f} s (XGBoost's defaults would take ~"
            f"{self.estimate.seconds:.1f} s on these {rows:,} rows, timed on {self.estimate.probe_rows:,} in "
            f"{time.perf_counter() - start:.1f} s; {AUTO_FACTOR}x, at least {AUTO_FLOOR:.0f} s; "
            f"--time-limit none for no limit)")
        return self.to_deadline(self.limit)

    def to_json(self) -> dict:
        return {"source": "auto", "seconds": self.limit,
                "native_estimate": None if self.estimate is None else self.estimate.to_json()}
