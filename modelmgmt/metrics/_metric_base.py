"""Plumbing shared by the stateful metric classes: settings, merge checks, kept-scores state."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from modelmgmt._validation import check_same_length
from modelmgmt.metrics._checks import as_labels, as_scores, as_weights, label_kind
from modelmgmt.metrics.base import Metric
from modelmgmt.errors import InvalidArgumentError

__all__ = ["MetricBase", "ScoresBase"]


def _freeze(value: Any) -> Any:
    """A hashable, comparable form of a setting (label lists become tuples)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(np.asarray(value).tolist())
    return value


class MetricBase(Metric):
    """Shared plumbing: settings, merge type checks, repr."""

    #: True when the metric needs scores/probabilities (predict_proba) rather than labels
    needs_proba: bool = False
    #: True when a larger value is better (tuning ranks by it)
    greater_is_better: bool = True

    def __init__(self, **settings: Any) -> None:
        self._settings = settings
        self.reset()

    def _key(self) -> tuple:
        items = []
        for k, v in sorted(self._settings.items()):
            v = _freeze(v)
            if isinstance(v, float) and math.isnan(v):
                v = "nan"
            items.append((k, v))
        return (type(self), tuple(items))

    def _check_other(self, other: Metric) -> None:
        if not isinstance(other, MetricBase) or other._key() != self._key():
            theirs = other._describe() if isinstance(other, MetricBase) else type(other).__name__
            raise InvalidArgumentError(f"can only merge a metric of the same kind and settings: {self._describe()} vs {theirs}")

    def _describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings.items())
        return f"{type(self).__name__}({args})"

    def __repr__(self) -> str:
        return self._describe()

    def clone(self) -> "MetricBase":
        """A fresh metric with the same settings and nothing seen."""
        fresh = copy.copy(self)
        fresh._settings = dict(self._settings)
        fresh.reset()
        return fresh

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """The metric on this data alone, like its function; the accumulated state is untouched."""
        fresh = self.clone()
        fresh.update(y_true, y_pred, sample_weight=sample_weight)
        return fresh.compute()

    def _empty(self) -> ValueError:
        return ValueError(f"{self._describe()}.compute() called before any update(): nothing seen")


class ScoresBase(MetricBase):
    """Keeps every (y_true, y_score, weight) batch: exact, memory grows with the data."""

    needs_proba = True

    def reset(self) -> None:
        """Drop all accumulated statistics."""
        self._batches: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []

    def update(self, y_true: Any, y_score: Any, sample_weight: Any = None) -> None:
        """Add one batch of true labels and scores."""
        yt = as_labels(y_true, "y_true")
        ys = as_scores(y_score)
        n = check_same_length(y_true=yt, y_score=ys)
        if self._batches:
            first = self._batches[0]
            if first[1].shape[1:] != ys.shape[1:]:
                raise InvalidArgumentError(f"y_score shape {ys.shape} does not match earlier batches {first[1].shape}")
            if len(first[0]) and label_kind(first[0]) != label_kind(yt):
                raise InvalidArgumentError("labels of this batch are of another type (string vs number) than earlier batches")
        self._batches.append((yt, ys, as_weights(sample_weight, n)))

    def merge(self, other: Metric) -> "ScoresBase":
        """Add another metric's batches in place; return self."""
        self._check_other(other)
        self._batches.extend(other._batches)
        return self

    def _all(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if not self._batches:
            raise self._empty()
        yt = np.concatenate([b[0] for b in self._batches])
        ys = np.concatenate([b[1] for b in self._batches])
        if all(b[2] is None for b in self._batches):
            return yt, ys, None
        w = np.concatenate([np.ones(len(b[0])) if b[2] is None else b[2] for b in self._batches])
        return yt, ys, w
