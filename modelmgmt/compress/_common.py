"""What counts as a weight (compressed) and what as a bias or statistic (left alone)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.model_types import model_type_name, resolve_model_type
from modelmgmt.models.base import Model

__all__ = ["is_weight", "weight_names", "check_model", "type_name", "resolve_type"]

_BIAS = re.compile(r"(^|[._/])(b|bias|intercept)_?\d*$", re.I)
_WEIGHT = re.compile(r"(^|[._/])(w|weight|weights|kernel|coef)_?\d*$", re.I)


def is_weight(name: str, array: np.ndarray) -> bool:
    """True for a float weight tensor: 2-D or more, or 1-D but named like a weight ("w", "coef").

    Biases (named "b"/"bias"/"intercept", or any other 1-D array such as a scaler's mean)
    and non-float arrays are never pruned or quantized.
    """
    a = np.asarray(array)
    if a.dtype.kind != "f" or a.size == 0 or _BIAS.search(name):
        return False
    return a.ndim >= 2 or bool(_WEIGHT.search(name))


def weight_names(params: dict[str, np.ndarray]) -> list[str]:
    """Names of the weight tensors of ``params``, in their order."""
    return [k for k, v in params.items() if is_weight(k, v)]


def check_model(model: Any, what: str) -> None:
    """TypeError unless ``model`` is a Model; NotFittedError unless it is fitted."""
    if not isinstance(model, Model):
        raise InvalidArgumentError(f"{what} must be a modelmgmt Model; got {type(model).__name__}")
    model.check_fitted()


def type_name(model: Model) -> str:
    """How a saved artifact names ``model``'s class: its registered type name or "module:Class"."""
    return model_type_name(model)


def resolve_type(name: str) -> type[Model]:
    """The registered Model class a :func:`type_name` stands for (nothing is imported)."""
    return resolve_model_type(name, (Model,), "config.wrapped_type")
