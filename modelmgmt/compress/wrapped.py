"""WrappedModel: a model stored in a compact form (int8 codes, sparse values) that predicts by
rebuilding the model type it wraps. Quantization and sparse storage differ only in how the
wrapped params are stored and restored; everything else is here, once."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmgmt.base import predict_and_proba
from modelmgmt.compress._common import resolve_type
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.models.base import Model

__all__ = ["WrappedModel"]


class WrappedModel(Model):
    """Config names the wrapped type (``wrapped_type``, ``wrapped_config``, ``wrapped_params``);
    subclasses say which other config keys they need (``REQUIRED``), check their params
    (``_check_params``) and turn them back into the wrapped model's (``wrapped_param_arrays``)."""

    #: config keys a subclass needs besides the wrapped type's name and config
    REQUIRED: tuple[str, ...] = ()
    #: the word error messages use ("quantized", "sparse")
    KIND = "wrapped"

    def __init__(self, config: dict[str, Any], params: dict[str, np.ndarray]) -> None:
        if not isinstance(config, dict) or not isinstance(params, dict):
            raise InvalidArgumentError(f"{type(self).__name__} needs a config dict and a params dict")
        for key in ("wrapped_type", "wrapped_config", *self.REQUIRED):
            if key not in config:
                raise InvalidArgumentError(f"{type(self).__name__} config needs {key!r}; got keys {sorted(config)}")
        self._check_params(config, params)
        self._config = dict(config)
        self._params = dict(params)
        self._inner: Model | None = None
        self.is_classifier = bool(resolve_type(config["wrapped_type"]).is_classifier)

    def _check_params(self, config: dict[str, Any], params: dict[str, np.ndarray]) -> None:
        """Raise InvalidArgumentError when ``params`` do not fit ``config``."""

    def wrapped_param_arrays(self) -> dict[str, np.ndarray]:
        """The wrapped model's params restored from the compact ones."""
        raise NotImplementedError

    def _build_inner(self) -> Model:
        return resolve_type(self._config["wrapped_type"]).from_config(self._config["wrapped_config"],
                                                                       self.wrapped_param_arrays())

    def inner(self) -> Model:
        """The wrapped model type rebuilt with restored weights (built once, then cached)."""
        if self._inner is None:
            self._inner = self._build_inner()
        return self._inner

    # --- Model contract -------------------------------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        """The compact arrays as stored, by name."""
        return self._params

    @property
    def config(self) -> dict[str, Any]:
        """The wrapped type's name and config plus this form's settings."""
        return dict(self._config)

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, np.ndarray]) -> "WrappedModel":
        """Rebuild from a saved config and params (stored dtypes kept)."""
        return cls(config, params)

    @property
    def input_signature(self) -> dict[str, Any] | None:
        """The wrapped model's input signature."""
        return self.inner().input_signature

    def predict(self, X: Any) -> np.ndarray:
        """Predictions of the wrapped model."""
        return self.inner().predict(X)

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, Any]:
        """The wrapped model's forward pass (so a compressed model can teach in distill)."""
        return self.inner().forward(X)

    @property
    def predict_proba(self):  # a property so hasattr() is False for regressors
        """Class probabilities of the wrapped classifier."""
        if not self.is_classifier:
            raise AttributeError(f"the {self.KIND} {self._config['wrapped_type']} is not a classifier; "
                                 "it has no predict_proba")
        return self.inner().predict_proba  # type: ignore[attr-defined]

    @property
    def predict_and_proba(self):  # a property so hasattr() is False for regressors
        """``(predict, predict_proba)`` of the wrapped classifier in one pass."""
        if not self.is_classifier:
            raise AttributeError(f"the {self.KIND} {self._config['wrapped_type']} is not a classifier; "
                                 "it has no predict_and_proba")
        inner = self.inner()
        return lambda X: predict_and_proba(inner, X)

    @property
    def classes_(self) -> np.ndarray | None:  # type: ignore[override]
        """Class labels of the wrapped classifier (None for a regressor)."""
        return self.inner().classes_ if self.is_classifier else None
