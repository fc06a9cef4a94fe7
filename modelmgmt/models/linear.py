"""Linear models trained by gradient descent: least squares, softmax regression, linear SVM.

Plain gradient descent by hand (``modelmgmt.fit`` does this with mini-batches and an optimizer):

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

from modelmgmt.losses import MSE, CrossEntropy, Hinge
from modelmgmt.models._common import ClassifierMixin, TrainableModel
from modelmgmt.errors import InvalidArgumentError

__all__ = ["LinearRegression", "LogisticRegression", "LinearSVM"]


def _check_nonneg(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InvalidArgumentError(f"{name} must be a number >= 0; got {value!r}")
    return float(value)


class LinearRegression(TrainableModel):
    """Least squares y ~ X W + b, trained with MSE plus ``l2 / 2 * ||W||²`` (bias not penalised).

    Params: ``"W"`` (n_features,) and ``"b"`` (1,) when ``fit_intercept``.
    """

    def __init__(self, fit_intercept: bool = True, l2: float = 0.0) -> None:
        super().__init__()
        if not isinstance(fit_intercept, (bool, np.bool_)):
            raise InvalidArgumentError(f"fit_intercept must be a bool; got {type(fit_intercept).__name__}")
        self.fit_intercept = bool(fit_intercept)
        self.l2 = _check_nonneg("l2", l2)
        self.loss = MSE()

    def _hyper(self) -> dict[str, Any]:
        return {"fit_intercept": self.fit_intercept, "l2": self.l2}

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

    def _penalty(self) -> tuple[float, dict[str, np.ndarray]]:
        if not self.l2:
            return 0.0, {}
        W = self._params["W"]
        return 0.5 * self.l2 * float(W @ W), {"W": self.l2 * W}

    def predict(self, X: Any) -> np.ndarray:
        """Predicted targets (n,)."""
        return self.forward(self._check_X(X))[0]


class LogisticRegression(ClassifierMixin, TrainableModel):
    """Multinomial (softmax) logistic regression; binary problems use the same two-column form.

    Trained with cross-entropy plus ``l2 / 2 * ||W||²``. Labels may be numbers or strings;
    ``classes_`` are the sorted labels seen in fit. Params: ``"W"`` (n_features, k), ``"b"`` (k,).
    """

    def __init__(self, l2: float = 0.0) -> None:
        super().__init__()
        self.l2 = _check_nonneg("l2", l2)
        self.loss = CrossEntropy()

    def _hyper(self) -> dict[str, Any]:
        return {"l2": self.l2}

    def _expected_shapes(self) -> dict[str, tuple[int, ...]]:
        k = len(self.classes_)
        return {"W": (int(self.n_features_), k), "b": (k,)}

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

    def _penalty(self) -> tuple[float, dict[str, np.ndarray]]:
        if not self.l2:
            return 0.0, {}
        W = self._params["W"]
        return 0.5 * self.l2 * float(np.sum(W * W)), {"W": self.l2 * W}


class LinearSVM(ClassifierMixin, TrainableModel):
    """Soft-margin linear SVM: mean hinge loss + ``||W||² / (2 C n)``, n = samples seen at initialize.

    That objective is scikit-learn's ``0.5 ||w||² + C Σ hinge`` divided by ``C n`` (the
    Pegasos form), so larger C means less regularisation. Exactly two classes (e.g. 0/1);
    the second of ``classes_`` is the positive one. ``forward`` returns the decision values
    (n,). ``predict_proba`` is ``sigmoid(decision value)``: a monotone squashing of the
    margin that sums to 1 per row, NOT a calibrated probability.
    """

    def __init__(self, C: float = 1.0) -> None:
        super().__init__()
        if isinstance(C, bool) or not isinstance(C, (int, float)) or not C > 0:
            raise InvalidArgumentError(f"C must be a number > 0; got {C!r}")
        self.C = float(C)
        self.n_samples_: int | None = None
        self.loss = Hinge()

    def _hyper(self) -> dict[str, Any]:
        return {"C": self.C}

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

    def _penalty(self) -> tuple[float, dict[str, np.ndarray]]:
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
        p1 = 0.5 * (1.0 + np.tanh(0.5 * s))  # stable sigmoid
        return np.column_stack([1.0 - p1, p1])
