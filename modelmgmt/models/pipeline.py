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
from modelmgmt.base import Transformer, predict_and_proba, take_prefixed
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.model_types import model_type_name, resolve_model_type
from modelmgmt.models.base import Model

__all__ = ["Pipeline", "type_name", "resolve_type"]


def type_name(obj: Any) -> str:
    """How a saved pipeline names a step's class (see :mod:`modelmgmt.model_types`)."""
    return model_type_name(obj)


def resolve_type(name: str) -> type[Any]:
    """The registered Model or Transformer class a step type names (nothing is imported)."""
    return resolve_model_type(name, (Model, Transformer), "config.steps[].type")


class Pipeline(Model):
    """``Pipeline([step, ..., model])``: every step but the last transforms X, the last predicts.

    Training (``fit`` / :func:`modelmgmt.fit`) fits the preprocessing steps on X when the
    pipeline is not fitted yet, then trains the model on the transformed data (warm start
    keeps the fitted steps). Params are the steps' params prefixed with the step index
    (``"0.mean"``, ``"2.W"``); the config lists each step's type name and config.
    Fitted on a DataFrame, its feature names (``feature_names_in_``, ``input_signature``) are
    those its first step was fitted with; that step refuses a DataFrame with other names.
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
            if not isinstance(step, Transformer):
                raise InvalidArgumentError(
                    f"pipeline step {i} must be a transformer (a modelmgmt.base.Transformer with fit/transform/params/config, "
                    f"e.g. StandardScaler); got {type(step).__name__}"
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
        return self.model.is_classifier

    @property
    def classes_(self) -> np.ndarray | None:  # type: ignore[override]
        """The final classifier's class labels."""
        return self.model.classes_

    @property
    def feature_names_in_(self) -> list[str] | None:  # type: ignore[override]
        """The feature names of the first step's input (those it was fitted with), or None."""
        return getattr(self.steps[0], "feature_names_in_", None)

    @feature_names_in_.setter
    def feature_names_in_(self, names: list[str] | None) -> None:
        self.steps[0].feature_names_in_ = names

    @property
    def accepts_nan(self) -> bool:  # type: ignore[override]
        """True when NaN in X reaches a step that removes it (an imputer) through steps that accept it."""
        for step in self.steps:
            if not step.accepts_nan:
                return False
            if step.removes_nan:
                return True
        return False

    @property
    def accepts_strings(self) -> bool:  # type: ignore[override]
        """True when the first step encodes string columns (OneHotEncoder, ColumnTransformer)."""
        return self.steps[0].accepts_strings

    @property
    def loss(self) -> Any:
        """The final model's loss."""
        return self.model.loss

    @property
    def solver(self) -> str:  # type: ignore[override]
        """The final model's solver setting."""
        return self.model.solver

    @property
    def allowed_losses(self) -> tuple[str, ...]:  # type: ignore[override]
        """The losses the final model accepts in ``fit(loss=...)``."""
        return self.model.allowed_losses

    def set_loss(self, loss: Any) -> Any:
        """Train the final model with ``loss``; returns its previous loss."""
        return self.model.set_loss(loss)

    # --- Model contract --------------------------------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        """Every step's params, keyed ``"{index}.{name}"`` (the same array objects)."""
        return {f"{i}.{k}": v for i, step in enumerate(self.steps) for k, v in step.params.items()}

    @property
    def is_fitted(self) -> bool:
        """True when every step is fitted."""
        return all(step.is_fitted for step in self.steps)

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
            own = take_prefixed(params, f"{i}.")
            steps.append(resolve_type(entry["type"]).from_config(entry["config"], own))
        if params:
            raise InvalidArgumentError(f"params {sorted(params)[:5]} do not belong to any pipeline step")
        return cls(steps)

    @property
    def input_signature(self) -> dict[str, Any] | None:
        """The first step's expected input, or None before fit."""
        if not self.is_fitted:
            return None
        return self.steps[0].input_signature

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
        if not self.is_classifier:
            raise AttributeError(f"{type(self.model).__name__} is not a classifier; it has no predict_proba")
        return self.model.predict_proba(self.transform(X))  # type: ignore[attr-defined]  # is_classifier

    def predict_and_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(predict(X), predict_proba(X))`` with X transformed once (and the final model run
        once when it can give both)."""
        if not self.is_classifier:
            raise AttributeError(f"{type(self.model).__name__} is not a classifier; it has no predict_proba")
        return predict_and_proba(self.model, self.transform(X))

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
        value, grads = self.model.loss_and_grad(self._model_input(X), y)
        return value, self._prefixed(grads)

    def prepare_targets(self, X: Any, y: Any) -> tuple[Any, Any]:
        """X through the fitted steps (once per fit: they do not change while the model trains)."""
        return self.model.prepare_targets(self._model_input(X), y)

    def loss_and_grad_prepared(self, X: Any, t: Any) -> tuple[float, dict[str, np.ndarray]]:
        """The model's loss and gradients on prepared rows, keyed like :attr:`params`."""
        value, grads = self.model.loss_and_grad_prepared(X, t)
        return value, self._prefixed(grads)

    def compute_loss(self, X: Any, y: Any) -> float:
        """The training loss without gradients (validation)."""
        return float(self.model.compute_loss(self._model_input(X), y))

    def penalty(self) -> tuple[float, dict[str, np.ndarray]]:
        """The final model's regularisation term, gradients keyed like :attr:`params`."""
        value, grads = self.model.penalty()
        return value, self._prefixed(grads)

    @property
    def masks(self) -> dict[str, np.ndarray]:
        """The final model's pruning masks, keyed like :attr:`params`."""
        return self._prefixed(self.model.masks)

    def set_masks(self, masks: dict[str, np.ndarray]) -> None:
        """Pruning masks for the final model's params (keys ``"{last index}.{name}"``)."""
        prefix = f"{len(self.steps) - 1}."
        other = [k for k in masks if not k.startswith(prefix)]
        if other:
            raise InvalidArgumentError(f"only the final model's params can be masked; got {other[:5]}")
        self.model.set_masks({k[len(prefix):]: m for k, m in masks.items()})

    @property
    def direct_solver(self) -> str | None:
        """The final model's direct solver (see :attr:`modelmgmt.Model.direct_solver`)."""
        return self.model.direct_solver

    def solve(self, X: Any, y: Any) -> dict[str, Any]:
        """Fit every step on X, then solve the final model on the transformed X."""
        for step in self.steps[:-1]:
            X = step.fit_transform(X)
        return self.model.solve(X, y)

    def __repr__(self) -> str:
        return f"Pipeline([{', '.join(repr(s) for s in self.steps)}])"
