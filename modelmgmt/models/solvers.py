"""Non-gradient solvers for the linear models: least squares / ridge and L-BFGS.

``lstsq`` minimises ``mean((X w + b - y)²) + l2/2 ||w||²`` in closed form: with ``l2 = 0``
by an SVD least-squares solve of the centred data (scikit-learn's LinearRegression), else by
the normal equations with ``alpha = n * l2 / 2`` (scikit-learn's ``Ridge(alpha)``).
``lbfgs`` minimises any smooth training loss of a model through scipy.optimize's L-BFGS-B,
the same routine and stopping rule scikit-learn's LogisticRegression uses.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from modelmgmt.errors import ConvergenceWarning

__all__ = ["lstsq", "lbfgs"]


def lstsq(X: np.ndarray, y: np.ndarray, *, l2: float, fit_intercept: bool) -> tuple[np.ndarray, float]:
    """Weights (d,) and intercept minimising the mean squared error plus ``l2/2 ||w||²``."""
    if fit_intercept:
        x_mean = X.mean(axis=0)
        y_mean = float(y.mean())
        Xc = X - x_mean
        yc = y - y_mean
    else:
        x_mean, y_mean, Xc, yc = np.zeros(X.shape[1]), 0.0, X, y
    if l2 > 0:
        A = Xc.T @ Xc
        A.flat[:: A.shape[0] + 1] += len(X) * l2 / 2.0
        w = np.linalg.solve(A, Xc.T @ yc)
    else:
        w = np.linalg.lstsq(Xc, yc, rcond=None)[0]
    return w, y_mean - float(x_mean @ w)


def lbfgs(model: Any, X: np.ndarray, t: np.ndarray, *, tol: float, max_iter: int) -> dict[str, Any]:
    """Minimise ``model.loss_and_grad_prepared(X, t)`` over its params (updated in place) by L-BFGS-B.

    Warns :class:`ConvergenceWarning` when ``max_iter`` iterations end before convergence.
    """
    # scipy.optimize costs about a second to import: load it only when an L-BFGS fit runs
    from scipy.optimize import minimize

    params = model.params
    names = list(params)
    shapes = [params[k].shape for k in names]
    bounds = np.cumsum([0, *(params[k].size for k in names)])

    def unpack(x: np.ndarray) -> None:
        for k, s, a, b in zip(names, shapes, bounds[:-1], bounds[1:]):
            params[k][...] = x[a:b].reshape(s)

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        unpack(x)
        value, grads = model.loss_and_grad_prepared(X, t)
        return float(value), np.concatenate([np.ravel(grads[k]) for k in names])

    x0 = np.concatenate([np.ravel(params[k]) for k in names]).astype(np.float64)
    res = minimize(
        objective,
        x0,
        method="L-BFGS-B",
        jac=True,
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": 64 * np.finfo(float).eps},
    )
    unpack(res.x)
    if res.status == 1:  # iteration limit
        warnings.warn(
            f"L-BFGS did not converge in max_iter={max_iter} iterations ({type(model).__name__}); "
            "scale the data (StandardScaler) or raise max_iter",
            ConvergenceWarning,
            stacklevel=4,
        )
    return {"loss": float(res.fun), "n_iter": int(res.nit), "converged": bool(res.status == 0)}
