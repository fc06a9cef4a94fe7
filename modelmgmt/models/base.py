"""The Model interface: something that predicts and can be saved without pickle."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from modelmgmt.base import Estimator
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.training.loop import fit as _fit

__all__ = ["Model"]


class Model(Estimator):
    """Something that predicts, described completely by a JSON config and named arrays.

    Contract every Model keeps:

    - ``params`` -> ``dict[str, np.ndarray]``: every learned array, by a stable name. Empty
      (``{}``) before fit. These arrays are what the registry stores as tensor blobs.
    - ``config`` -> ``dict``: JSON-serialisable hyperparameters plus any small learned
      non-array state (e.g. class labels), enough that
      ``type(m).from_config(m.config, m.params)`` rebuilds an equal, fitted model.
    - ``predict(X)`` -> ``np.ndarray`` of shape (n_samples,); raises :class:`NotFittedError`
      before fit and ``ValueError`` when X is not 2-D or has the wrong number of features.
    - classifiers (``is_classifier = True``) also have ``predict_proba(X)`` -> (n_samples,
      n_classes), rows summing to 1, and ``classes_`` (the labels seen in fit, sorted).
    - ``input_signature`` -> ``{"n_features": int, "dtype": str}`` or None before fit, plus
      ``"feature_names"`` when fitted on a DataFrame (``feature_names_in_``); the registry
      stores it and deployers check requests against it.
    - declared capabilities (:class:`modelmgmt.base.Estimator`): ``is_classifier``,
      ``accepts_nan``, ``accepts_strings``, ``classes_``.

    Trainable models (used by :func:`modelmgmt.fit`, see :class:`modelmgmt.base.Trainable`)
    implement ``initialize(X, y, rng)`` and ``loss_and_grad(X, y) -> (float, grads)`` (grads
    keyed exactly like ``params``), usually through ``forward(X) -> (output, cache)`` and
    ``backward(cache, grad_output) -> grads``. The other Trainable methods have defaults
    here: ``prepare_targets`` / ``loss_and_grad_prepared`` (override both to check and encode
    the data once per fit instead of once per batch), ``compute_loss``, ``penalty``,
    ``masks`` / ``set_masks`` (weights pruning keeps at zero), ``set_loss`` (the losses a
    model accepts in ``fit(loss=...)``) and ``direct_solver`` / ``solve`` (a closed-form or
    quasi-Newton fit that :func:`modelmgmt.fit` uses when no optimizer is given).
    """

    #: losses ``fit(loss=...)`` accepts (names of modelmgmt.losses); empty = only its own
    allowed_losses: tuple[str, ...] = ()
    #: the loss fit trains with (None when the model computes its own)
    loss: Any = None
    #: "auto" lets fit choose (direct solver without an optimizer); anything else is explicit
    solver: str = "auto"
    _masks: dict[str, np.ndarray] = {}

    # --- what every model provides -------------------------------------------------
    @abc.abstractmethod
    def predict(self, X: Any) -> np.ndarray:
        """Predictions for the rows of X."""

    @property
    def input_signature(self) -> dict[str, Any] | None:
        """Expected input ``{"n_features": int, "dtype": str}``, or None before fit."""
        return None

    # --- training (trainable models override) ---------------------------------------
    def initialize(self, X: Any, y: Any, rng: np.random.Generator) -> None:
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

    def prepare_targets(self, X: Any, y: Any) -> tuple[Any, Any]:
        """(X, targets) checked and encoded once per fit; by default the data unchanged."""
        return X, y

    def loss_and_grad_prepared(self, X: Any, t: Any) -> tuple[float, dict[str, np.ndarray]]:
        """:meth:`loss_and_grad` on rows of what :meth:`prepare_targets` returned."""
        return self.loss_and_grad(X, t)

    def compute_loss(self, X: Any, y: Any) -> float:
        """The training loss without gradients (validation data)."""
        return float(self.loss_and_grad(X, y)[0])

    def penalty(self) -> tuple[float, dict[str, np.ndarray]]:
        """Regularisation term included in the loss and its gradient (only the keys it touches)."""
        return 0.0, {}

    def set_loss(self, loss: Any) -> Any:
        """Train with ``loss`` from now on; returns the previous loss. Refused unless allowed."""
        raise InvalidArgumentError(f"{type(self).__name__} trains with its own loss only; fit(loss=...) is not accepted")

    @property
    def direct_solver(self) -> str | None:
        """Name of the non-gradient solver fit uses when no optimizer is given, or None."""
        return None

    def solve(self, X: Any, y: Any) -> dict[str, Any]:
        """Fit by :attr:`direct_solver`; returns ``{"loss", "n_iter", "converged"}``."""
        raise NotImplementedError(f"{type(self).__name__} has no direct solver")

    # --- pruning masks ------------------------------------------------------------------
    @property
    def masks(self) -> dict[str, np.ndarray]:
        """``{param name: bool array}``: True where a weight may be non-zero (set by pruning)."""
        return self._masks

    def set_masks(self, masks: dict[str, np.ndarray]) -> None:
        """Keep the False entries of each mask at zero from now on (fit re-applies them every step)."""
        params = self.params
        checked: dict[str, np.ndarray] = {}
        for name, m in dict(masks or {}).items():
            if name not in params:
                raise InvalidArgumentError(f"mask for unknown param {name!r}; params are {sorted(params)}")
            m = np.asarray(m, dtype=bool)
            if m.shape != params[name].shape:
                raise InvalidArgumentError(f"mask for {name!r} has shape {m.shape}; the param has {params[name].shape}")
            params[name][~m] = 0
            checked[name] = m
        self._masks = checked

    def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
        """Shorthand for ``modelmgmt.fit(self, X, y, **kwargs)``; returns a History."""
        return _fit(self, X, y, **kwargs)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.config.items() if not k.endswith("_"))
        return f"{type(self).__name__}({shown})"
