"""Scoring for searches: a metric name (resolved through modelmgmt.metrics) or a callable.

Every scorer returns a number where greater is better, as scikit-learn's scorers do: for the
metrics where smaller is better (``log_loss``, ``mse``, ``rmse``, ``mae``: those whose
``greater_is_better`` is False) the score is the *negated* metric, so a search still
maximises it (``mean_score == -mean(log_loss)``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.metrics import evaluate, get

__all__ = ["Scorer", "check_scoring"]


class Scorer:
    """Score a fitted model on (X, y) by a metric name; picklable (holds only the name).

    The value is ``mm.evaluate(model, X, y, (name,))[name]`` — probabilities for the
    score-based metrics, the positive column for binary ones, ``labels=model.classes_`` for
    log loss — negated when smaller is better.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"scoring must be a metric name or a callable(model, X, y); got {name!r}")
        try:
            metric = get(name)
        except KeyError as exc:  # NotFoundError is a KeyError; say it as a bad argument
            raise InvalidArgumentError(f"unknown metric {name!r} for scoring: {exc}") from None
        self.name = name
        self.sign = 1.0 if getattr(metric, "greater_is_better", True) else -1.0

    def value(self, model: Any, X: np.ndarray, y: np.ndarray) -> float:
        """The metric itself (not negated)."""
        return float(evaluate(model, X, y, (self.name,))[self.name])

    def __call__(self, model: Any, X: np.ndarray, y: np.ndarray) -> float:
        return self.sign * self.value(model, X, y)

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
        raise InvalidArgumentError(
            f"scoring must be a metric name, a callable(model, X, y) or a sequence of them; got {type(scoring).__name__}"
        )
    if not items:
        raise InvalidArgumentError("scoring must name at least one metric; got an empty collection")
    out: dict[str, Callable] = {}
    for name, s in items:
        if isinstance(s, str):
            out[name] = Scorer(s)  # unknown names fail now, before any fit
        elif callable(s):
            out[name] = s
        else:
            raise InvalidArgumentError(f"scoring entry {name!r} must be a metric name or a callable(model, X, y); got {type(s).__name__}")
    return out
