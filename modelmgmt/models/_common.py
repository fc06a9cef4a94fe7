"""Shared machinery of the built-in models: input checks, class labels, JSON config values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelmgmt._validation import as_1d, as_float_2d, check_same_length
from modelmgmt.models.base import Model
from modelmgmt.errors import InvalidArgumentError

__all__ = ["TrainableModel", "ClassifierMixin", "to_json_list", "labels_from_json"]


def to_json_list(values: np.ndarray) -> list[Any]:
    """Plain Python values (int, float, str, bool) of a 1-D array, for a JSON config."""
    return [v.item() if isinstance(v, np.generic) else v for v in np.asarray(values).tolist()]


def labels_from_json(values: list[Any]) -> np.ndarray:
    """The class-label array a config's ``classes_`` list stands for."""
    return np.asarray(values)


class TrainableModel(Model):
    """Base of the built-in numpy models: params dict, feature-count checks, loss helpers."""

    def __init__(self) -> None:
        self._params: dict[str, np.ndarray] = {}
        self.n_features_: int | None = None

    # --- the Model contract ----------------------------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        """Learned arrays by name; the optimizer updates these very arrays in place."""
        return self._params

    @property
    def input_signature(self) -> dict[str, Any] | None:
        """``{"n_features": d, "dtype": "float64"}`` once fitted, else None."""
        if self.n_features_ is None:
            return None
        return {"n_features": int(self.n_features_), "dtype": "float64"}

    def _hyper(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able)."""
        raise NotImplementedError

    def _learned(self) -> dict[str, Any]:
        """Small learned state for the config (names end with an underscore)."""
        return {"n_features_": self.n_features_}

    def _set_learned(self, config: dict[str, Any]) -> None:
        n = config.get("n_features_")
        self.n_features_ = None if n is None else int(n)

    @property
    def config(self) -> dict[str, Any]:
        """Hyperparameters plus learned small state; JSON-serialisable."""
        return {**self._hyper(), **self._learned()}

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, np.ndarray]) -> "TrainableModel":
        """Rebuild a model from ``config`` and ``params`` (arrays are copied as float64)."""
        if not isinstance(config, dict):
            raise InvalidArgumentError(f"config must be a dict; got {type(config).__name__}")
        hyper = {k: v for k, v in config.items() if not k.endswith("_")}
        try:
            model = cls(**hyper)
        except TypeError as exc:
            raise InvalidArgumentError(f"config does not fit {cls.__name__}: {exc}") from None
        model._set_learned(config)
        model._params = {k: np.array(v, dtype=np.float64) for k, v in (params or {}).items()}
        model._check_params()
        return model

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

    # --- inputs ----------------------------------------------------------------------
    def _check_X(self, X: Any, *, finite: bool = True) -> np.ndarray:
        """X as 2-D float64 with the feature count seen in fit; NotFittedError before fit."""
        self.check_fitted()
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
        """Validate the data given to initialize and record the feature count."""
        X = as_float_2d(X, "X", dtype=np.float64)
        y = as_1d(y, "y")
        check_same_length(X=X, y=y)
        self.n_features_ = int(X.shape[1])
        return X, y

    # --- training --------------------------------------------------------------------
    def _targets(self, y: np.ndarray) -> np.ndarray:
        """What the loss compares the forward output with (class indices for classifiers)."""
        return np.asarray(y, dtype=np.float64)

    def _penalty(self) -> tuple[float, dict[str, np.ndarray]]:
        """Regularisation term and its gradient (only the keys it touches)."""
        return 0.0, {}

    def loss_and_grad(self, X: Any, y: Any) -> tuple[float, dict[str, np.ndarray]]:
        """Mean training loss on (X, y) plus the regularisation term, and its gradient."""
        X, y = self._check_Xy(X, y)
        return self._loss_and_grad_targets(X, self._targets(y))

    def _loss_and_grad_targets(self, X: np.ndarray, t: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """loss_and_grad for checked float64 X and targets already encoded by ``_targets``.

        When the output overflows (diverged params) the loss is inf and the gradients zero.

        :func:`modelmgmt.fit` checks and encodes the whole data set once, then calls this per
        batch (unless a subclass overrides ``loss_and_grad``).
        """
        with np.errstate(over="ignore", invalid="ignore"):
            out, cache = self.forward(X)
        if not np.isfinite(out).all():
            # the parameters diverged (overflow): report an infinite loss and skip the step
            # instead of failing, so fit can warn and callbacks (TerminateOnNaN) can react
            return math.inf, {k: np.zeros_like(v) for k, v in self._params.items()}
        value, grad_out = self.loss.value_and_grad(t, out)
        grads = self.backward(cache, grad_out)
        pen, pen_grads = self._penalty()
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
        return float(self.loss.loss(t, out)) + self._penalty()[0]


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
        from modelmgmt.losses import softmax

        out, _ = self.forward(self._check_X(X))  # type: ignore[attr-defined]
        return softmax(out)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class label for each row."""
        out, _ = self.forward(self._check_X(X))  # type: ignore[attr-defined]
        return self.classes_[np.argmax(out, axis=1)]
