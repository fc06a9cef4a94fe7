"""The Model interface: something that predicts and can be saved without pickle."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from modelmgmt.errors import NotFittedError

__all__ = ["Model"]


class Model(abc.ABC):
    """Something that predicts, described completely by a JSON config and named arrays.

    Contract every Model keeps:

    - ``params`` -> ``dict[str, np.ndarray]``: every learned array, by a stable name. Empty
      (``{}``) before fit. These arrays are what the registry stores as tensor blobs.
    - ``config`` -> ``dict``: JSON-serialisable hyperparameters plus any small learned
      non-array state (e.g. class labels), enough that
      ``type(m).from_config(m.config, m.params)`` rebuilds an equal, fitted model.
    - ``predict(X)`` -> ``np.ndarray`` of shape (n_samples,); raises :class:`NotFittedError`
      before fit and ``ValueError`` when X is not 2-D or has the wrong number of features.
    - classifiers also have ``predict_proba(X)`` -> (n_samples, n_classes), rows summing to 1,
      and ``classes_`` (the labels seen in fit, sorted).
    - ``input_signature`` -> ``{"n_features": int, "dtype": str}`` or None before fit; the
      registry stores it and deployers check requests against it.

    Trainable models (used by :func:`modelmgmt.fit`) also implement

    - ``initialize(X, y, rng)``: create parameters from the data's shape (feature count,
      classes seen) with ``rng`` (a ``np.random.Generator``). Called by fit when not fitted.
    - ``forward(X) -> (output, cache)`` and ``backward(cache, grad_output) -> grads``: output
      is the prediction for regressors and the logits (n, k) for classifiers; grads are keyed
      exactly like ``params``. This is what lets losses, distillation and fit share one path.
    - ``loss_and_grad(X, y) -> (float, grads)``: the training loss (mean over samples, plus
      any regularisation) and its gradient. The built-in models compute it from forward,
      their loss and backward (``modelmgmt.models._common``); there is no generic default.
    """

    #: marks classifiers; they add predict_proba and classes_
    is_classifier: bool = False

    # --- what every model provides -------------------------------------------------
    @property
    @abc.abstractmethod
    def params(self) -> dict[str, np.ndarray]:
        """Learned arrays by name; ``{}`` before fit."""

    @property
    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-serialisable hyperparameters and small learned state."""

    @classmethod
    @abc.abstractmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, np.ndarray]) -> "Model":
        """Rebuild a model from ``config`` and ``params`` (as saved); no pickle involved."""

    @abc.abstractmethod
    def predict(self, X: Any) -> np.ndarray:
        """Predictions for the rows of X."""

    @property
    def is_fitted(self) -> bool:
        """True once the model has parameters to predict with."""
        return bool(self.params)

    @property
    def input_signature(self) -> dict[str, Any] | None:
        """Expected input ``{"n_features": int, "dtype": str}``, or None before fit."""
        return None

    def check_fitted(self) -> None:
        """Raise NotFittedError unless the model is fitted."""
        if not self.is_fitted:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet; call fit(X, y) before predict"
            )

    # --- training (trainable models override) ---------------------------------------
    def initialize(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        """Create parameters for data shaped like X, y."""
        raise NotImplementedError(f"{type(self).__name__} is not trainable with modelmgmt.fit")

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, Any]:
        """Raw output (predictions or logits) and a cache for backward."""
        raise NotImplementedError(f"{type(self).__name__} has no forward pass")

    def backward(self, cache: Any, grad_output: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of the params given d(loss)/d(output)."""
        raise NotImplementedError(f"{type(self).__name__} has no backward pass")

    def loss_and_grad(self, X: Any, y: Any) -> tuple[float, dict[str, np.ndarray]]:
        """Training loss on (X, y) and its gradient, keyed like params."""
        raise NotImplementedError(f"{type(self).__name__} is not trainable with modelmgmt.fit")

    def fit(self, X: Any, y: Any, **kwargs: Any):
        """Shorthand for ``modelmgmt.fit(self, X, y, **kwargs)``; returns a History."""
        from modelmgmt.training import fit

        return fit(self, X, y, **kwargs)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if not k.endswith("_"))
        return f"{type(self).__name__}({shown})"
