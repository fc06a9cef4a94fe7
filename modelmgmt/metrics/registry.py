"""Metrics by name: ``get("f1_macro")`` gives a fresh stateful metric, ``get_function`` its function.

Names follow scikit-learn's scorer names: "accuracy", "precision", "recall", "f1" (binary),
"<precision|recall|f1>_<micro|macro|weighted>", "roc_auc", "roc_auc_ovr", "roc_auc_ovo",
"roc_auc_ovr_weighted", "roc_auc_ovo_weighted", "average_precision", "log_loss",
"brier_score_loss", "mse",
"rmse", "mae", "r2", "explained_variance". Unknown names raise
:class:`~modelmgmt.errors.NotFoundError` (a ``KeyError``) listing the known ones.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from modelmgmt.errors import InvalidArgumentError, NotFoundError
from modelmgmt.metrics import stateful as _st
from modelmgmt.metrics.base import Metric
from modelmgmt.metrics.classification import accuracy, f1, precision, recall
from modelmgmt.metrics.probabilistic import brier_score_loss, log_loss
from modelmgmt.metrics.ranking import average_precision, roc_auc
from modelmgmt.metrics.regression import explained_variance, mae, mse, r2, rmse

__all__ = ["get", "get_function", "names"]

# name -> (class, function, keyword arguments)
_SPECS: dict[str, tuple[type, Callable[..., Any], dict[str, Any]]] = {
    "accuracy": (_st.Accuracy, accuracy, {}),
    "average_precision": (_st.AveragePrecision, average_precision, {}),
    "log_loss": (_st.LogLoss, log_loss, {}),
    "brier_score_loss": (_st.BrierScoreLoss, brier_score_loss, {}),
    "mse": (_st.MSE, mse, {}),
    "rmse": (_st.RMSE, rmse, {}),
    "mae": (_st.MAE, mae, {}),
    "r2": (_st.R2, r2, {}),
    "explained_variance": (_st.ExplainedVariance, explained_variance, {}),
    "roc_auc": (_st.ROCAUC, roc_auc, {}),
}
for _cls_, _fn, _base in ((_st.Precision, precision, "precision"), (_st.Recall, recall, "recall"), (_st.F1, f1, "f1")):
    _SPECS[_base] = (_cls_, _fn, {})
    for _avg in ("micro", "macro", "weighted"):
        _SPECS[f"{_base}_{_avg}"] = (_cls_, _fn, {"average": _avg})
for _mc in ("ovr", "ovo"):
    _SPECS[f"roc_auc_{_mc}"] = (_st.ROCAUC, roc_auc, {"multi_class": _mc})
    _SPECS[f"roc_auc_{_mc}_weighted"] = (_st.ROCAUC, roc_auc, {"multi_class": _mc, "average": "weighted"})


def names() -> list[str]:
    """Every metric name :func:`get` knows, sorted."""
    return sorted(_SPECS)


def _spec(name: Any) -> tuple[type, Callable[..., Any], dict[str, Any]]:
    if not isinstance(name, str):
        raise InvalidArgumentError(f"metric name must be a str; got {type(name).__name__}")
    try:
        return _SPECS[name]
    except KeyError:
        raise NotFoundError(f"unknown metric {name!r}; known metrics: {', '.join(names())}") from None


def get(name: str) -> Metric:
    """A fresh stateful metric for ``name`` (with ``.name``, ``.needs_proba``, ``.greater_is_better``)."""
    cls, _, kwargs = _spec(name)
    metric = cls(**kwargs)
    metric.name = name
    return metric


def get_function(name: str) -> Callable[..., Any]:
    """The plain function for ``name`` with its keyword arguments bound, e.g. f1(average="macro").

    The returned callable also carries ``needs_proba`` and ``greater_is_better``.
    """
    cls, fn, kwargs = _spec(name)
    bound = functools.partial(fn, **kwargs)
    bound.needs_proba = cls.needs_proba  # type: ignore[attr-defined]
    bound.greater_is_better = cls.greater_is_better  # type: ignore[attr-defined]
    bound.__name__ = name  # type: ignore[attr-defined]
    return bound
