"""Stateful metrics: accumulate sufficient statistics batch by batch, merge, then compute.

Every class is constructed with the keyword arguments of its function twin and keeps only
what that function needs: a confusion matrix over a growing label set (counting metrics),
Chan-mergeable moments (regression), per-label log-loss sums (``LogLoss``), or the scores
themselves (exact ``ROCAUC`` and ``AveragePrecision``). ``ROCAUC(bins=N)`` keeps histograms
instead: bounded memory, with a computable error bound (see :meth:`ROCAUC.error_bound`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmgmt.metrics import classification as _cls
from modelmgmt.metrics import probabilistic as _prob
from modelmgmt.metrics import ranking as _rank
from modelmgmt.metrics import regression as _reg
from modelmgmt.metrics._checks import (
    as_labels,
    as_weights,
    check_average,
    check_zero_division,
    class_counts,
    label_kind,
    merge_counts,
)
from modelmgmt.metrics._metric_base import MetricBase as _Base
from modelmgmt.metrics._metric_base import ScoresBase as _ScoresBase
from modelmgmt.metrics._rocauc import ROCAUC
from modelmgmt.metrics.base import Metric
from modelmgmt._validation import check_same_length
from modelmgmt.errors import InvalidArgumentError

__all__ = [
    "Accuracy",
    "Precision",
    "Recall",
    "F1",
    "FBeta",
    "ConfusionMatrix",
    "ROCAUC",
    "AveragePrecision",
    "LogLoss",
    "MSE",
    "RMSE",
    "MAE",
    "R2",
    "ExplainedVariance",
]


class _CountingBase(_Base):
    """Keeps (sorted classes, confusion matrix) over every label seen so far."""

    def reset(self) -> None:
        """Drop all accumulated statistics."""
        self._classes: np.ndarray | None = None
        self._cm: np.ndarray | None = None

    def update(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch of true and predicted labels."""
        classes, cm = class_counts(y_true, y_pred, sample_weight)
        self._classes, self._cm = merge_counts(self._classes, self._cm, classes, cm)

    def merge(self, other: Metric) -> "_CountingBase":
        """Add another metric's confusion matrix in place; return self."""
        self._check_other(other)
        if other._cm is not None:
            self._classes, self._cm = merge_counts(self._classes, self._cm, other._classes, other._cm)
        return self

    def _counts(self) -> tuple[np.ndarray, np.ndarray]:
        if self._cm is None:
            raise self._empty()
        return self._classes, self._cm


class Accuracy(_Base):
    """Running accuracy: keeps the number (weight) of correct predictions and the total."""

    name = "accuracy"

    def __init__(self, *, normalize: bool = True) -> None:
        super().__init__(normalize=normalize)

    def reset(self) -> None:
        """Drop all accumulated statistics."""
        self._correct: Any = 0
        self._total: Any = 0
        self._seen = False
        self._kind: str | None = None

    def update(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch of true and predicted labels."""
        correct, total = _cls.accuracy_totals(y_true, y_pred, sample_weight)
        kind = label_kind(np.asarray(y_true).ravel())
        if self._kind is not None and kind != self._kind:
            raise InvalidArgumentError("labels of this batch are of another type (string vs number) than earlier batches")
        self._kind = kind
        self._correct += correct
        self._total += total
        self._seen = True

    def merge(self, other: Metric) -> "Accuracy":
        """Add another Accuracy's counts in place; return self."""
        self._check_other(other)
        if self._kind is not None and other._kind is not None and self._kind != other._kind:
            raise InvalidArgumentError("cannot merge accuracies over string labels and number labels")
        self._kind = self._kind or other._kind
        self._correct += other._correct
        self._total += other._total
        self._seen = self._seen or other._seen
        return self

    def compute(self) -> float:
        """Accuracy over every batch seen."""
        if not self._seen:
            raise self._empty()
        return _cls.accuracy_from_totals(self._correct, self._total, self._settings["normalize"])


class _PRF(_CountingBase):
    _which = "f"
    _base_name = "f1"

    def __init__(self, *, average: str | None = "binary", pos_label: Any = 1, labels: Any = None,
                 zero_division: Any = 0.0, **extra: Any) -> None:
        check_average(average)
        check_zero_division(zero_division)
        super().__init__(average=average, pos_label=pos_label, labels=labels, zero_division=zero_division, **extra)
        self.name = self._base_name if average in ("binary", None) else f"{self._base_name}_{average}"

    def compute(self) -> Any:
        """The score over every batch seen (an array per label when average=None)."""
        classes, cm = self._counts()
        s = self._settings
        return _cls.prf_from_counts(
            classes, cm, beta=s.get("beta", 1.0), average=s["average"], pos_label=s["pos_label"],
            labels=s["labels"], zero_division=s["zero_division"], which=self._which,
        )


class Precision(_PRF):
    """Running precision (binary/micro/macro/weighted/None), equal to :func:`precision` on all data."""

    _which, _base_name = "p", "precision"


class Recall(_PRF):
    """Running recall, equal to :func:`recall` on all data."""

    _which, _base_name = "r", "recall"


class F1(_PRF):
    """Running F1, equal to :func:`f1` on all data."""

    _which, _base_name = "f", "f1"


class FBeta(_PRF):
    """Running F-beta, equal to :func:`fbeta` on all data."""

    _which, _base_name = "f", "fbeta"

    def __init__(self, beta: float, *, average: str | None = "binary", pos_label: Any = 1, labels: Any = None,
                 zero_division: Any = 0.0) -> None:
        if not isinstance(beta, (int, float)) or beta < 0:
            raise InvalidArgumentError(f"beta must be a number >= 0; got {beta!r}")
        super().__init__(average=average, pos_label=pos_label, labels=labels, zero_division=zero_division, beta=beta)


class ConfusionMatrix(_CountingBase):
    """Running confusion matrix, equal to :func:`confusion_matrix` on all data."""

    name = "confusion_matrix"
    greater_is_better = True

    def __init__(self, *, labels: Any = None, normalize: str | None = None) -> None:
        if normalize not in (None, "true", "pred", "all"):
            raise InvalidArgumentError(f"normalize must be one of (None, 'true', 'pred', 'all'); got {normalize!r}")
        super().__init__(labels=labels, normalize=normalize)

    def compute(self) -> np.ndarray:
        """The confusion matrix over every batch seen."""
        classes, cm = self._counts()
        return _cls.confusion_from_counts(classes, cm, self._settings["labels"], self._settings["normalize"])


class AveragePrecision(_ScoresBase):
    """Exact running average precision, equal to :func:`average_precision` on all data."""

    name = "average_precision"

    def __init__(self, *, average: str | None = "macro", pos_label: Any = 1) -> None:
        check_average(average, ("micro", "macro", "weighted", None))
        super().__init__(average=average, pos_label=pos_label)

    def compute(self) -> Any:
        """Average precision over every batch seen."""
        yt, ys, w = self._all()
        return _rank.average_precision(yt, ys, sample_weight=w, **self._settings)


class LogLoss(_Base):
    """Running log loss: per-label sums of -log p over the columns, so the column→class map can wait."""

    name = "log_loss"
    needs_proba = True
    greater_is_better = False

    def __init__(self, *, normalize: bool = True, labels: Any = None) -> None:
        super().__init__(normalize=normalize, labels=labels)

    def reset(self) -> None:
        """Drop all accumulated statistics."""
        self._sums: dict[Any, np.ndarray] = {}
        self._weight = 0.0
        self._columns: int | None = None

    def update(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch of true labels and predicted probabilities."""
        p = _prob.as_probabilities(y_pred)
        yt = as_labels(y_true, "y_true")
        n = check_same_length(y_true=yt, y_pred=p)
        w = as_weights(sample_weight, n)
        if self._columns is not None and p.shape[1] != self._columns:
            raise InvalidArgumentError(f"y_pred has {p.shape[1]} columns; earlier batches had {self._columns}")
        if self._sums and label_kind(np.array(list(self._sums))) != label_kind(yt):
            raise InvalidArgumentError("labels of this batch are of another type (string vs number) than earlier batches")
        eps = np.finfo(p.dtype).eps
        neglog = -np.log(np.clip(p, eps, 1 - eps)).astype(np.float64)
        seen, inv = np.unique(yt, return_inverse=True)
        inv = inv.reshape(-1)
        for j, label in enumerate(seen.tolist()):
            rows = inv == j
            part = neglog[rows].sum(axis=0) if w is None else (neglog[rows] * w[rows, None]).sum(axis=0)
            self._sums[label] = self._sums.get(label, 0.0) + part
        self._weight += float(n if w is None else np.sum(w))
        self._columns = p.shape[1]

    def merge(self, other: Metric) -> "LogLoss":
        """Add another LogLoss's sums in place; return self."""
        self._check_other(other)
        if other._columns is not None:
            if self._columns is not None and self._columns != other._columns:
                raise InvalidArgumentError(f"cannot merge log losses over {self._columns} and {other._columns} columns")
            for label, part in other._sums.items():
                self._sums[label] = self._sums.get(label, 0.0) + part
            self._weight += other._weight
            self._columns = other._columns
        return self

    def compute(self) -> float:
        """Log loss over every batch seen."""
        if self._columns is None:
            raise self._empty()
        seen = np.array(sorted(self._sums))
        classes = _prob.log_loss_classes(seen, self._settings["labels"], self._columns)
        cols = np.searchsorted(classes, seen)
        total = sum(float(self._sums[label][c]) for label, c in zip(seen.tolist(), cols.tolist()))
        if self._settings["normalize"]:
            return float(total / self._weight)
        return float(total)


class _RegBase(_Base):
    _need: frozenset = _reg.ALL_STATS

    def __init__(self) -> None:
        super().__init__()

    def reset(self) -> None:
        """Drop all accumulated statistics."""
        self._stats: _reg.RegStats | None = None

    def update(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch of targets and predictions."""
        s = _reg.reg_stats(y_true, y_pred, sample_weight, self._need)
        self._stats = s if self._stats is None else self._stats.merge(s)

    def merge(self, other: Metric) -> "_RegBase":
        """Add another metric's moments in place (Chan's parallel formula); return self."""
        self._check_other(other)
        if other._stats is not None:
            self._stats = other._stats if self._stats is None else self._stats.merge(other._stats)
        return self

    def _get(self) -> _reg.RegStats:
        if self._stats is None:
            raise self._empty()
        return self._stats


class MSE(_RegBase):
    """Running mean squared error."""

    name, greater_is_better, _need = "mse", False, frozenset({"sq"})

    def compute(self) -> float:
        """MSE over every batch seen."""
        return _reg.mse_from_stats(self._get())


class RMSE(_RegBase):
    """Running root mean squared error."""

    name, greater_is_better, _need = "rmse", False, frozenset({"sq"})

    def compute(self) -> float:
        """RMSE over every batch seen."""
        return _reg.rmse_from_stats(self._get())


class MAE(_RegBase):
    """Running mean absolute error."""

    name, greater_is_better, _need = "mae", False, frozenset({"abs"})

    def compute(self) -> float:
        """MAE over every batch seen."""
        return _reg.mae_from_stats(self._get())


class R2(_RegBase):
    """Running coefficient of determination."""

    name, _need = "r2", frozenset({"sq", "y"})

    def compute(self) -> float:
        """R² over every batch seen."""
        return _reg.r2_from_stats(self._get())


class ExplainedVariance(_RegBase):
    """Running explained variance score."""

    name, _need = "explained_variance", frozenset({"y", "e"})

    def compute(self) -> float:
        """Explained variance over every batch seen."""
        return _reg.explained_variance_from_stats(self._get())
