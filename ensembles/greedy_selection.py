"""Greedy ensemble selection (Caruana, Niculescu-Mizil, Crew, Ksikes, ICML 2004), as AutoGluon's weighted
ensemble uses it: starting from nothing, repeatedly add (with replacement) the member whose addition gives the
lowest loss of the averaged predictions on held-out rows; a member's weight is how often it was added.

The average is taken in prediction space (probabilities for classification, values for regression), which is
what the served ensemble computes; the loss is the task's (log loss, squared error). The selection keeps the
prefix of the trajectory with the lowest loss, so adding a member that does not lower the held-out loss never
happens: members with weight 0 are the ones that did not pay, and the ensemble drops them.

Example (member 1 is the true probability, member 0 its mirror image: only member 1 is kept)::

    >>> import numpy as np
    >>> from tfpipe.ensembles.task import Task
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 2000); y = (rng.uniform(size=2000) < p).astype(int)
    >>> members = np.stack([1 - p, p], axis=1)                                # [N, M]
    >>> weights, losses = select(members, y, Task("binary"))
    >>> weights.tolist(), losses[-1] < losses[0] or len(losses) == 1
    ([0.0, 1.0], True)
"""
from __future__ import annotations

import numpy as np

from tfpipe.ensembles.task import Task

DEFAULT_ITERATIONS = 50
_EPS = 1e-7


def _loss(prediction: np.ndarray, y: np.ndarray, task: Task) -> float:
    """Mean loss of averaged predictions (binary [N], multi-class [N, C], regression [N])."""
    if task.kind == "binary":
        p = np.clip(prediction, _EPS, 1 - _EPS)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    if task.kind == "multiclass":
        p = np.clip(prediction[np.arange(len(y)), y], _EPS, 1.0)
        return float(-np.mean(np.log(p)))
    return float(np.mean((prediction - y) ** 2))


def select(member_predictions: np.ndarray, y: np.ndarray, task: Task,
           iterations: int = DEFAULT_ITERATIONS) -> tuple[np.ndarray, list[float]]:
    """Weights [M] (summing to 1) of the members from their predictions ``[N, M]`` (``[N, M, C]`` multi-class) on
    held-out rows with labels ``y`` [N]; and the held-out loss after each kept step. Ties go to the lower index."""
    preds = np.asarray(member_predictions, "float64")
    y = np.asarray(y).reshape(-1)
    y = y.astype("int64") if task.kind == "multiclass" else y.astype("float64")
    m = preds.shape[1]
    if m == 0:
        raise ValueError("greedy selection needs at least one member")
    counts = np.zeros(m, "int64")
    total = np.zeros_like(preds[:, 0])
    best_counts, losses, best = counts.copy(), [], np.inf
    for step in range(1, max(1, int(iterations)) + 1):
        trial = [_loss((total + preds[:, j]) / step, y, task) for j in range(m)]
        j = int(np.argmin(trial))
        counts[j] += 1
        total = total + preds[:, j]
        if trial[j] < best - 1e-12:
            best, best_counts = trial[j], counts.copy()
            losses.append(trial[j])
    return best_counts / best_counts.sum(), losses
