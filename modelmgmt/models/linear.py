"""Linear models: least squares, softmax regression, linear SVM.

``fit`` solves LinearRegression by least squares (ridge when ``l2 > 0``) and
LogisticRegression by L-BFGS unless an optimizer is given (``solver="auto"``); ``solver="gd"``
always takes the mini-batch gradient path. Plain gradient descent by hand:

>>> import numpy as np
>>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array(["no", "no", "yes", "yes"])
>>> clf = LogisticRegression()
>>> clf.initialize(X, y, np.random.default_rng(0))
>>> for _ in range(100):
...     loss, grads = clf.loss_and_grad(X, y)
...     for name, g in grads.items():
...         clf.params[name] -= 0.5 * g
>>> clf.predict(X).tolist()
['no', 'no', 'yes', 'yes']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmgmt._validation import check_bool, check_choice, check_int, check_real
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.losses import MSE, CrossEntropy, Hinge
from modelmgmt.models import solvers
from modelmgmt.models._common import ClassifierMixin, TrainableModel

__all__ = ["LinearRegression", "LogisticRegression", "LinearSVM", "SOLVERS"]


SOLVERS = ("auto", "lstsq", "lbfgs", "gd")


def _check_nonneg(name: str, value: Any) -> float:
    return check_real(value, name, min=0.0)


class _SolverMixin:
    """``solver``, ``tol`` and ``max_iter`` hyperparameters and the direct fit they select."""

    solver: str
    tol: float
    max_iter: int
    _direct: tuple[str, ...] = ()

    def _set_solver(self, solver: Any, tol: Any, max_iter: Any) -> None:
        check_choice(solver, "solver", SOLVERS)
        if solver not in ("auto", "gd", *self._direct):
            raise InvalidArgumentError(
                f"{type(self).__name__} takes solver 'auto', 'gd' or {', '.join(repr(d) for d in self._direct)}; got {solver!r}"
            )
        self.solver = solver
        self.tol = check_real(tol, "tol", min=0.0, min_open=True)
        self.max_iter = check_int(max_iter, "max_iter", min=1)

    def _solver_hyper(self) -> dict[str, Any]:
        return {"solver": self.solver, "tol": self.tol, "max_iter": self.max_iter}

    @property
    def direct_solver(self) -> str | None:
        """"lstsq" / "lbfgs" when fit without an optimizer solves directly, None for gradient descent."""
        if self.solver == "gd" or self.masks:  # type: ignore[attr-defined]  # pruned: keep the mask, use gradients
            return None
        if self.solver == "auto":
            return self._auto_solver()
        if self.solver == "lstsq" and not isinstance(self.loss, MSE):  # type: ignore[attr-defined]
            raise InvalidArgumentError(f"solver='lstsq' solves the squared error only; the loss is {self.loss!r}")  # type: ignore[attr-defined]
        return self.solver

    def _auto_solver(self) -> str:
        return "lbfgs"

    def solve(self, X: Any, y: Any) -> dict[str, Any]:
        """Fit from scratch by :attr:`direct_solver`; ``{"loss", "n_iter", "converged"}``."""
        solver = self.direct_solver
        if solver is None:
            raise InvalidArgumentError(f"{type(self).__name__}(solver={self.solver!r}) trains by gradient descent; use fit")
        self.initialize(X, y, np.random.default_rng(0))  # type: ignore[attr-defined]
        X = np.asarray(X, dtype=np.float64)  # checked by initialize
        t = self._targets(np.asarray(y).ravel())  # type: ignore[attr-defined]
        return self._solve(solver, X, t)

    def _solve(self, solver: str, X: np.ndarray, t: np.ndarray) -> dict[str, Any]:
        return solvers.lbfgs(self, X, t, tol=self.tol, max_iter=self.max_iter)


class LinearRegression(_SolverMixin, TrainableModel):
    """Least squares y ~ X W + b: MSE plus ``l2 / 2 * ||W||²`` (bias not penalised).

    ``solver="auto"`` (the default) solves in closed form when fit gets no optimizer
    (``"lstsq"``: scikit-learn's LinearRegression, or ``Ridge(alpha=n * l2 / 2)`` when
    ``l2 > 0``); ``"lbfgs"`` minimises the loss (also Huber) with L-BFGS; ``"gd"`` uses fit's
    mini-batch gradient descent. ``fit(loss="huber")`` trains a robust regression.
    Params: ``"W"`` (n_features,) and ``"b"`` (1,) when ``fit_intercept``.
    """

    allowed_losses = ("mse", "huber")
    _direct = ("lstsq", "lbfgs")

    def __init__(
        self, fit_intercept: bool = True, l2: float = 0.0, *, solver: str = "auto", tol: float = 1e-8, max_iter: int = 1000
    ) -> None:
        super().__init__()
        self.fit_intercept = check_bool(fit_intercept, "fit_intercept")
        self.l2 = _check_nonneg("l2", l2)
        self._set_solver(solver, tol, max_iter)
        self.loss = MSE()

    def _hyper(self) -> dict[str, Any]:
        return {"fit_intercept": self.fit_intercept, "l2": self.l2, **self._solver_hyper()}

    def _auto_solver(self) -> str:
        return "lstsq" if isinstance(self.loss, MSE) else "lbfgs"

    def _solve(self, solver: str, X: np.ndarray, t: np.ndarray) -> dict[str, Any]:
        if solver != "lstsq":
            return super()._solve(solver, X, t)
        w, b = solvers.lstsq(X, t, l2=self.l2, fit_intercept=self.fit_intercept)
        self._params["W"][...] = w
        if self.fit_intercept:
            self._params["b"][...] = b
        residual = self.forward(X)[0] - t
        return {"loss": float(residual @ residual) / len(t) + self.penalty()[0], "n_iter": 1, "converged": True}

    def _expected_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {"W": (int(self.n_features_),)}
        if self.fit_intercept:
            shapes["b"] = (1,)
        return shapes

    def initialize(self, X: Any, y: Any, rng: np.random.Generator) -> None:
        """Zero weights and bias sized for X (the least-squares loss is convex)."""
        X, y = self._start(X, y)
        if y.dtype.kind not in "biuf":
            raise InvalidArgumentError(f"LinearRegression needs numeric targets y; got dtype {y.dtype}")
        self._params = {k: np.zeros(s) for k, s in self._expected_shapes().items()}

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, Any]:
        """Predictions X W + b (n,) and X as cache."""
        out = X @ self._params["W"]
        if self.fit_intercept:
            out = out + self._params["b"][0]
        return out, X

    def backward(self, cache: Any, grad_output: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of W and b from d(loss)/d(prediction)."""
        g = np.asarray(grad_output).ravel()
        grads = {"W": cache.T @ g}
        if self.fit_intercept:
            grads["b"] = np.array([g.sum()])
        return grads

    def penalty(self) -> tuple[float, dict[str, np.ndarray]]:
        """``l2 / 2 * ||W||²`` and its gradient."""
        if not self.l2:
            return 0.0, {}
        W = self._params["W"]
        return 0.5 * self.l2 * float(W @ W), {"W": self.l2 * W}

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets (n,)."""
        return self.forward(self._check_X(X))[0]


class LogisticRegression(_SolverMixin, ClassifierMixin, TrainableModel):
    """Multinomial (softmax) logistic regression; binary problems use the same two-column form.

    Trained with mean cross-entropy plus ``l2 / 2 * ||W||²`` over all k columns (k >= 3), or
    ``l2 / 2 * ||W[:, 1] - W[:, 0]||²`` for two classes (the penalty on the binary model's one
    coefficient vector). Both equal scikit-learn's objective divided by ``C * n``:
    ``l2 = 1 / (C * n_samples)``, ``C = 1 / (l2 * n_samples)``; ``l2 = 0`` is
    ``penalty=None``. ``solver="auto"`` fits by L-BFGS (scikit-learn's solver) unless fit is
    given an optimizer. Labels may be numbers or strings; ``classes_`` are the sorted labels
    seen in fit. Params: ``"W"`` (n_features, k), ``"b"`` (k,).
    """

    allowed_losses = ("cross_entropy",)
    _direct = ("lbfgs",)

    def __init__(self, l2: float = 0.0, *, solver: str = "auto", tol: float = 1e-8, max_iter: int = 1000) -> None:
        super().__init__()
        self.l2 = _check_nonneg("l2", l2)
        self._set_solver(solver, tol, max_iter)
        self.loss = CrossEntropy()

    def _hyper(self) -> dict[str, Any]:
        return {"l2": self.l2, **self._solver_hyper()}

    def _expected_shapes(self) -> dict[str, tuple[int, ...]]:
        k = len(self.classes_)
        return {"W": (int(self.n_features_), k), "b": (k,)}

    def _solve(self, solver: str, X: np.ndarray, t: np.ndarray) -> dict[str, Any]:
        if not isinstance(self.loss, CrossEntropy):
            return super()._solve(solver, X, t)
        W, b, info = solvers.logistic_lbfgs(X, t, len(self.classes_), l2=self.l2, tol=self.tol, max_iter=self.max_iter)
        self._params["W"][...] = W
        self._params["b"][...] = b
        return info

    def initialize(self, X: Any, y: Any, rng: np.random.Generator) -> None:
        """Zero weights for the classes seen in y (the loss is convex)."""
        X, y = self._start(X, y)
        self._set_classes(y)
        self._params = {k: np.zeros(s) for k, s in self._expected_shapes().items()}

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, Any]:
        """Logits X W + b (n, k) and X as cache."""
        return X @ self._params["W"] + self._params["b"], X

    def backward(self, cache: Any, grad_output: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of W and b from d(loss)/d(logits)."""
        return {"W": cache.T @ grad_output, "b": grad_output.sum(axis=0)}

    def penalty(self) -> tuple[float, dict[str, np.ndarray]]:
        """The l2 term (on the decision vector for two classes) and its gradient."""
        if not self.l2:
            return 0.0, {}
        W = self._params["W"]
        if W.shape[1] == 2:
            D = W[:, 1] - W[:, 0]
            g = self.l2 * D
            return 0.5 * self.l2 * float(D @ D), {"W": np.column_stack([-g, g])}
        return 0.5 * self.l2 * float(np.sum(W * W)), {"W": self.l2 * W}


class LinearSVM(ClassifierMixin, TrainableModel):
    """Soft-margin linear SVM: mean hinge loss + ``||W||² / (2 C n)``, n = samples seen at initialize.

    That objective is scikit-learn's ``0.5 ||w||² + C Σ hinge`` divided by ``C n`` (the
    Pegasos form), so larger C means less regularisation. Exactly two classes (e.g. 0/1);
    the second of ``classes_`` is the positive one. ``forward`` returns the decision values
    (n,). ``predict_proba`` is ``sigmoid(decision value)``: a monotone squashing of the
    margin that sums to 1 per row, NOT a calibrated probability.
    """

    allowed_losses = ("hinge",)

    def __init__(self, C: float = 1.0, *, solver: str = "auto") -> None:
        super().__init__()
        self.C = check_real(C, "C", min=0.0, min_open=True)
        # the hinge loss is not smooth: "auto" is the gradient path
        self.solver = check_choice(solver, "solver", ("auto", "gd"))
        self.n_samples_: int | None = None
        self.loss = Hinge()

    def _hyper(self) -> dict[str, Any]:
        return {"C": self.C, "solver": self.solver}

    def _learned(self) -> dict[str, Any]:
        return {**super()._learned(), "n_samples_": self.n_samples_}

    def _set_learned(self, config: dict[str, Any]) -> None:
        super()._set_learned(config)
        n = config.get("n_samples_")
        self.n_samples_ = None if n is None else int(n)

    def _expected_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (int(self.n_features_),), "b": (1,)}

    def initialize(self, X: Any, y: Any, rng: np.random.Generator) -> None:
        """Zero weights; exactly two classes must be present in y."""
        X, y = self._start(X, y)
        self._set_classes(y)
        if len(self.classes_) != 2:
            raise InvalidArgumentError(
                f"LinearSVM is a binary classifier; y has {len(self.classes_)} classes: "
                f"{self.classes_.tolist()[:10]}"
            )
        self.n_samples_ = int(X.shape[0])
        self._params = {k: np.zeros(s) for k, s in self._expected_shapes().items()}

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, Any]:
        """Decision values X W + b (n,), positive for ``classes_[1]``."""
        return X @ self._params["W"] + self._params["b"][0], X

    def backward(self, cache: Any, grad_output: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of W and b from d(loss)/d(decision value)."""
        g = np.asarray(grad_output).ravel()
        return {"W": cache.T @ g, "b": np.array([g.sum()])}

    def penalty(self) -> tuple[float, dict[str, np.ndarray]]:
        """``||W||² / (2 C n)`` and its gradient."""
        lam = 1.0 / (self.C * max(self.n_samples_ or 1, 1))
        W = self._params["W"]
        return 0.5 * lam * float(W @ W), {"W": lam * W}

    def decision_function(self, X: Any) -> np.ndarray:
        """Signed distance-like score (n,); > 0 predicts ``classes_[1]``."""
        return self.forward(self._check_X(X))[0]

    def predict(self, X: Any) -> np.ndarray:
        """``classes_[1]`` where the decision value is > 0, else ``classes_[0]``."""
        return self.classes_[(self.decision_function(X) > 0).astype(np.intp)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, 2) with sigmoid(decision value) for ``classes_[1]``; uncalibrated."""
        s = self.decision_function(X)
        return self._proba_of(s)

    def predict_and_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(predict(X), predict_proba(X))`` from one decision pass, the same bits as two calls."""
        s = self.decision_function(X)
        return self.classes_[(s > 0).astype(np.intp)], self._proba_of(s)

    @staticmethod
    def _proba_of(s: np.ndarray) -> np.ndarray:
        p1 = 0.5 * (1.0 + np.tanh(0.5 * s))  # stable sigmoid
        return np.column_stack([1.0 - p1, p1])
