"""Scoring for searches: a metric name (resolved through modelmgmt.metrics) or a callable.

Every scorer returns a number where greater is better, as scikit-learn's scorers do: for the
loss-like metrics (``log_loss``, ``mse``, ``rmse``, ``mae``) the score is the *negated*
metric, so a search still maximises it (``mean_score == -mean(log_loss)``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["Scorer", "check_scoring", "LOWER_IS_BETTER", "PROBA_METRICS"]

#: metrics where a smaller value is better; their scores are negated
LOWER_IS_BETTER = frozenset({"log_loss", "mse", "rmse", "mae"})
#: metric name prefixes computed from predict_proba rather than predict
PROBA_METRICS = ("log_loss", "roc_auc", "average_precision")


def _resolve_metric(name: str) -> Any:
    """The metric registered under ``name`` in modelmgmt.metrics (function, class or instance)."""
    import modelmgmt.metrics as metrics

    getter = getattr(metrics, "get", None)
    if getter is not None:
        return getter(name)
    found = getattr(metrics, name, None)
    if found is None:
        raise ValueError(f"unknown metric {name!r} for scoring; expected a name modelmgmt.metrics knows")
    return found


def _apply_metric(metric: Any, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Compute a resolved metric: a Metric instance/class (update+compute) or a function."""
    from modelmgmt.metrics.base import Metric

    if isinstance(metric, type) and issubclass(metric, Metric):
        metric = metric()
    if isinstance(metric, Metric):
        import copy

        m = copy.deepcopy(metric)
        m.reset()
        m.update(y_true, y_pred)
        return float(m.compute())
    return float(metric(y_true, y_pred))


class Scorer:
    """Score a fitted model on (X, y) by a metric name; picklable (holds only the name)."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"scoring must be a metric name or a callable(model, X, y); got {name!r}")
        self.name = name
        self.sign = -1.0 if name in LOWER_IS_BETTER else 1.0
        self.needs_proba = name.startswith(PROBA_METRICS)

    def __call__(self, model: Any, X: np.ndarray, y: np.ndarray) -> float:
        metric = _resolve_metric(self.name)
        if self.needs_proba:
            proba = model.predict_proba(X)
            if proba.shape[1] == 2 and not self.name.startswith("log_loss"):
                proba = proba[:, 1]  # binary ranking metrics take the positive-class score
            value = _apply_metric(metric, y, proba)
        else:
            value = _apply_metric(metric, y, model.predict(X))
        return self.sign * value

    def __repr__(self) -> str:
        return f"Scorer({self.name!r})"


def check_scoring(scoring: Any) -> dict[str, Callable[[Any, np.ndarray, np.ndarray], float]]:
    """Normalise ``scoring`` (name, callable, or a sequence/dict of them) to name -> scorer."""
    if isinstance(scoring, str) or callable(scoring):
        scoring = (scoring,)
    if isinstance(scoring, dict):
        items = list(scoring.items())
    elif isinstance(scoring, (list, tuple)):
        items = [(s if isinstance(s, str) else getattr(s, "__name__", f"score{i}"), s) for i, s in enumerate(scoring)]
    else:
        raise TypeError(
            f"scoring must be a metric name, a callable(model, X, y) or a sequence of them; got {type(scoring).__name__}"
        )
    if not items:
        raise ValueError("scoring must name at least one metric; got an empty collection")
    out: dict[str, Callable] = {}
    for name, s in items:
        if isinstance(s, str):
            _resolve_metric(s)  # unknown names fail now, before any fit
            out[name] = Scorer(s)
        elif callable(s):
            out[name] = s
        else:
            raise TypeError(f"scoring entry {name!r} must be a metric name or a callable(model, X, y); got {type(s).__name__}")
    return out
