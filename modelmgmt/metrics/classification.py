"""Counting metrics (accuracy, precision, recall, F-beta, confusion matrix), all from one matrix.

Each function is "update + compute" on one batch: :func:`class_counts` builds the sufficient
statistic (sorted classes, confusion matrix), and a ``*_from_counts`` function turns it into
the value. The stateful classes in :mod:`modelmgmt.metrics.stateful` use the same two steps,
which is why chunked updates and merges give the same number as one call.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.metrics._checks import (
    as_labels,
    check_average,
    check_label_pair,
    check_zero_division,
    class_counts,
)

__all__ = [
    "accuracy",
    "precision",
    "recall",
    "f1",
    "fbeta",
    "confusion_matrix",
    "label_index",
    "prf_from_counts",
    "confusion_from_counts",
    "accuracy_totals",
    "accuracy_from_totals",
]


def accuracy(y_true: Any, y_pred: Any, normalize: bool = True, sample_weight: Any = None) -> float:
    """Fraction (or, with ``normalize=False``, number) of correct predictions, as sklearn's accuracy_score.

    >>> accuracy([0, 1, 2, 2], [0, 1, 1, 2])
    0.75
    """
    correct, total = accuracy_totals(y_true, y_pred, sample_weight)
    return accuracy_from_totals(correct, total, normalize)


def accuracy_totals(y_true: Any, y_pred: Any, sample_weight: Any = None, allow_all_zero: bool = False) -> tuple[Any, Any]:
    """Validate a label pair; return (number or weight of correct predictions, total)."""
    yt, yp, w = check_label_pair(y_true, y_pred, sample_weight, allow_all_zero)
    hit = yt == yp
    if w is None:
        return np.count_nonzero(hit), len(yt)
    return np.dot(hit, w), np.sum(w)


def accuracy_from_totals(correct: Any, total: Any, normalize: bool = True) -> float:
    """Accuracy from (number or weight of correct predictions, total number or weight)."""
    if not normalize:
        return float(correct)
    if total == 0:
        raise InvalidArgumentError("accuracy is undefined when the sample weights sum to zero")
    return float(correct / total)


def label_index(classes: np.ndarray, labels: Any) -> np.ndarray:
    """Position of each label in ``classes``, -1 where absent."""
    where = {c: i for i, c in enumerate(classes.tolist())}
    return np.array([where.get(v, -1) for v in np.asarray(labels).tolist()], dtype=np.intp)


def _divide(num: np.ndarray, den: np.ndarray, zero_division: float) -> np.ndarray:
    mask = den == 0
    if not mask.any():
        return np.true_divide(num, den, dtype=np.float64)
    out = num.astype(np.float64) / np.where(mask, 1.0, den)
    out[mask] = zero_division
    return out


def _nanaverage(a: np.ndarray, weights: np.ndarray | None) -> float:
    """sklearn's _nanaverage: a (weighted) mean ignoring NaN; NaN when nothing is left."""
    if a.shape[0] == 0:
        return math.nan
    mask = np.isnan(a)
    if mask.any():
        if mask.all():
            return math.nan
        keep = ~mask
        a = a[keep]
        weights = None if weights is None else weights[keep]
    # a.sum() / n and (a * w).sum() / w.sum() are exactly np.mean and np.average
    if weights is not None:
        weights = weights.astype(np.float64, copy=False)
        total = weights.sum()
        if total != 0:
            return float((a * weights).sum() / total)
    return float(a.sum() / a.shape[0])


def prf_from_counts(
    classes: np.ndarray,
    cm: np.ndarray,
    *,
    beta: float = 1.0,
    average: str | None = "binary",
    pos_label: Any = 1,
    labels: Any = None,
    zero_division: Any = 0.0,
    which: str = "f",
) -> Any:
    """Precision ("p"), recall ("r") or F-beta ("f") from a confusion matrix over ``classes``."""
    check_average(average)
    zd = check_zero_division(zero_division)
    if beta < 0 or (isinstance(beta, float) and math.isnan(beta)):
        raise InvalidArgumentError(f"beta must be >= 0; got {beta!r}")
    if average == "binary":
        if len(classes) > 2:
            raise InvalidArgumentError(
                "Target is multiclass but average='binary'. Please choose another average "
                "setting, one of [None, 'micro', 'macro', 'weighted']."
            )
        if pos_label not in classes.tolist() and len(classes) >= 2:
            raise InvalidArgumentError(f"pos_label={pos_label!r} is not a valid label. It should be one of {classes.tolist()}")
        selected: Any = [pos_label]
    else:
        selected = classes if labels is None else labels
    if selected is classes:  # every present label, in order: read the matrix directly
        tp, pred_sum, true_sum = np.diagonal(cm), cm.sum(axis=0), cm.sum(axis=1)
    else:
        idx = label_index(classes, selected)
        found = idx >= 0
        safe = np.where(found, idx, 0)
        tp = np.where(found, np.diagonal(cm)[safe], 0)
        pred_sum = np.where(found, cm.sum(axis=0)[safe], 0)
        true_sum = np.where(found, cm.sum(axis=1)[safe], 0)
    if average == "micro":
        tp, pred_sum, true_sum = tp.sum(keepdims=True), pred_sum.sum(keepdims=True), true_sum.sum(keepdims=True)
    if which == "p":
        value = _divide(tp, pred_sum, zd)
    elif which == "r":
        value = _divide(tp, true_sum, zd)
    elif math.isinf(beta):
        value = _divide(tp, true_sum, zd)
    elif beta == 0:
        value = _divide(tp, pred_sum, zd)
    else:
        b2 = beta * beta
        value = _divide((1 + b2) * tp.astype(np.float64), b2 * true_sum.astype(np.float64) + pred_sum, zd)
    if average is None:
        return value
    return _nanaverage(value, true_sum if average == "weighted" else None)


def _prf(y_true, y_pred, beta, average, pos_label, labels, zero_division, sample_weight, which):
    check_average(average)
    check_zero_division(zero_division)
    classes, cm = class_counts(y_true, y_pred, sample_weight)
    return prf_from_counts(
        classes, cm, beta=beta, average=average, pos_label=pos_label, labels=labels,
        zero_division=zero_division, which=which,
    )


def precision(
    y_true: Any, y_pred: Any, *, average: str | None = "binary", pos_label: Any = 1,
    labels: Any = None, zero_division: Any = 0.0, sample_weight: Any = None,
) -> Any:
    """Precision tp / (tp + fp), as sklearn's precision_score (array per class when average=None)."""
    return _prf(y_true, y_pred, 1.0, average, pos_label, labels, zero_division, sample_weight, "p")


def recall(
    y_true: Any, y_pred: Any, *, average: str | None = "binary", pos_label: Any = 1,
    labels: Any = None, zero_division: Any = 0.0, sample_weight: Any = None,
) -> Any:
    """Recall tp / (tp + fn), as sklearn's recall_score (array per class when average=None)."""
    return _prf(y_true, y_pred, 1.0, average, pos_label, labels, zero_division, sample_weight, "r")


def fbeta(
    y_true: Any, y_pred: Any, beta: float, *, average: str | None = "binary", pos_label: Any = 1,
    labels: Any = None, zero_division: Any = 0.0, sample_weight: Any = None,
) -> Any:
    """F-beta score, as sklearn's fbeta_score (array per class when average=None)."""
    return _prf(y_true, y_pred, beta, average, pos_label, labels, zero_division, sample_weight, "f")


def f1(
    y_true: Any, y_pred: Any, *, average: str | None = "binary", pos_label: Any = 1,
    labels: Any = None, zero_division: Any = 0.0, sample_weight: Any = None,
) -> Any:
    """F1 score, the harmonic mean of precision and recall, as sklearn's f1_score.

    >>> f1([0, 1, 1, 0], [0, 1, 0, 0])
    0.6666666666666666
    >>> f1(["a", "b", "c", "c"], ["a", "c", "c", "c"], average=None)
    array([1. , 0. , 0.8])
    """
    return _prf(y_true, y_pred, 1.0, average, pos_label, labels, zero_division, sample_weight, "f")


_NORMALIZE = (None, "true", "pred", "all")


def confusion_from_counts(
    classes: np.ndarray, cm: np.ndarray, labels: Any = None, normalize: str | None = None,
    true_labels: np.ndarray | None = None,
) -> np.ndarray:
    """The confusion matrix restricted/reordered to ``labels`` and optionally normalised.

    ``true_labels`` (the labels occurring in y_true, zero weight or not) decides whether
    ``labels`` names any true label; without it, the matrix's non-empty rows do.
    """
    if normalize not in _NORMALIZE:
        raise InvalidArgumentError(f"normalize must be one of {_NORMALIZE}; got {normalize!r}")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.size == 0:
            raise InvalidArgumentError(f"'labels' should contain at least one label; got {labels!r}")
        idx = label_index(classes, labels)
        if true_labels is None:
            true_present = cm.sum(axis=1) != 0
            found = any(i >= 0 and true_present[i] for i in idx.tolist())
        else:
            found = bool(np.isin(labels, true_labels).any())
        if not found:
            raise InvalidArgumentError("At least one label specified must be in y_true")
        out = np.zeros((len(labels), len(labels)), dtype=cm.dtype)
        # a repeated label counts in its last copy only (sklearn's {label: position} lookup)
        last = {v: i for i, v in enumerate(labels.tolist())}
        keep = np.array([last[v] == i for i, v in enumerate(labels.tolist())])
        pos = np.flatnonzero((idx >= 0) & keep)
        out[np.ix_(pos, pos)] = cm[np.ix_(idx[pos], idx[pos])]
        cm = out
    else:
        cm = cm.copy()
    if normalize is not None:
        with np.errstate(all="ignore"):
            if normalize == "true":
                cm = cm / cm.sum(axis=1, keepdims=True)
            elif normalize == "pred":
                cm = cm / cm.sum(axis=0, keepdims=True)
            else:
                cm = cm / cm.sum()
            cm = np.nan_to_num(cm)
    if cm.shape == (1, 1):
        warnings.warn(
            "A single label was found in 'y_true' and 'y_pred'. For the confusion matrix to "
            "have the correct shape, use the 'labels' parameter to pass all known labels.",
            UserWarning,
            stacklevel=3,
        )
    return cm


def confusion_matrix(
    y_true: Any, y_pred: Any, *, labels: Any = None, sample_weight: Any = None, normalize: str | None = None
) -> np.ndarray:
    """Counts C[i, j] of samples of class i predicted as j, as sklearn's confusion_matrix."""
    if normalize not in _NORMALIZE:
        raise InvalidArgumentError(f"normalize must be one of {_NORMALIZE}; got {normalize!r}")
    classes, cm = class_counts(y_true, y_pred, sample_weight)
    true_labels = None if sample_weight is None or labels is None else np.unique(as_labels(y_true, "y_true"))
    return confusion_from_counts(classes, cm, labels, normalize, true_labels)
