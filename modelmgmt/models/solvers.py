"""Non-gradient solvers for the linear models: least squares / ridge and L-BFGS.

``lstsq`` minimises ``mean((X w + b - y)²) + l2/2 ||w||²`` in closed form on the centred
data: with ``l2 = 0`` by the normal equations refined once (the SVD solve scikit-learn's
LinearRegression uses when X'X is ill-conditioned or singular: the minimum-norm solution),
else by the normal equations with ``alpha = n * l2 / 2`` (scikit-learn's ``Ridge(alpha)``
with its Cholesky solver).
``lbfgs`` minimises any smooth training loss of a model through scipy.optimize's L-BFGS-B,
the same routine and stopping rule scikit-learn's LogisticRegression uses.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from modelmgmt.errors import ConvergenceWarning

__all__ = ["lstsq", "lbfgs", "logistic_lbfgs"]

#: condition number of X'X above which least squares uses the SVD instead of the normal equations
_MAX_COND = 1e10


def lstsq(X: np.ndarray, y: np.ndarray, *, l2: float, fit_intercept: bool) -> tuple[np.ndarray, float]:
    """Weights (d,) and intercept minimising the mean squared error plus ``l2/2 ||w||²``."""
    if fit_intercept:
        x_mean = X.mean(axis=0)
        y_mean = float(y.mean())
        Xc = X - x_mean
        yc = y - y_mean
    else:
        x_mean, y_mean, Xc, yc = np.zeros(X.shape[1]), 0.0, X, y
    A = Xc.T @ Xc  # numpy computes X'X with one symmetric rank-k update
    b = Xc.T @ yc
    if l2 > 0:
        A.flat[:: A.shape[0] + 1] += len(X) * l2 / 2.0
        w = np.linalg.solve(A, b)
    elif np.linalg.cond(A) < _MAX_COND:
        # the normal equations plus one step of iterative refinement: as accurate as an SVD
        # solve for a well-conditioned X, and several times faster than one
        w = np.linalg.solve(A, b)
        w += np.linalg.solve(A, Xc.T @ (yc - Xc @ w))
    else:  # ill-conditioned or rank-deficient: the minimum-norm SVD solution, as scikit-learn
        w = np.linalg.lstsq(Xc, yc, rcond=None)[0]
    return w, y_mean - float(x_mean @ w)


def _minimize(objective: Any, x0: np.ndarray, *, tol: float, max_iter: int, what: str) -> Any:
    """scipy's L-BFGS-B with scikit-learn's settings; ConvergenceWarning at the iteration limit."""
    # scipy.optimize costs about a second to import: load it only when an L-BFGS fit runs
    from scipy.optimize import minimize

    res = minimize(
        objective,
        x0,
        method="L-BFGS-B",
        jac=True,
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": 64 * np.finfo(float).eps},
    )
    if res.status == 1:  # iteration limit
        warnings.warn(
            f"L-BFGS did not converge in max_iter={max_iter} iterations ({what}); "
            "scale the data (StandardScaler) or raise max_iter",
            ConvergenceWarning,
            stacklevel=5,
        )
    return res


def logistic_lbfgs(
    X: np.ndarray, t: np.ndarray, k: int, *, l2: float, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(W (d, k), b (k,), info) minimising mean cross-entropy + the l2 term of LogisticRegression.

    Two classes are solved as scikit-learn solves them, on one decision vector D = W[:, 1] -
    W[:, 0] with ``l2/2 ||D||²`` (then W = [-D/2, D/2]); more classes on all of W with
    ``l2/2 ||W||²``. Class indices ``t`` are in [0, k).
    """
    n, d = X.shape
    if k == 2:
        yf = t.astype(np.float64)

        def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
            D, c = x[:d], x[d]
            z = X @ D
            z += c
            value = float(np.mean(np.logaddexp(0.0, z) - yf * z)) + 0.5 * l2 * float(D @ D)
            r = 0.5 * (1.0 + np.tanh(0.5 * z))  # sigmoid, stable
            r -= yf
            r /= n
            g = np.empty(d + 1)
            g[:d] = X.T @ r + l2 * D
            g[d] = r.sum()
            return value, g

        res = _minimize(objective, np.zeros(d + 1), tol=tol, max_iter=max_iter, what="LogisticRegression")
        D, c = res.x[:d], res.x[d]
        W, b = np.column_stack([-0.5 * D, 0.5 * D]), np.array([-0.5 * c, 0.5 * c])
    else:
        rows = np.arange(n)

        def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
            W, b = x[: d * k].reshape(d, k), x[d * k :]
            Z = X @ W
            Z += b
            m = Z.max(axis=1, keepdims=True)
            Z -= m
            E = np.exp(Z)
            s = E.sum(axis=1, keepdims=True)
            value = float(np.mean(np.log(s[:, 0]) - Z[rows, t])) + 0.5 * l2 * float(np.vdot(W, W))
            E /= s
            E[rows, t] -= 1.0
            E /= n
            g = np.empty_like(x)
            g[: d * k] = (X.T @ E + l2 * W).ravel()
            g[d * k :] = E.sum(axis=0)
            return value, g

        res = _minimize(objective, np.zeros(d * k + k), tol=tol, max_iter=max_iter, what="LogisticRegression")
        W, b = res.x[: d * k].reshape(d, k).copy(), res.x[d * k :].copy()
    return W, b, {"loss": float(res.fun), "n_iter": int(res.nit), "converged": bool(res.status == 0)}


def lbfgs(model: Any, X: np.ndarray, t: np.ndarray, *, tol: float, max_iter: int) -> dict[str, Any]:
    """Minimise ``model.loss_and_grad_prepared(X, t)`` over its params (updated in place) by L-BFGS-B.

    Warns :class:`ConvergenceWarning` when ``max_iter`` iterations end before convergence.
    """
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
    res = _minimize(objective, x0, tol=tol, max_iter=max_iter, what=type(model).__name__)
    unpack(res.x)
    return {"loss": float(res.fun), "n_iter": int(res.nit), "converged": bool(res.status == 0)}
