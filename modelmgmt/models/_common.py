"""Shared machinery of the built-in models: input checks, class labels, JSON config values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelmgmt._validation import as_1d, as_float_2d, check_same_length
from modelmgmt.base import ArrayEstimator
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.losses import MSE, BinaryCrossEntropy, CrossEntropy, Hinge, Huber, Loss, softmax
from modelmgmt.models.base import Model

__all__ = ["TrainableModel", "ClassifierMixin", "to_json_list", "labels_from_json", "LOSSES"]

#: loss names accepted by ``fit(loss=...)`` -> class
LOSSES: dict[str, type[Loss]] = {
    "mse": MSE,
    "huber": Huber,
    "cross_entropy": CrossEntropy,
    "binary_cross_entropy": BinaryCrossEntropy,
    "hinge": Hinge,
}


def to_json_list(values: np.ndarray) -> list[Any]:
    """Plain Python values (int, float, str, bool) of a 1-D array, for a JSON config."""
    return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(values).tolist()]


def labels_from_json(values: list[Any]) -> np.ndarray:
    """The class-label array a config's ``classes_`` list stands for."""
    return np.asarray(values)


class TrainableModel(Model, ArrayEstimator):
    """Base of the built-in numpy models: params dict, feature-count checks, loss helpers."""

    loss: Loss

    def __init__(self) -> None:
        ArrayEstimator.__init__(self)
        self._masked: list[str] = []

    # --- the Model contract ----------------------------------------------------------
    @property
    def input_signature(self) -> dict[str, Any] | None:
        """``{"n_features": d, "dtype": "float64"}`` once fitted, plus ``"feature_names"`` when
        fitted on a DataFrame; else None."""
        if self.n_features_ is None:
            return None
        return self._signature_of(self.n_features_, "float64")

    def _learned(self) -> dict[str, Any]:
        out = super()._learned()
        if self.masks:
            out["masked_"] = sorted(self.masks)
        return out

    def _set_learned(self, config: dict[str, Any]) -> None:
        super()._set_learned(config)
        masked = config.get("masked_") or []
        if not isinstance(masked, list) or not all(isinstance(k, str) for k in masked):
            raise InvalidArgumentError(f"config 'masked_' must be a list of param names; got {masked!r}")
        self._masked = masked

    def _expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """Parameter names and shapes for the current learned state."""
        raise NotImplementedError

    def _check_params(self) -> None:
        if not self._params:
            return
        expected = self._expected_shapes()
        got = {k: tuple(v.shape) for k, v in self._params.items()}
        if got != expected:
            raise InvalidArgumentError(
                f"params do not match {type(self).__name__} config: expected {expected}, got {got}"
            )
        if self._masked:  # a saved pruned model: its zeros are the mask
            self.set_masks({k: self._params[k] != 0 for k in self._masked})

    # --- inputs ----------------------------------------------------------------------
    def _check_X(self, X: Any, *, finite: bool = True) -> np.ndarray:
        """X as 2-D float64 with the feature names and count seen in fit; NotFittedError before fit."""
        self.check_fitted()
        self._check_feature_names(X, reset=False)
        X = as_float_2d(X, "X", allow_nan=not finite, dtype=np.float64)
        if X.shape[1] != self.n_features_:
            raise InvalidArgumentError(
                f"X has {X.shape[1]} features, but {type(self).__name__} was fitted with "
                f"{self.n_features_} features"
            )
        return X

    def _check_Xy(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X = self._check_X(X)
        y = as_1d(y, "y")
        check_same_length(X=X, y=y)
        return X, y

    def _start(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validate the data given to initialize and record the feature names and count."""
        self._check_feature_names(X, reset=True)
        X = as_float_2d(X, "X", dtype=np.float64)
        y = as_1d(y, "y")
        check_same_length(X=X, y=y)
        self.n_features_ = int(X.shape[1])
        self._masks = {}
        return X, y

    # --- training --------------------------------------------------------------------
    def _targets(self, y: np.ndarray) -> np.ndarray:
        """What the loss compares the forward output with (class indices for classifiers)."""
        if y.dtype.kind not in "biuf":
            raise InvalidArgumentError(f"{type(self).__name__} needs numeric targets y; got dtype {y.dtype}")
        return np.asarray(y, dtype=np.float64)

    def _overridden(self) -> bool:
        return type(self).loss_and_grad is not TrainableModel.loss_and_grad

    def prepare_targets(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Float64 X checked against the fitted width, and y encoded for the loss (once per fit)."""
        if self._overridden():  # a subclass with its own loss_and_grad gets the raw data
            return X, y
        X, y = self._check_Xy(X, y)
        return X, self._targets(y)

    def loss_and_grad(self, X: Any, y: Any) -> tuple[float, dict[str, np.ndarray]]:
        """Mean training loss on (X, y) plus the regularisation term, and its gradient."""
        X, y = self._check_Xy(X, y)
        return self._loss_and_grad_targets(X, self._targets(y))

    def loss_and_grad_prepared(self, X: np.ndarray, t: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """loss_and_grad for rows of what :meth:`prepare_targets` returned (no re-checking)."""
        if self._overridden():
            return self.loss_and_grad(X, t)
        return self._loss_and_grad_targets(X, t)

    def _loss_and_grad_targets(self, X: np.ndarray, t: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        # When the output overflows (diverged params) the loss is inf and the gradients zero,
        # so fit can warn and callbacks (TerminateOnNaN) can react instead of failing.
        with np.errstate(over="ignore", invalid="ignore"):
            out, cache = self.forward(X)
        if not np.isfinite(out).all():
            return math.inf, {k: np.zeros_like(v) for k, v in self._params.items()}
        value, grad_out = self.loss.value_and_grad(t, out)
        grads = self.backward(cache, grad_out)
        pen, pen_grads = self.penalty()
        for k, g in pen_grads.items():
            grads[k] = grads[k] + g
        return value + pen, grads

    def compute_loss(self, X: Any, y: Any) -> float:
        """The value of :meth:`loss_and_grad` without the gradient (for validation data)."""
        X, y = self._check_Xy(X, y)
        t = self._targets(y)
        with np.errstate(over="ignore", invalid="ignore"):
            out, _ = self.forward(X)
        if not np.isfinite(out).all():
            return math.inf
        return float(self.loss.loss(t, out)) + self.penalty()[0]

    def set_loss(self, loss: Any) -> Loss:
        """Train with ``loss`` (a name of :data:`LOSSES` or a Loss) from now on; returns the old one."""
        allowed = self.allowed_losses
        if isinstance(loss, str) and loss in LOSSES and loss in allowed:
            new = LOSSES[loss]()
        elif isinstance(loss, Loss) and any(type(loss) is LOSSES[a] for a in allowed):
            new = loss
        else:
            raise InvalidArgumentError(
                f"{type(self).__name__} can be trained with loss {', '.join(repr(a) for a in allowed)} "
                f"(a name or a modelmgmt.losses object); got {loss!r}"
            )
        old, self.loss = self.loss, new
        return old


class ClassifierMixin:
    """Class-label bookkeeping: ``classes_`` sorted, labels mapped to indices and back."""

    is_classifier = True
    classes_: np.ndarray | None = None

    def _set_classes(self, y: np.ndarray, minimum: int = 2) -> None:
        try:
            classes = np.unique(y)
        except TypeError as exc:
            raise InvalidArgumentError(f"class labels must be sortable values of one kind: {exc}") from None
        if classes.dtype == object:
            raise InvalidArgumentError("class labels must be numbers or strings; got objects of mixed kinds")
        if len(classes) < minimum:
            raise InvalidArgumentError(
                f"{type(self).__name__} needs at least {minimum} classes in y; got {len(classes)}: "
                f"{to_json_list(classes)}"
            )
        self.classes_ = classes

    def _indices(self, y: np.ndarray) -> np.ndarray:
        """Position of each label in ``classes_``; ValueError for labels not seen in fit."""
        classes = self.classes_
        try:
            idx = np.searchsorted(classes, y)
        except TypeError:
            raise InvalidArgumentError(
                f"labels of dtype {np.asarray(y).dtype} do not match the classes seen in fit "
                f"({to_json_list(classes)})"
            ) from None
        idx = np.clip(idx, 0, len(classes) - 1)
        bad = classes[idx] != y
        if np.any(bad):
            unknown = to_json_list(np.unique(np.asarray(y)[bad]))[:10]
            raise InvalidArgumentError(
                f"y contains labels not seen in fit: {unknown}; known classes are "
                f"{to_json_list(classes)}"
            )
        return idx

    def _targets(self, y: np.ndarray) -> np.ndarray:
        return self._indices(y)

    def _learned(self) -> dict[str, Any]:
        base = super()._learned()  # type: ignore[misc]
        base["classes_"] = None if self.classes_ is None else to_json_list(self.classes_)
        return base

    def _set_learned(self, config: dict[str, Any]) -> None:
        super()._set_learned(config)  # type: ignore[misc]
        classes = config.get("classes_")
        self.classes_ = None if classes is None else labels_from_json(classes)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n, k), columns in the order of ``classes_``, rows summing to 1."""
        out, _ = self.forward(self._check_X(X))  # type: ignore[attr-defined]
        return softmax(out)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label for each row."""
        out, _ = self.forward(self._check_X(X))  # type: ignore[attr-defined]
        return self.classes_[np.argmax(out, axis=1)]

    def predict_and_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(predict(X), predict_proba(X))`` from one forward pass, the same bits as two calls
        (a server asked for both outputs runs the model once)."""
        out, _ = self.forward(self._check_X(X))  # type: ignore[attr-defined]
        return self.classes_[np.argmax(out, axis=1)], softmax(out)
