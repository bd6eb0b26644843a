"""The stacking meta-learner's fit: a linear model on the members' out-of-fold logits, solved to convergence.

The problem is small and convex (``members × units`` inputs, ``units`` outputs; logistic / softmax / squared
loss with a small L2 penalty on the weights), so it is solved with L-BFGS (``scipy.optimize``, installed with
XGBoost) on all out-of-fold logits at once instead of a few epochs of SGD: measured on Adult, 3 epochs of Adam
from the plain average left the stack of a gbdt and two neural members at test AUC 0.9242, below the gbdt alone
(0.9267).

Example::

    >>> import numpy as np
    >>> from tfpipe.ensembles.task import Task
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(500, 2)); y = (x[:, 0] + 0.1 * rng.normal(size=500) > 0).astype(int)
    >>> kernel, bias = fit_linear(x, y, Task("binary"))
    >>> bool(kernel[0, 0] > 5 * abs(kernel[1, 0]))
    True
"""
from __future__ import annotations

import numpy as np

from tfpipe.ensembles.task import Task

DEFAULT_L2 = 1e-4


def _loss_and_gradient(theta, x, y, task: Task, units: int, l2: float):
    n, p = x.shape
    kernel, bias = theta[:p * units].reshape(p, units), theta[p * units:]
    z = x @ kernel + bias
    if task.kind == "binary":
        z = z[:, 0]
        loss = np.mean(np.logaddexp(0.0, z) - y * z)
        dz = ((1.0 / (1.0 + np.exp(-z))) - y)[:, None] / n
    elif task.kind == "multiclass":
        top = z.max(axis=1, keepdims=True)
        log_norm = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
        loss = np.mean(log_norm - z[np.arange(n), y])
        prob = np.exp(z - log_norm[:, None])
        prob[np.arange(n), y] -= 1.0
        dz = prob / n
    else:
        residual = z[:, 0] - y
        loss = np.mean(residual ** 2)
        dz = (2.0 * residual)[:, None] / n
    loss += 0.5 * l2 * float(np.sum(kernel ** 2))
    grad_kernel = x.T @ dz + l2 * kernel
    return loss, np.concatenate([grad_kernel.ravel(), dz.sum(axis=0)])


def fit_linear(x: np.ndarray, y: np.ndarray, task: Task, l2: float = DEFAULT_L2, init=None,
               max_iterations: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Minimizes the task's mean loss of ``x @ kernel + bias`` (+ ``l2/2 |kernel|²``) → (kernel [P, U], bias [U]).

    ``x``: [N, P] (member logits flattened); ``y``: class index or value [N]; ``init``: (kernel, bias) to start
    from (default zeros).
    """
    from scipy.optimize import minimize

    x = np.asarray(x, "float64")
    y = np.asarray(y).reshape(-1)
    y = y.astype("int64") if task.kind == "multiclass" else y.astype("float64")
    units, p = task.units, x.shape[1]
    if init is None:
        theta0 = np.zeros(p * units + units)
    else:
        theta0 = np.concatenate([np.asarray(init[0], "float64").ravel(), np.asarray(init[1], "float64").ravel()])
    result = minimize(_loss_and_gradient, theta0, args=(x, y, task, units, l2), jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iterations})
    theta = result.x
    return theta[:p * units].reshape(p, units).astype("float32"), theta[p * units:].astype("float32")


def mean_loss(x, y, task: Task, kernel, bias) -> float:
    """The task's mean loss (no penalty) of the linear model on ``x``."""
    theta = np.concatenate([np.asarray(kernel, "float64").ravel(), np.asarray(bias, "float64").ravel()])
    y = np.asarray(y).reshape(-1)
    y = y.astype("int64") if task.kind == "multiclass" else y.astype("float64")
    return float(_loss_and_gradient(theta, np.asarray(x, "float64"), y, task, task.units, 0.0)[0])
