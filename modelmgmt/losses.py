"""Training losses with their gradients: the value is a mean over samples, the gradient is of that mean.

Semantics follow torch.nn's losses with ``reduction="mean"`` (MSELoss, CrossEntropyLoss,
BCELoss, HuberLoss) and the usual hinge loss:

>>> import numpy as np
>>> from modelmgmt.losses import CrossEntropy
>>> ce = CrossEntropy()
>>> round(ce.loss(np.array([0, 1]), np.array([[2.0, 0.0], [0.0, 2.0]])), 6)
0.126928
>>> ce.grad(np.array([0]), np.array([[1000.0, -1000.0]]))
array([[0., 0.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmgmt.errors import InvalidArgumentError

__all__ = ["Loss", "MSE", "CrossEntropy", "BinaryCrossEntropy", "Huber", "Hinge", "log_softmax", "softmax"]


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for very large or very small logits."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax by the log-sum-exp trick (finite for logits of +-1000)."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _float(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False) if arr.dtype.kind != "f" else arr
    if arr.size == 0:
        raise InvalidArgumentError(f"{name} must not be empty; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidArgumentError(f"{name} must be finite; it contains NaN or infinite values")
    return arr


def _same_shape(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accept (n,) against (n, 1) and vice versa; otherwise shapes must match."""
    if y_true.shape != y_pred.shape:
        if y_true.ndim == 1 and y_pred.shape == (y_true.shape[0], 1):
            y_true = y_true.reshape(-1, 1)
        elif y_pred.ndim == 1 and y_true.shape == (y_pred.shape[0], 1):
            y_true = y_true.ravel()
        else:
            raise InvalidArgumentError(
                f"y_true and y_pred must have the same shape; got {y_true.shape} and {y_pred.shape}"
            )
    return y_true, y_pred


class Loss:
    """A loss: ``loss(y_true, y_pred)`` is a float mean, ``grad`` its gradient w.r.t. y_pred."""

    def loss(self, y_true: Any, y_pred: Any) -> float:
        """Mean loss over the samples."""
        raise NotImplementedError

    def grad(self, y_true: Any, y_pred: Any) -> np.ndarray:
        """Gradient of :meth:`loss` with respect to ``y_pred`` (same shape as y_pred)."""
        raise NotImplementedError

    def value_and_grad(self, y_true: Any, y_pred: Any) -> tuple[float, np.ndarray]:
        """``(loss(y_true, y_pred), grad(y_true, y_pred))``, sharing work where a loss can."""
        return self.loss(y_true, y_pred), self.grad(y_true, y_pred)

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """Same as :meth:`loss`."""
        return self.loss(y_true, y_pred)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(vars(self).items()))))


class MSE(Loss):
    """Mean squared error over every element, as torch.nn.MSELoss: mean((y_pred - y_true)**2)."""

    def loss(self, y_true: Any, y_pred: Any) -> float:
        """Mean of the squared differences."""
        t, p = _same_shape(_float(y_true, "y_true"), _float(y_pred, "y_pred"))
        return float(np.mean((p - t) ** 2))

    def grad(self, y_true: Any, y_pred: Any) -> np.ndarray:
        """2 (y_pred - y_true) / size."""
        t, p = _same_shape(_float(y_true, "y_true"), _float(y_pred, "y_pred"))
        return 2.0 * (p - t) / p.size


class Huber(Loss):
    """Huber loss as torch.nn.HuberLoss: quadratic below ``delta``, linear above; mean of elements."""

    def __init__(self, delta: float = 1.0) -> None:
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
            raise InvalidArgumentError(f"delta must be a positive number; got {delta!r}")
        self.delta = float(delta)

    def __repr__(self) -> str:
        return f"Huber(delta={self.delta!r})"

    def loss(self, y_true: Any, y_pred: Any) -> float:
        """0.5 d**2 where |d| < delta, else delta (|d| - delta / 2); averaged."""
        t, p = _same_shape(_float(y_true, "y_true"), _float(y_pred, "y_pred"))
        d = np.abs(p - t)
        out = np.where(d < self.delta, 0.5 * d * d, self.delta * (d - 0.5 * self.delta))
        return float(np.mean(out))

    def grad(self, y_true: Any, y_pred: Any) -> np.ndarray:
        """d where |d| < delta, else delta * sign(d); divided by size."""
        t, p = _same_shape(_float(y_true, "y_true"), _float(y_pred, "y_pred"))
        d = p - t
        g = np.where(np.abs(d) < self.delta, d, self.delta * np.sign(d))
        return g / p.size


class CrossEntropy(Loss):
    """Softmax cross-entropy from logits (n, k), as torch.nn.CrossEntropyLoss.

    ``y_true`` is either integer class indices (n,) in ``[0, k)`` or a probability array
    (n, k) of soft targets (knowledge distillation uses these).
    """

    @staticmethod
    def _targets(y_true: Any, logits: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(labels, None) for hard targets or (None, probabilities) for soft ones."""
        t = np.asarray(y_true)
        n, k = logits.shape
        if t.ndim == 2 and t.shape[1] == 1 and k != 1:
            t = t.ravel()
        if t.ndim == 1:
            if t.shape[0] != n:
                raise InvalidArgumentError(f"y_true has {t.shape[0]} labels but y_pred has {n} rows")
            if t.dtype.kind == "f" and np.all(np.isfinite(t)) and np.all(t == np.round(t)):
                t = t.astype(np.int64)
            if t.dtype.kind not in "iub":
                raise InvalidArgumentError(
                    f"CrossEntropy expects integer class indices in [0, {k}) or (n, {k}) "
                    f"probabilities; got labels of dtype {t.dtype}"
                )
            if t.size and (t.min() < 0 or t.max() >= k):
                raise InvalidArgumentError(
                    f"class indices must be in [0, {k}) for logits with {k} columns; "
                    f"got values from {t.min()} to {t.max()}"
                )
            return t.astype(np.intp), None
        if t.ndim == 2:
            if t.shape != logits.shape:
                raise InvalidArgumentError(f"soft targets must have the shape of y_pred {logits.shape}; got {t.shape}")
            return None, _float(t, "y_true")
        raise InvalidArgumentError(f"y_true must be 1-D labels or 2-D probabilities; got shape {t.shape}")

    @staticmethod
    def _logits(y_pred: Any) -> np.ndarray:
        z = _float(y_pred, "y_pred")
        if z.ndim != 2:
            raise InvalidArgumentError(f"CrossEntropy expects logits of shape (n, k); got shape {z.shape}")
        return z

    def loss(self, y_true: Any, y_pred: Any) -> float:
        """Mean of -log softmax(y_pred)[label] (or of -sum(p * log softmax) for soft targets)."""
        z = self._logits(y_pred)
        labels, probs = self._targets(y_true, z)
        logp = log_softmax(z)
        if labels is not None:
            return float(-np.mean(logp[np.arange(z.shape[0]), labels]))
        return float(-np.mean(np.sum(probs * logp, axis=1)))

    def grad(self, y_true: Any, y_pred: Any) -> np.ndarray:
        """(softmax(y_pred) - target) / n."""
        return self.value_and_grad(y_true, y_pred)[1]

    def value_and_grad(self, y_true: Any, y_pred: Any) -> tuple[float, np.ndarray]:
        """Loss and gradient from one shifted-exponential pass."""
        z = self._logits(y_pred)
        labels, probs = self._targets(y_true, z)
        n = z.shape[0]
        shifted = z - z.max(axis=1, keepdims=True)
        g = np.exp(shifted)
        total = g.sum(axis=1, keepdims=True)
        g /= total  # softmax
        log_total = np.log(total)
        if labels is not None:
            rows = np.arange(n)
            value = float(np.mean(log_total[:, 0] - shifted[rows, labels]))
            g[rows, labels] -= 1.0
        else:
            shifted -= log_total  # log-softmax
            value = float(-np.mean(np.sum(probs * shifted, axis=1)))
            # d/dz of -sum(p log softmax z) = softmax(z) sum(p) - p (sum(p) is 1 for true probabilities)
            g *= probs.sum(axis=1, keepdims=True)
            g -= probs
        g /= n
        return value, g


class BinaryCrossEntropy(Loss):
    """Binary cross-entropy of probabilities, as torch.nn.BCELoss (log terms clamped at -100)."""

    _LOG_FLOOR = -100.0
    _EPS = float(np.float32(1e-12))  # torch's backward clamps p (1 - p) at 1e-12 held as a float32

    def _check(self, y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
        t, p = _same_shape(_float(y_true, "y_true"), _float(y_pred, "y_pred"))
        if p.min() < 0 or p.max() > 1:
            raise InvalidArgumentError(
                f"BinaryCrossEntropy expects probabilities in [0, 1] as y_pred; got values from "
                f"{p.min()} to {p.max()} (use CrossEntropy for logits)"
            )
        if t.min() < 0 or t.max() > 1:
            raise InvalidArgumentError(f"y_true must be 0/1 labels or probabilities in [0, 1]; got {t.min()} to {t.max()}")
        return t, p

    def loss(self, y_true: Any, y_pred: Any) -> float:
        """Mean of -(y log p + (1 - y) log(1 - p)), each log clamped at -100 like torch."""
        t, p = self._check(y_true, y_pred)
        with np.errstate(divide="ignore"):
            logp = np.maximum(np.log(p), self._LOG_FLOOR)
            log1mp = np.maximum(np.log1p(-p), self._LOG_FLOOR)
        return float(-np.mean(t * logp + (1.0 - t) * log1mp))

    def grad(self, y_true: Any, y_pred: Any) -> np.ndarray:
        """(p - y) / max(p (1 - p), 1e-12) / size, torch's BCELoss backward."""
        t, p = self._check(y_true, y_pred)
        return (p - t) / np.maximum(p * (1.0 - p), self._EPS) / p.size


class Hinge(Loss):
    """Hinge loss mean(max(0, 1 - s * score)) with labels 0/1 (or -1/+1) mapped to s = -1/+1."""

    @staticmethod
    def _signs(y_true: Any, n: int) -> np.ndarray:
        t = np.asarray(y_true).ravel()
        if t.shape[0] != n:
            raise InvalidArgumentError(f"y_true has {t.shape[0]} labels but y_pred has {n} scores")
        if t.dtype == object or t.dtype.kind not in "biuf":
            raise InvalidArgumentError(f"Hinge expects labels 0/1 or -1/+1; got dtype {t.dtype}")
        values = set(np.unique(t).tolist())
        if values <= {0, 1}:
            return np.where(t == 1, 1.0, -1.0)
        if values <= {-1, 1}:
            return t.astype(np.float64)
        raise InvalidArgumentError(f"Hinge expects labels 0/1 or -1/+1; got {sorted(values)[:10]}")

    @staticmethod
    def _scores(y_pred: Any) -> np.ndarray:
        s = _float(y_pred, "y_pred")
        if not (s.ndim == 1 or (s.ndim == 2 and s.shape[1] == 1)):
            raise InvalidArgumentError(f"Hinge expects scores of shape (n,) or (n, 1); got shape {s.shape}")
        return s

    def loss(self, y_true: Any, y_pred: Any) -> float:
        """Mean hinge loss."""
        s = self._scores(y_pred)
        sign = self._signs(y_true, s.shape[0])
        return float(np.mean(np.maximum(0.0, 1.0 - sign * s.ravel())))

    def grad(self, y_true: Any, y_pred: Any) -> np.ndarray:
        """-s / n where the margin is below 1, else 0 (the subgradient 0 at the kink)."""
        s = self._scores(y_pred)
        sign = self._signs(y_true, s.shape[0])
        g = np.where(1.0 - sign * s.ravel() > 0.0, -sign, 0.0) / s.shape[0]
        return g.reshape(s.shape)
