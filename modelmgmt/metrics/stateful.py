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

from modelmgmt._validation import check_same_length
from modelmgmt.errors import InvalidArgumentError
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
from modelmgmt.metrics._metric_base import add_dicts, either, none_aware, same_label_kind, same_value
from modelmgmt.metrics._rocauc import ROCAUC

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
    "BrierScoreLoss",
    "MSE",
    "RMSE",
    "MAE",
    "R2",
    "ExplainedVariance",
]


def _merge_label_counts(a: tuple, b: tuple) -> tuple:
    return merge_counts(a[0], a[1], b[0], b[1])


class _CountingBase(_Base):
    """Keeps (sorted classes, confusion matrix) over every label seen so far."""

    counts: tuple[np.ndarray, np.ndarray] | None

    def _declare_states(self) -> None:
        self.add_state("counts", None, none_aware(_merge_label_counts))

    def _batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any) -> dict[str, Any]:
        return {"counts": class_counts(y_true, y_pred, sample_weight, allow_all_zero=True)}

    def _counts(self) -> tuple[np.ndarray, np.ndarray]:
        if self.counts is None:
            raise self._empty()
        return self.counts


class Accuracy(_Base):
    """Running accuracy: keeps the number (weight) of correct predictions and the total."""

    name = "accuracy"
    correct: Any
    total: Any
    seen: bool
    kind: str | None

    def __init__(self, *, normalize: bool = True) -> None:
        super().__init__(normalize=normalize)

    def _declare_states(self) -> None:
        self.add_state("correct", 0, "sum")
        self.add_state("total", 0, "sum")
        self.add_state("seen", False, either)
        self.add_state("kind", None, same_label_kind)

    def _batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any) -> dict[str, Any]:
        correct, total = _cls.accuracy_totals(y_true, y_pred, sample_weight, allow_all_zero=True)
        return {"correct": correct, "total": total, "seen": True, "kind": label_kind(np.asarray(y_true).ravel())}

    def compute(self) -> float:
        """Accuracy over every batch seen."""
        if not self.seen:
            raise self._empty()
        return _cls.accuracy_from_totals(self.correct, self.total, self._settings["normalize"])


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

    true_labels: np.ndarray | None

    def _declare_states(self) -> None:
        super()._declare_states()
        self.add_state("true_labels", None, none_aware(np.union1d))  # labels seen in y_true, any weight

    def _batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any) -> dict[str, Any]:
        return {**super()._batch_state(y_true, y_pred, sample_weight), "true_labels": np.unique(as_labels(y_true, "y_true"))}

    def compute(self) -> np.ndarray:
        """The confusion matrix over every batch seen."""
        classes, cm = self._counts()
        return _cls.confusion_from_counts(classes, cm, self._settings["labels"], self._settings["normalize"], self.true_labels)


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


class BrierScoreLoss(_ScoresBase):
    """Running Brier score loss (keeps the probabilities), equal to :func:`brier_score_loss` on all data."""

    name = "brier_score_loss"
    greater_is_better = False

    def __init__(self, *, pos_label: Any = None, labels: Any = None, scale_by_half: Any = "auto") -> None:
        super().__init__(pos_label=pos_label, labels=labels, scale_by_half=scale_by_half)

    def compute(self) -> float:
        """Brier score loss over every batch seen."""
        yt, ys, w = self._all()
        return _prob.brier_score_loss(yt, ys, sample_weight=w, **self._settings)


class LogLoss(_Base):
    """Running log loss: per-label sums of -log p over the columns, so the column→class map can wait."""

    name = "log_loss"
    needs_proba = True
    greater_is_better = False
    sums: dict[Any, np.ndarray]
    weight: float
    columns: int | None

    def __init__(self, *, normalize: bool = True, labels: Any = None) -> None:
        super().__init__(normalize=normalize, labels=labels)

    def _declare_states(self) -> None:
        self.add_state("sums", {}, add_dicts)
        self.add_state("weight", 0.0, "sum")
        self.add_state("columns", None, same_value("number of probability columns"))

    def _batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any) -> dict[str, Any]:
        p = _prob.as_probabilities(y_pred)
        yt = as_labels(y_true, "y_true")
        n = check_same_length(y_true=yt, y_pred=p)
        w = as_weights(sample_weight, n, allow_all_zero=True)
        eps = np.finfo(p.dtype).eps
        neglog = -np.log(np.clip(p, eps, 1 - eps)).astype(np.float64)
        seen, inv = np.unique(yt, return_inverse=True)
        inv = inv.reshape(-1)
        sums = {}
        for j, label in enumerate(seen.tolist()):
            rows = inv == j
            sums[label] = neglog[rows].sum(axis=0) if w is None else (neglog[rows] * w[rows, None]).sum(axis=0)
        return {"sums": sums, "weight": float(n if w is None else np.sum(w)), "columns": p.shape[1]}

    def compute(self) -> float:
        """Log loss over every batch seen."""
        if self.columns is None:
            raise self._empty()
        seen = np.array(sorted(self.sums))
        classes = _prob.log_loss_classes(seen, self._settings["labels"], self.columns)
        cols = np.searchsorted(classes, seen)
        total = sum(float(self.sums[label][c]) for label, c in zip(seen.tolist(), cols.tolist()))
        if self._settings["normalize"]:
            return float(total / self.weight)
        return float(total)


class _RegBase(_Base):
    _need: frozenset = _reg.ALL_STATS
    stats: _reg.RegStats | None

    def __init__(self, *, multioutput: Any = "uniform_average") -> None:
        super().__init__(multioutput=_reg.check_multioutput(multioutput, self._weightings))

    _weightings: tuple[str, ...] = ("raw_values", "uniform_average")

    def _declare_states(self) -> None:
        self.add_state("stats", None, none_aware(_reg.RegStats.merge))

    def _batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any) -> dict[str, Any]:
        return {"stats": _reg.reg_stats(y_true, y_pred, sample_weight, self._need, allow_all_zero=True)}

    def _get(self) -> _reg.RegStats:
        if self.stats is None:
            raise self._empty()
        return self.stats


class MSE(_RegBase):
    """Running mean squared error."""

    name, greater_is_better, _need = "mse", False, frozenset({"sq"})

    def compute(self) -> float:
        """MSE over every batch seen."""
        return _reg.mse_from_stats(self._get(), self._settings["multioutput"])


class RMSE(_RegBase):
    """Running root mean squared error."""

    name, greater_is_better, _need = "rmse", False, frozenset({"sq"})

    def compute(self) -> float:
        """RMSE over every batch seen."""
        return _reg.rmse_from_stats(self._get(), self._settings["multioutput"])


class MAE(_RegBase):
    """Running mean absolute error."""

    name, greater_is_better, _need = "mae", False, frozenset({"abs"})

    def compute(self) -> float:
        """MAE over every batch seen."""
        return _reg.mae_from_stats(self._get(), self._settings["multioutput"])


class R2(_RegBase):
    """Running coefficient of determination."""

    name, _need = "r2", frozenset({"sq", "y"})
    _weightings = ("raw_values", "uniform_average", "variance_weighted")

    def compute(self) -> float:
        """R² over every batch seen."""
        return _reg.r2_from_stats(self._get(), self._settings["multioutput"])


class ExplainedVariance(_RegBase):
    """Running explained variance score."""

    name, _need = "explained_variance", frozenset({"y", "e"})
    _weightings = ("raw_values", "uniform_average", "variance_weighted")

    def compute(self) -> float:
        """Explained variance over every batch seen."""
        return _reg.explained_variance_from_stats(self._get(), self._settings["multioutput"])
