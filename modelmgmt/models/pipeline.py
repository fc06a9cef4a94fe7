"""Pipeline: preprocessing steps followed by a model, trained, saved and loaded as one Model.

>>> import numpy as np, modelmgmt as mm
>>> pipe = mm.models.Pipeline([mm.data.SimpleImputer(), mm.data.StandardScaler(), mm.models.LogisticRegression()])
>>> [s["type"] for s in pipe.config["steps"]]
['SimpleImputer', 'StandardScaler', 'LogisticRegression']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmgmt._validation import as_float_2d
from modelmgmt.models.base import Model
from modelmgmt.models.model_types import STEP, model_type_name, resolve_model_type
from modelmgmt.errors import InvalidArgumentError

__all__ = ["Pipeline", "type_name", "resolve_type"]


def type_name(obj: Any) -> str:
    """How a saved pipeline names a step's class (see :mod:`modelmgmt.models.model_types`)."""
    return model_type_name(obj)


def resolve_type(name: str) -> type:
    """The registered Model or Transformer class a step type names (nothing is imported)."""
    return resolve_model_type(name, STEP, "config.steps[].type")


def _is_transformer(step: Any) -> bool:
    return callable(getattr(step, "transform", None)) and callable(getattr(step, "fit", None))


class Pipeline(Model):
    """``Pipeline([step, ..., model])``: every step but the last transforms X, the last predicts.

    Training (``fit`` / :func:`modelmgmt.fit`) fits the preprocessing steps on X when the
    pipeline is not fitted yet, then trains the model on the transformed data (warm start
    keeps the fitted steps). Params are the steps' params prefixed with the step index
    (``"0.mean"``, ``"2.W"``); the config lists each step's type name and config.
    """

    def __init__(self, steps: Any) -> None:
        try:
            steps = list(steps)
        except TypeError:
            raise InvalidArgumentError(f"steps must be a list of steps ending with a model; got {type(steps).__name__}") from None
        if not steps:
            raise InvalidArgumentError("a Pipeline needs at least one step (the model)")
        model = steps[-1]
        if not isinstance(model, Model):
            raise InvalidArgumentError(f"the last pipeline step must be a Model; got {type(model).__name__}")
        for i, step in enumerate(steps[:-1]):
            if not _is_transformer(step) or not hasattr(step, "params") or not hasattr(step, "config"):
                raise InvalidArgumentError(
                    f"pipeline step {i} must be a transformer with fit/transform/params/config "
                    f"(e.g. StandardScaler); got {type(step).__name__}"
                )
        self.steps = steps

    # --- structure -------------------------------------------------------------------
    @property
    def model(self) -> Model:
        """The final step (the predicting model)."""
        return self.steps[-1]

    @property
    def is_classifier(self) -> bool:  # type: ignore[override]
        """True when the final model is a classifier."""
        return bool(getattr(self.model, "is_classifier", False))

    @property
    def classes_(self) -> np.ndarray | None:
        """The final classifier's class labels."""
        return getattr(self.model, "classes_", None)

    @property
    def accepts_nan(self) -> bool:
        """True when a step imputes missing values, so X may contain NaN."""
        from modelmgmt.data.preprocessing import SimpleImputer

        return any(isinstance(s, SimpleImputer) for s in self.steps[:-1])

    @property
    def loss(self) -> Any:
        """The final model's loss."""
        return getattr(self.model, "loss", None)

    # --- Model contract --------------------------------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        """Every step's params, keyed ``"{index}.{name}"`` (the same array objects)."""
        return {f"{i}.{k}": v for i, step in enumerate(self.steps) for k, v in step.params.items()}

    @property
    def is_fitted(self) -> bool:
        """True when every step is fitted."""
        return all(bool(step.params) for step in self.steps)

    @property
    def config(self) -> dict[str, Any]:
        """``{"steps": [{"type": name, "config": {...}}, ...]}``."""
        return {"steps": [{"type": type_name(s), "config": s.config} for s in self.steps]}

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, np.ndarray]) -> "Pipeline":
        """Rebuild every step from its type name, config and its share of ``params``."""
        if not isinstance(config, dict) or not isinstance(config.get("steps"), list):
            raise InvalidArgumentError(f"Pipeline config must be a dict with a 'steps' list; got {config!r}")
        params = dict(params or {})
        steps = []
        for i, entry in enumerate(config["steps"]):
            if not isinstance(entry, dict) or "type" not in entry or "config" not in entry:
                raise InvalidArgumentError(f"Pipeline step {i} config must have 'type' and 'config'; got {entry!r}")
            prefix = f"{i}."
            own = {k[len(prefix):]: params.pop(k) for k in list(params) if k.startswith(prefix)}
            steps.append(resolve_type(entry["type"]).from_config(entry["config"], own))
        if params:
            raise InvalidArgumentError(f"params {sorted(params)[:5]} do not belong to any pipeline step")
        return cls(steps)

    @property
    def input_signature(self) -> dict[str, Any] | None:
        """The first step's expected input, or None before fit."""
        first = self.steps[0]
        if not self.is_fitted:
            return None
        if isinstance(first, Model):
            return first.input_signature
        n = getattr(first, "n_features_", None)
        return None if n is None else {"n_features": int(n), "dtype": "float64"}

    def transform(self, X: Any) -> np.ndarray:
        """X passed through every preprocessing step (not the model)."""
        self.check_fitted()
        for step in self.steps[:-1]:
            X = step.transform(X)
        return X

    def predict(self, X: Any) -> np.ndarray:
        """The final model's predictions on the transformed X."""
        return self.model.predict(self.transform(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """The final classifier's probabilities on the transformed X."""
        if not hasattr(self.model, "predict_proba"):
            raise AttributeError(f"{type(self.model).__name__} has no predict_proba")
        return self.model.predict_proba(self.transform(X))

    # --- training --------------------------------------------------------------------
    def initialize(self, X: Any, y: Any, rng: np.random.Generator) -> None:
        """Fit every preprocessing step on X, then initialize the model on the transformed X."""
        for step in self.steps[:-1]:
            X = step.fit_transform(X)
        self.model.initialize(X, y, rng)

    def _model_input(self, X: Any) -> np.ndarray:
        return as_float_2d(self.transform(X), "transformed X", dtype=np.float64)

    def _prefixed(self, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        last = len(self.steps) - 1
        return {f"{last}.{k}": g for k, g in grads.items()}

    def forward(self, X: Any) -> tuple[np.ndarray, Any]:
        """The model's raw output (logits or predictions) on the transformed X."""
        return self.model.forward(self._model_input(X))

    def backward(self, cache: Any, grad_output: np.ndarray) -> dict[str, np.ndarray]:
        """The model's gradients, keyed like :attr:`params`."""
        return self._prefixed(self.model.backward(cache, grad_output))

    def loss_and_grad(self, X: Any, y: Any) -> tuple[float, dict[str, np.ndarray]]:
        """The model's training loss on the transformed X; only the model's params get gradients."""
        value, grads = self.model.loss_and_grad(self.transform(X), y)
        return value, self._prefixed(grads)

    def compute_loss(self, X: Any, y: Any) -> float:
        """The training loss without gradients (validation)."""
        Xt = self.transform(X)
        if hasattr(self.model, "compute_loss"):
            return float(self.model.compute_loss(Xt, y))
        return float(self.model.loss_and_grad(Xt, y)[0])

    def __repr__(self) -> str:
        return f"Pipeline([{', '.join(repr(s) for s in self.steps)}])"
