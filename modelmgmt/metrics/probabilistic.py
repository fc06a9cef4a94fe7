"""Log loss (cross-entropy) of predicted class probabilities, as scikit-learn computes it.

Probabilities are clipped to ``[eps, 1 - eps]`` with ``eps`` the machine epsilon of their
dtype, and the loss is computed in that dtype (float16, float32 or float64, as scikit-learn); values above 1 or below 0 raise ValueError; rows that do not sum to one give a
``UserWarning`` (scikit-learn 1.9 behaviour) and are used as they are.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from modelmgmt._validation import check_same_length
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.metrics._checks import as_labels, as_weights
from modelmgmt.metrics.ranking import default_pos_label, encode, unique_labels

__all__ = ["log_loss", "brier_score_loss", "as_probabilities", "log_loss_classes", "true_class_losses"]


def _checked_range(p: np.ndarray, name: str) -> np.ndarray:
    """A non-empty 1-D/2-D float array (float16/32/64 kept: losses are computed in that dtype) in [0, 1]."""
    if p.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"{name} must hold numeric probabilities; got dtype {p.dtype}")
    if p.dtype.kind != "f" or p.dtype.itemsize > 8:
        p = p.astype(np.float64)
    if p.ndim not in (1, 2) or p.shape[0] == 0:
        raise InvalidArgumentError(f"{name} must be a non-empty 1-D or 2-D array of probabilities; got shape {p.shape}")
    if not np.isfinite(p).all():
        raise InvalidArgumentError(f"{name} must be finite; it contains NaN or infinite values")
    if p.max() > 1:
        raise InvalidArgumentError(f"y_prob contains values greater than 1: {p.max()}")
    if p.min() < 0:
        raise InvalidArgumentError(f"y_prob contains values lower than 0: {p.min()}")
    return p


def as_probabilities(y_pred: Any) -> np.ndarray:
    """Validate predicted probabilities; return them as an (n, k) float array (1-D p → [1-p, p])."""
    p = _checked_range(np.asarray(y_pred), "y_pred")
    if p.ndim == 1:
        p = p[:, None]
    if p.shape[1] == 1:
        p = np.concatenate([1 - p, p], axis=1)
    eps = np.finfo(p.dtype).eps
    # np.isclose(sums, 1, rtol=sqrt(eps)) without its overhead: |s - 1| <= atol + rtol * 1
    if not (np.abs(p.sum(axis=1) - 1) <= 1e-8 + math.sqrt(eps)).all():
        warnings.warn("The y_prob values do not sum to one. Make sure to pass probabilities.", UserWarning, stacklevel=3)
    return p


def log_loss_classes(seen: np.ndarray, labels: Any, n_columns: int) -> np.ndarray:
    """The classes the probability columns stand for (sorted labels, or the labels seen in y_true)."""
    if labels is not None:
        classes = np.unique(np.asarray(labels))
        if len(classes) != len(np.asarray(labels)) or not np.array_equal(classes, np.asarray(labels)):
            warnings.warn(
                f"Labels passed were {list(np.asarray(labels).tolist())}. But this function assumes labels are "
                f"ordered lexicographically. Pass the ordered labels={classes.tolist()} and ensure that the "
                "columns of y_prob correspond to this ordering.",
                UserWarning,
                stacklevel=3,
            )
        extra = np.setdiff1d(seen, classes)
        if len(extra):
            raise InvalidArgumentError(f"y_true contains values {set(extra.tolist())} not belonging to the passed labels {classes.tolist()}.")
    else:
        classes = seen
    if len(classes) == 1:
        if labels is None:
            raise InvalidArgumentError(
                f"y_true contains only one label ({classes[0]!r}). Please provide the list of all "
                "expected class labels explicitly through the labels argument."
            )
        raise InvalidArgumentError(f"The labels array needs to contain at least two labels, got {classes.tolist()}.")
    if len(classes) != n_columns:
        if labels is None:
            raise InvalidArgumentError(
                f"y_true and y_prob contain different number of classes: {len(classes)} vs {n_columns}. Please "
                f"provide the true labels explicitly through the labels argument. Classes found in y_true: {classes.tolist()}"
            )
        raise InvalidArgumentError(
            f"The number of classes in labels is different from that in y_prob. Classes found in labels: {classes.tolist()}"
        )
    return classes


def true_class_losses(p: np.ndarray, column: np.ndarray) -> np.ndarray:
    """-log of the clipped probability each sample gave its true class."""
    eps = np.finfo(p.dtype).eps
    picked = p[np.arange(p.shape[0]), column]
    return -np.log(np.clip(picked, eps, 1 - eps))


def log_loss(
    y_true: Any, y_pred: Any, *, normalize: bool = True, sample_weight: Any = None, labels: Any = None
) -> float:
    """Mean negative log-likelihood of the true labels, as sklearn's log_loss."""
    p = as_probabilities(y_pred)
    yt = as_labels(y_true, "y_true")
    n = check_same_length(y_true=yt, y_pred=p)
    w = as_weights(sample_weight, n)
    seen, inv = encode(yt)
    classes = log_loss_classes(seen, labels, p.shape[1])
    column = inv if classes is seen else np.searchsorted(classes, seen)[inv]
    loss = true_class_losses(p, column)
    if normalize:
        return float(np.average(loss, weights=w))
    return float(np.sum(loss) if w is None else np.dot(loss, w))


def _binary_pos_label(yt: np.ndarray, pos_label: Any) -> Any:
    """brier_score_loss's positive label: at most two classes; the default of :func:`default_pos_label`."""
    if len(unique_labels(yt)) > 2:
        raise InvalidArgumentError(
            "The type of the target inferred from y_true is multiclass but should be binary according "
            "to the shape of y_prob."
        )
    return default_pos_label(yt, pos_label, largest_number=True)


def brier_score_loss(
    y_true: Any,
    y_proba: Any,
    *,
    sample_weight: Any = None,
    pos_label: Any = None,
    labels: Any = None,
    scale_by_half: Any = "auto",
) -> float:
    """Mean squared difference between predicted probabilities and the one-hot outcome, as sklearn's.

    A 1-D ``y_proba`` is the probability of ``pos_label`` (default: 1 for {0, 1} or {-1, 1}
    targets, else the larger label); an (n, k) array has one column per sorted label.
    ``scale_by_half="auto"`` halves the score for two columns or fewer (range [0, 1]).
    """
    if not (isinstance(scale_by_half, str) and scale_by_half == "auto") and not isinstance(scale_by_half, (bool, np.bool_)):
        raise InvalidArgumentError(f"scale_by_half must be True, False or 'auto'; got {scale_by_half!r}")
    p = np.asarray(y_proba)
    yt = as_labels(y_true, "y_true")
    if p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1):
        p = _checked_range(p.reshape(-1), "y_proba")
        n = check_same_length(y_true=yt, y_proba=p)
        w = as_weights(sample_weight, n)
        positive = (yt == _binary_pos_label(yt, pos_label)).astype(p.dtype)
        # sklearn's two columns (1 - p, p), so rounding in float32/float16 is the same
        row = ((1 - positive) - (1 - p)) ** 2 + (positive - p) ** 2
        halve = True
    else:
        p = as_probabilities(p)
        n = check_same_length(y_true=yt, y_proba=p)
        w = as_weights(sample_weight, n)
        seen, inv = encode(yt)
        classes = log_loss_classes(seen, labels, p.shape[1])
        column = inv if classes is seen else np.searchsorted(classes, seen)[inv]
        onehot = np.zeros(p.shape, dtype=p.dtype)
        onehot[np.arange(n), column] = 1
        row = ((onehot - p) ** 2).sum(axis=1)
        halve = p.shape[1] < 3
    score = np.average(row, weights=w)
    if scale_by_half is True or (isinstance(scale_by_half, str) and halve):
        score = score * 0.5
    return float(score)
