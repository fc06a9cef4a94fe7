"""Cheap input checks and label encoding shared by the metric functions and classes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelmgmt._validation import as_1d, check_same_length
from modelmgmt.errors import InvalidArgumentError

__all__ = [
    "AVERAGES",
    "check_average",
    "check_zero_division",
    "as_labels",
    "as_weights",
    "as_scores",
    "check_label_pair",
    "class_counts",
    "merge_counts",
    "label_kind",
]

#: the averages the counting metrics accept (None gives one value per class)
AVERAGES = ("binary", "micro", "macro", "weighted", None)


def check_average(average: Any, allowed: tuple = AVERAGES) -> None:
    """Raise ValueError unless ``average`` is one of ``allowed``."""
    if not any(average is a or (isinstance(average, str) and average == a) for a in allowed):
        raise InvalidArgumentError(f"average must be one of {allowed}; got {average!r}")


def check_zero_division(zero_division: Any) -> float:
    """Return the value a 0/0 precision/recall/F takes: 0.0, 1.0 or NaN ("warn" means 0.0)."""
    if isinstance(zero_division, str):
        if zero_division == "warn":
            return 0.0
        if zero_division == "nan":
            return math.nan
    elif isinstance(zero_division, (int, float, np.number)) and not isinstance(zero_division, bool):
        if math.isnan(zero_division):
            return math.nan
        if zero_division in (0, 1):
            return float(zero_division)
    raise InvalidArgumentError(f"zero_division must be 0.0, 1.0, np.nan or 'warn'; got {zero_division!r}")


def label_kind(a: np.ndarray) -> str:
    """'str' for string labels, 'num' for numbers (bool included)."""
    if a.dtype.kind in "USO":
        if a.dtype.kind == "O" and a.size:
            kinds = {isinstance(v, str) for v in a[: min(a.size, 1000)].tolist()}
            if len(kinds) > 1:
                raise InvalidArgumentError("Mix of label input types (string and number) in one array")
            return "str" if kinds.pop() else "num"
        return "str"
    return "num"


def as_labels(y: Any, name: str) -> np.ndarray:
    """Return class labels as a 1-D array; continuous (non-integer float) values raise ValueError."""
    a = as_1d(y, name)
    if a.dtype.kind == "f" and np.any(a != np.trunc(a)):
        raise InvalidArgumentError(
            f"{name} must hold class labels (integers or strings); got continuous float values "
            f"such as {a[a != np.trunc(a)][0]!r}"
        )
    if a.dtype.kind == "c":
        raise InvalidArgumentError(f"{name} must hold class labels; got complex values")
    return a


def as_weights(sample_weight: Any, n: int, allow_all_zero: bool = False) -> np.ndarray | None:
    """Return sample weights as a 1-D float/int array of length n, or None.

    All-zero weights are refused (sklearn refuses them too) unless ``allow_all_zero``: one
    batch of a stateful metric may weigh nothing; the metric's total is checked at compute.
    """
    if sample_weight is None:
        return None
    w = as_1d(sample_weight, "sample_weight")
    if w.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"sample_weight must be numeric; got dtype {w.dtype}")
    if len(w) != n:
        raise InvalidArgumentError(f"sample_weight must have one weight per sample ({n}); got {len(w)}")
    if not allow_all_zero and not np.any(w):
        raise InvalidArgumentError("Sample weights must contain at least one non-zero number; got all zeros")
    if w.dtype.kind == "b":  # a True weighs one sample (a bool dot product would OR them)
        w = w.astype(np.int64)
    return w


def as_scores(y_score: Any, name: str = "y_score") -> np.ndarray:
    """Return scores as a finite float array (1-D or 2-D)."""
    a = np.asarray(y_score)
    if a.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"{name} must be numeric; got dtype {a.dtype}")
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a.ravel()
    if a.ndim not in (1, 2):
        raise InvalidArgumentError(f"{name} must be 1-D or 2-D; got shape {a.shape}")
    if a.shape[0] == 0:
        raise InvalidArgumentError(f"{name} must not be empty")
    if not np.isfinite(a).all():
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))
        raise InvalidArgumentError(f"{name} must be finite; it contains {bad} NaN or infinite value(s)")
    return a


def _union_dtype(a: np.ndarray, b: np.ndarray) -> np.dtype:
    if a.dtype == b.dtype:
        return a.dtype
    return np.result_type(a.dtype, b.dtype)


def check_label_pair(
    y_true: Any, y_pred: Any, sample_weight: Any = None, allow_all_zero: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(y_true, y_pred, weights) as arrays: same length, both strings or both numbers."""
    yt = as_labels(y_true, "y_true")
    yp = as_labels(y_pred, "y_pred")
    n = check_same_length(y_true=yt, y_pred=yp)
    w = as_weights(sample_weight, n, allow_all_zero)
    if label_kind(yt) != label_kind(yp):
        raise InvalidArgumentError(
            "Mix of label input types (string and number): y_true has dtype "
            f"{yt.dtype}, y_pred has dtype {yp.dtype}"
        )
    return yt, yp, w


def class_counts(
    y_true: Any, y_pred: Any, sample_weight: Any = None, allow_all_zero: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a label pair; return (sorted classes seen in either, confusion matrix over them).

    The matrix is int64 without weights and float64 with float weights. This is the sufficient
    statistic of every counting metric.
    """
    yt, yp, w = check_label_pair(y_true, y_pred, sample_weight, allow_all_zero)
    n = len(yt)
    wdtype = np.int64 if w is None or w.dtype.kind in "biu" else np.float64
    if yt.dtype.kind in "biu" and yp.dtype.kind in "biu":
        lo = min(int(yt.min()), int(yp.min()))
        hi = max(int(yt.max()), int(yp.max()))
        k = hi + 1
        if lo >= 0 and k * k <= max(4 * n, 1 << 16):
            idx = yt.astype(np.intp, copy=False) * k
            idx += yp.astype(np.intp, copy=False)
            counts = np.bincount(idx, weights=w, minlength=k * k).reshape(k, k)
            if w is None:
                present = counts.any(axis=0) | counts.any(axis=1)
            else:
                present = (np.bincount(yt.astype(np.intp), minlength=k) > 0) | (
                    np.bincount(yp.astype(np.intp), minlength=k) > 0
                )
            cls = np.flatnonzero(present)
            cm = counts[np.ix_(cls, cls)] if len(cls) < k else counts
            return cls.astype(_union_dtype(yt, yp)), cm.astype(wdtype, copy=False)
    try:
        both = np.concatenate([yt, yp])
        classes, inv = np.unique(both, return_inverse=True)
    except TypeError as exc:
        raise InvalidArgumentError(f"labels must be mutually comparable (all strings or all numbers): {exc}") from None
    inv = inv.reshape(-1)
    k = len(classes)
    idx = inv[:n] * k + inv[n:]
    cm = np.bincount(idx, weights=w, minlength=k * k).reshape(k, k)
    return classes, cm.astype(wdtype, copy=False)


def merge_counts(
    classes_a: np.ndarray | None, cm_a: np.ndarray | None, classes_b: np.ndarray, cm_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Add two confusion matrices over possibly different label sets; return (classes, cm)."""
    if classes_a is None or cm_a is None:
        return classes_b, cm_b.copy()
    if len(classes_a) and len(classes_b) and label_kind(classes_a) != label_kind(classes_b):
        words = {"str": "strings", "num": "numbers"}
        raise InvalidArgumentError(
            f"labels of this batch are {words[label_kind(classes_b)]} but earlier batches held "
            f"{words[label_kind(classes_a)]}; a metric needs one label type"
        )
    dtype = np.result_type(cm_a.dtype, cm_b.dtype)
    if len(classes_a) == len(classes_b) and np.array_equal(classes_a, classes_b):
        return classes_a, cm_a.astype(dtype, copy=False) + cm_b
    try:
        union = np.union1d(classes_a, classes_b)
    except TypeError as exc:
        raise InvalidArgumentError(f"labels must be mutually comparable: {exc}") from None
    cm = np.zeros((len(union), len(union)), dtype=dtype)
    ia = np.searchsorted(union, classes_a)
    ib = np.searchsorted(union, classes_b)
    cm[np.ix_(ia, ia)] += cm_a
    cm[np.ix_(ib, ib)] += cm_b
    return union, cm
