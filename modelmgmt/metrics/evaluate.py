"""``evaluate``: score a fitted model on (X, y) with named or stateful metrics."""

from __future__ import annotations

import copy
from typing import Any, Iterable

import numpy as np

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.metrics.base import Metric
from modelmgmt.metrics.registry import get

__all__ = ["evaluate"]


def _resolve(metric: Any) -> tuple[str, Metric]:
    if isinstance(metric, str):
        return metric, get(metric)
    if isinstance(metric, Metric):
        fresh = metric.clone() if hasattr(metric, "clone") else copy.deepcopy(metric)
        if not hasattr(metric, "clone"):
            fresh.reset()
        return (getattr(metric, "name", "") or type(metric).__name__.lower()), fresh
    raise InvalidArgumentError(f"metrics must be metric names or Metric objects; got {type(metric).__name__}")


def _with_model_labels(metric: Metric, classes: np.ndarray | None) -> Metric:
    """Score metrics whose columns are the model's classes get ``labels=model.classes_``."""
    settings = getattr(metric, "_settings", None)
    if classes is None or settings is None or "labels" not in settings or settings["labels"] is not None:
        return metric
    kind = type(metric).__name__
    extra: dict[str, Any] = {}
    if kind == "BrierScoreLoss" and len(classes) == 2 and settings.get("pos_label") is None:
        extra["pos_label"] = np.asarray(classes).tolist()[1]  # the column evaluate passes is classes_[1]'s
    if kind in ("LogLoss", "BrierScoreLoss") or (kind == "ROCAUC" and len(classes) > 2):
        new = type(metric)(**{**settings, "labels": np.asarray(classes).tolist(), **extra})
        new.name = metric.name
        return new
    return metric


def evaluate(model: Any, X: Any, y: Any, metrics: Iterable[Any] = ("accuracy",)) -> dict[str, float]:
    """Score ``model`` on (X, y): ``{name: value}``; score-based metrics use ``predict_proba``.

    ``metrics`` holds names known to :func:`modelmgmt.metrics.get` or Metric objects (a fresh
    copy of each is used, the caller's object is not changed). For a binary classifier,
    ROC AUC and average precision get the positive (second) probability column; log loss gets
    all columns with ``labels=model.classes_``.
    """
    if isinstance(metrics, (str, Metric)):
        metrics = (metrics,)
    if not isinstance(metrics, Iterable):
        raise InvalidArgumentError(f"metrics must be a metric name, a Metric or an iterable of them; got {metrics!r}")
    resolved = [_resolve(m) for m in metrics]
    if not resolved:
        raise InvalidArgumentError("metrics must name at least one metric")
    y = np.asarray(y)
    pred = proba = None
    classes = getattr(model, "classes_", None)
    out: dict[str, float] = {}
    for key, metric in resolved:
        if getattr(metric, "needs_proba", False):
            if proba is None:
                if not hasattr(model, "predict_proba"):
                    raise InvalidArgumentError(f"metric {key!r} needs predicted probabilities; {type(model).__name__} has no predict_proba")
                proba = np.asarray(model.predict_proba(X))
            metric = _with_model_labels(metric, classes)
            scores = proba
            if type(metric).__name__ != "LogLoss" and proba.ndim == 2 and proba.shape[1] == 2:
                scores = proba[:, 1]
            metric.update(y, scores)
        else:
            if pred is None:
                pred = np.asarray(model.predict(X))
            metric.update(y, pred)
        value = metric.compute()
        out[key] = float(value) if np.ndim(value) == 0 else value
    return out
