"""Score-based metrics: ROC AUC, ROC and precision-recall curves, average precision.

Results equal scikit-learn's (``roc_auc_score``, ``roc_curve``, ``precision_recall_curve``,
``average_precision_score``) to 1e-10. ROC AUC is computed from ranks: sort the positive and
the negative scores once and count, for each positive, the negatives below it (ties count
one half) — the Mann-Whitney statistic, which is exactly the trapezoidal area under
scikit-learn's ROC curve.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Callable

import numpy as np

from modelmgmt._validation import check_real, check_same_length
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.metrics._checks import as_labels, as_scores, as_weights, check_average

__all__ = [
    "roc_auc",
    "roc_curve",
    "precision_recall_curve",
    "average_precision",
    "unique_labels",
    "encode",
    "binary_auc",
    "default_pos_label",
    "curve_auc",
    "check_max_fpr",
    "average_classes",
    "average_pairs",
]


def unique_labels(y: np.ndarray) -> np.ndarray:
    """Sorted distinct labels of a 1-D array (a bincount for small non-negative ints)."""
    if y.dtype.kind in "iu" and y.size:
        lo, hi = int(y.min()), int(y.max())
        if lo >= 0 and hi <= max(4 * y.size, 1 << 16):
            return np.flatnonzero(np.bincount(y.astype(np.intp), minlength=hi + 1)).astype(y.dtype)
    return np.unique(y)


def encode(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct labels, index of each sample's label) — np.unique's return_inverse, faster for small ints."""
    classes = unique_labels(y)
    if y.dtype.kind in "iu" and classes.size and int(classes[0]) >= 0 and int(classes[-1]) <= max(4 * y.size, 1 << 16):
        lut = np.zeros(int(classes[-1]) + 1, dtype=np.intp)
        lut[classes] = np.arange(classes.size)
        return classes, lut[y]
    return classes, np.searchsorted(classes, y)


def binary_auc(pos: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Area under the ROC curve of a boolean target; NaN when one class is missing."""
    if weight is None:
        sp = np.sort(score[pos])
        sn = np.sort(score[~pos])
        n_pos, n_neg = sp.size, sn.size
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        lo = np.searchsorted(sn, sp, "left")
        hi = np.searchsorted(sn, sp, "right")
        # each positive beats `lo` negatives and ties with `hi - lo`: U = sum(lo + hi) / 2
        u = int(lo.sum(dtype=np.int64)) + int(hi.sum(dtype=np.int64))
        return float(u / (2.0 * n_pos * n_neg))
    w = weight.astype(np.float64, copy=False)
    keep = w != 0
    if not keep.all():
        pos, score, w = pos[keep], score[keep], w[keep]
    ip = np.argsort(score[pos])
    ineg = np.argsort(score[~pos])
    sp, wp = score[pos][ip], w[pos][ip]
    sn, wn = score[~pos][ineg], w[~pos][ineg]
    w_pos, w_neg = wp.sum(), wn.sum()
    if sp.size == 0 or sn.size == 0 or w_pos == 0 or w_neg == 0:
        return float("nan")
    cum = np.concatenate(([0.0], np.cumsum(wn)))
    below = cum[np.searchsorted(sn, sp, "left")]
    upto = cum[np.searchsorted(sn, sp, "right")]
    return float(np.dot(wp, below + upto) / (2.0 * w_pos * w_neg))


def default_pos_label(y_true: np.ndarray, pos_label: Any, *, largest_number: bool = False) -> Any:
    """sklearn's _check_pos_label_consistency: ``pos_label``, or 1 for labels {0, 1} / {-1, 1}.

    Other labels raise, unless ``largest_number`` (brier_score_loss's rule) picks the largest
    of numeric labels; string labels always need an explicit ``pos_label``.
    """
    if pos_label is not None:
        return pos_label
    classes = unique_labels(y_true)
    ok = classes.dtype.kind not in "OUS" and len(classes) <= 2 and any(
        np.array_equal(classes, np.array(allowed)) for allowed in ([0, 1], [-1, 1], [0], [-1], [1])
    )
    if ok:
        return 1
    if largest_number and classes.dtype.kind not in "OUS":
        return classes[-1]
    raise InvalidArgumentError(
        f"y_true takes value in {{{', '.join(map(repr, classes.tolist()))}}} and pos_label is not "
        "specified: either make y_true take value in {0, 1} or {-1, 1} or pass pos_label explicitly."
    )


def _binary_inputs(y_true: Any, y_score: Any, sample_weight: Any) -> tuple:
    yt = as_labels(y_true, "y_true")
    ys = as_scores(y_score)
    if ys.ndim != 1:
        raise InvalidArgumentError(f"y_score must be 1-D for a binary curve; got shape {ys.shape}")
    n = check_same_length(y_true=yt, y_score=ys)
    return yt, ys, as_weights(sample_weight, n)


def _clf_curve(pos: np.ndarray, score: np.ndarray, w: np.ndarray | None) -> tuple:
    """(fps, tps, thresholds) at each distinct score, descending, as sklearn computes them."""
    if w is not None:
        keep = w != 0
        pos, score, w = pos[keep], score[keep], w[keep]
    # tie order inside a run of equal scores does not change the curve (thresholds are read at
    # the end of each run), so the fast unstable sort is enough
    order = np.argsort(score)[::-1]
    score = score[order]
    y = pos[order].astype(np.float64)
    change = np.empty(score.size, dtype=bool)
    np.not_equal(score[1:], score[:-1], out=change[:-1])
    change[-1] = True
    idx = np.flatnonzero(change)
    if w is None:
        tps = np.cumsum(y)[idx]
        fps = 1 + idx.astype(np.float64) - tps
    else:
        w = w[order].astype(np.float64)
        tps = np.cumsum(y * w)[idx]
        fps = np.cumsum((1 - y) * w)[idx]
    return fps, tps, score[idx]


def _roc_points(pos: np.ndarray, score: np.ndarray, w: np.ndarray | None, drop_intermediate: bool, stacklevel: int) -> tuple:
    """(fpr, tpr, thresholds) of a boolean target, as sklearn's roc_curve computes them."""
    fps, tps, thresholds = _clf_curve(pos, score, w)
    if drop_intermediate and fps.shape[0] > 2:
        keep = np.concatenate(([True], np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), [True]))
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    tps = np.concatenate(([0.0], tps))
    fps = np.concatenate(([0.0], fps))
    thresholds = np.concatenate(([np.inf], thresholds.astype(np.float64)))
    if fps[-1] <= 0:
        warnings.warn("No negative samples in y_true, false positive value should be meaningless", UserWarning, stacklevel=stacklevel)
        fpr = np.full(fps.shape, np.nan)
    else:
        fpr = fps / fps[-1]
    if tps[-1] <= 0:
        warnings.warn("No positive samples in y_true, true positive value should be meaningless", UserWarning, stacklevel=stacklevel)
        tpr = np.full(tps.shape, np.nan)
    else:
        tpr = tps / tps[-1]
    return fpr, tpr, thresholds


def roc_curve(
    y_true: Any, y_score: Any, *, pos_label: Any = None, sample_weight: Any = None, drop_intermediate: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) of a binary ROC curve, as sklearn's roc_curve."""
    yt, ys, w = _binary_inputs(y_true, y_score, sample_weight)
    pos_label = default_pos_label(yt, pos_label)
    return _roc_points(yt == pos_label, ys, w, drop_intermediate, 4)


def _trapezoid(x: np.ndarray, y: np.ndarray) -> float:
    """sklearn's auc(): trapezoidal area; x must be monotone (NaN passes through)."""
    if x.shape[0] < 2:
        raise InvalidArgumentError(f"At least 2 points are needed to compute area under curve, but x.shape = {x.shape}")
    direction = 1
    dx = np.diff(x)
    if np.any(dx < 0):
        if np.all(dx <= 0):
            direction = -1
        else:
            raise InvalidArgumentError(f"x is neither increasing nor decreasing : {x}.")
    return float(direction * np.trapezoid(y, x))


def curve_auc(pos: np.ndarray, score: np.ndarray, w: np.ndarray | None, max_fpr: float | None = None) -> float:
    """Area under sklearn's ROC curve, standardised (McClish) when ``max_fpr`` < 1.

    The slower path that :func:`binary_auc` avoids; taken for a partial AUC and for negative
    sample weights, where the curve (and so sklearn's answer: NaN or an error) is not monotone.
    """
    fpr, tpr, _ = _roc_points(pos, score, w, True, 5)
    if max_fpr is None or max_fpr == 1:
        return _trapezoid(fpr, tpr)
    stop = np.searchsorted(fpr, max_fpr, "right")
    x_interp = [fpr[stop - 1], fpr[stop]]
    y_interp = [tpr[stop - 1], tpr[stop]]
    tpr = np.append(tpr[:stop], np.interp(max_fpr, x_interp, y_interp))
    fpr = np.append(fpr[:stop], max_fpr)
    partial = _trapezoid(fpr, tpr)
    min_area = 0.5 * max_fpr**2
    return float(0.5 * (1 + (partial - min_area) / (max_fpr - min_area)))


def check_max_fpr(max_fpr: Any) -> float | None:
    """None, or a float in (0, 1]."""
    if max_fpr is None:
        return None
    return check_real(max_fpr, "max_fpr", min=0.0, max=1.0, min_open=True)


def _auc_of(pos: np.ndarray, score: np.ndarray, w: np.ndarray | None, max_fpr: float | None = None) -> float:
    """Binary AUC: the rank formula, or sklearn's curve when partial or with negative weights."""
    if (max_fpr is not None and max_fpr != 1) or (w is not None and w.dtype.kind != "u" and (w < 0).any()):
        if not pos.any() or pos.all():
            return float("nan")
        return curve_auc(pos, score, w, max_fpr)
    return binary_auc(pos, score, w)


def average_classes(values: np.ndarray, average: Any, support: np.ndarray | None) -> Any:
    """sklearn's _average_binary_score tail: per-class values (k,) or (k, m) -> their average.

    ``average=None`` returns the values; "weighted" weighs by ``support`` and forces a
    zero-support class to 0 (so its NaN cannot spoil the average); all-zero support gives 0.
    """
    if average is None:
        return values
    if average == "weighted":
        if np.isclose(support.sum(), 0):
            return 0
        values = np.array(values, dtype=np.float64, copy=True)
        values[support == 0] = 0
        return np.average(values, axis=0, weights=support)
    return np.average(values, axis=0)


def average_pairs(pair_auc: Callable[[int, int], Any], counts: np.ndarray, average: Any) -> Any:
    """sklearn's one-vs-one AUC: mean of (AUC(a|b) + AUC(b|a)) / 2 over pairs of present classes.

    ``pair_auc(a, b)`` is the AUC of class a against class b on column a; ``counts`` holds the
    number of samples of each class; "weighted" weighs a pair by its prevalence.
    """
    present = np.flatnonzero(counts > 0).tolist()
    values, prevalence = [], []
    for a, b in itertools.combinations(present, 2):
        values.append((np.asarray(pair_auc(a, b)) + np.asarray(pair_auc(b, a))) / 2)
        prevalence.append((counts[a] + counts[b]) / counts.sum())
    weights = np.array(prevalence) if average == "weighted" else None
    return np.average(np.array(values), axis=0, weights=weights)


def precision_recall_curve(
    y_true: Any, y_score: Any, *, pos_label: Any = None, sample_weight: Any = None, drop_intermediate: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) of a binary classifier, as sklearn's precision_recall_curve."""
    yt, ys, w = _binary_inputs(y_true, y_score, sample_weight)
    pos_label = default_pos_label(yt, pos_label)
    return _pr_curve(yt == pos_label, ys, w, drop_intermediate)


def _pr_curve(pos: np.ndarray, score: np.ndarray, w: np.ndarray | None, drop_intermediate: bool = False) -> tuple:
    fps, tps, thresholds = _clf_curve(pos, score, w)
    if drop_intermediate and fps.shape[0] > 2:
        keep = np.concatenate(([True], np.logical_or(np.diff(tps[:-1]), np.diff(tps[1:])), [True]))
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    ps = tps + fps
    precision = np.divide(tps, ps, out=np.zeros_like(tps), where=ps != 0)
    if tps[-1] == 0:
        warnings.warn("No positive class found in y_true, recall is set to one for all thresholds.", UserWarning, stacklevel=3)
        recall = np.ones_like(tps)
    else:
        recall = tps / tps[-1]
    return (
        np.concatenate((precision[::-1], [1.0])),
        np.concatenate((recall[::-1], [0.0])),
        thresholds[::-1],
    )


def _binary_ap(pos: np.ndarray, score: np.ndarray, w: np.ndarray | None) -> float:
    fps, tps, _ = _clf_curve(pos, score, w)
    if tps[-1] == 0:  # no positives: sklearn's recall-is-one convention, with its warning
        precision, recall, _ = _pr_curve(pos, score, w)
        return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))
    # sum over thresholds of (recall_t - recall_{t-1}) * precision_t, as sklearn's step integral
    recall = tps / tps[-1]
    step = np.empty_like(recall)
    step[0] = recall[0]
    np.subtract(recall[1:], recall[:-1], out=step[1:])
    return float(max(0.0, np.dot(step, tps / (tps + fps))))


def _one_vs_rest(metric, onehot: np.ndarray, score: np.ndarray, average: Any, w: np.ndarray | None) -> Any:
    """sklearn's _average_binary_score for an (n, k) indicator target."""
    if average == "micro":
        ww = None if w is None else np.repeat(w, onehot.shape[1])
        return float(metric(onehot.ravel(), score.ravel(), ww))
    support = None
    if average == "weighted":
        support = onehot.sum(axis=0) if w is None else (onehot * w[:, None]).sum(axis=0)
        if np.isclose(support.sum(), 0):
            return 0
    values = np.array([metric(onehot[:, c], score[:, c], w) for c in range(onehot.shape[1])])
    out = average_classes(values, average, support)
    return out if average is None else float(out)


def _ovr_auc(pos: np.ndarray, score: np.ndarray, w: np.ndarray | None) -> float:
    value = _auc_of(pos, score, w)
    if np.isnan(value):
        warnings.warn("Only one class is present in y_true. ROC AUC score is not defined in that case.", UserWarning, stacklevel=4)
    return value


def roc_auc(
    y_true: Any,
    y_score: Any,
    *,
    average: str | None = "macro",
    sample_weight: Any = None,
    max_fpr: float | None = None,
    multi_class: str = "ovr",
    labels: Any = None,
) -> Any:
    """Area under the ROC curve, as sklearn's roc_auc_score (binary; multiclass "ovr"/"ovo").

    Binary scores are the positive (larger) label's scores, 1-D, or an (n, 2) probability array
    whose second column is used. ``max_fpr`` gives sklearn's standardised partial AUC over
    [0, max_fpr] (binary only). Unlike sklearn (which warns and returns NaN), a y_true holding
    one class only raises ValueError. Multiclass input is one-vs-rest unless ``multi_class``
    says "ovo" (sklearn's default "raise" is accepted and refuses multiclass input).
    """
    check_average(average, ("micro", "macro", "weighted", None))
    if multi_class not in ("raise", "ovr", "ovo"):
        raise InvalidArgumentError(f"multi_class must be 'raise', 'ovr' or 'ovo'; got {multi_class!r}")
    max_fpr = check_max_fpr(max_fpr)
    yt = as_labels(y_true, "y_true")
    ys = as_scores(y_score)
    n = check_same_length(y_true=yt, y_score=ys)
    w = as_weights(sample_weight, n)
    classes = unique_labels(yt)
    if len(classes) < 2:
        raise InvalidArgumentError(
            f"Only one class is present in y_true ({classes.tolist()}); ROC AUC needs both classes"
        )
    if len(classes) == 2 and (ys.ndim == 1 or ys.shape[1] == 2):
        score = ys if ys.ndim == 1 else ys[:, 1]
        return _auc_of(yt == classes[1], score, w, max_fpr)
    if max_fpr is not None and max_fpr != 1.0:
        raise InvalidArgumentError(
            "Partial AUC computation not available in multiclass setting, 'max_fpr' must be set "
            f"to `None`, received `max_fpr={max_fpr}` instead"
        )
    return _multiclass_auc(yt, ys, classes, w, average, multi_class, labels)


def check_multiclass_labels(classes: np.ndarray, labels: Any, n_columns: int) -> np.ndarray:
    """The classes the score columns stand for (``labels`` checked as sklearn checks them)."""
    if labels is None:
        if len(classes) != n_columns:
            raise InvalidArgumentError(
                f"Number of classes in y_true ({len(classes)}) not equal to the number of columns in 'y_score' ({n_columns})"
            )
        return classes
    lab = np.asarray(labels).ravel()
    uniq = np.unique(lab)
    if len(uniq) != len(lab):
        raise InvalidArgumentError("Parameter 'labels' must be unique")
    if not np.array_equal(uniq, lab):
        raise InvalidArgumentError("Parameter 'labels' must be ordered")
    if len(lab) != n_columns:
        raise InvalidArgumentError(
            f"Number of given labels, {len(lab)}, not equal to the number of columns in 'y_score', {n_columns}"
        )
    if len(np.setdiff1d(classes, lab)):
        raise InvalidArgumentError("'y_true' contains labels not in parameter 'labels'")
    return lab


def check_multiclass_options(average: Any, multi_class: str, weighted: bool) -> None:
    """Refuse the multiclass combinations sklearn refuses."""
    if multi_class == "raise":
        raise InvalidArgumentError("y_true is multiclass: multi_class must be 'ovr' or 'ovo' (got 'raise')")
    if multi_class == "ovo":
        if average == "micro":
            raise InvalidArgumentError("average must be one of ('macro', 'weighted', None) for multiclass problems")
        if average is None:
            raise NotImplementedError("average=None is not implemented for multi_class='ovo'.")
        if weighted:
            raise InvalidArgumentError("sample_weight is not supported for multiclass one-vs-one ROC AUC")


def _multiclass_auc(yt, ys, classes, w, average, multi_class, labels) -> Any:
    check_multiclass_options(average, multi_class, False)
    if ys.ndim != 2:
        raise InvalidArgumentError(f"multiclass roc_auc needs y_score of shape (n_samples, n_classes); got {ys.shape}")
    if not np.allclose(1, ys.sum(axis=1)):
        raise InvalidArgumentError(
            "Target scores need to be probabilities for multiclass roc_auc, i.e. they should sum up to 1.0 over classes"
        )
    classes = check_multiclass_labels(classes, labels, ys.shape[1])
    enc = np.searchsorted(classes, yt)
    if multi_class == "ovo":
        check_multiclass_options(average, multi_class, w is not None)

        def pair_auc(a: int, b: int) -> float:
            ab = (enc == a) | (enc == b)
            return binary_auc(enc[ab] == a, ys[ab, a])

        return average_pairs(pair_auc, np.bincount(enc, minlength=len(classes)), average)
    onehot = enc[:, None] == np.arange(len(classes))[None, :]
    return _one_vs_rest(_ovr_auc, onehot, ys, average, w)


def average_precision(
    y_true: Any, y_score: Any, *, average: str | None = "macro", pos_label: Any = 1, sample_weight: Any = None
) -> Any:
    """Average precision (area under the step PR curve), as sklearn's average_precision_score.

    Binary scores may also be an (n, 2) probability array (second column used).
    """
    check_average(average, ("micro", "macro", "weighted", None))
    yt = as_labels(y_true, "y_true")
    ys = as_scores(y_score)
    n = check_same_length(y_true=yt, y_score=ys)
    w = as_weights(sample_weight, n)
    classes = unique_labels(yt)
    if len(classes) <= 2:
        if len(classes) == 2 and pos_label not in classes.tolist():
            raise InvalidArgumentError(f"pos_label={pos_label!r} is not a valid label. It should be one of {classes.tolist()}")
        if ys.ndim == 2:
            if ys.shape[1] != 2:
                raise InvalidArgumentError(f"binary y_true needs 1-D scores (or (n, 2) probabilities); got shape {ys.shape}")
            ys = ys[:, 1]
        return _binary_ap(yt == pos_label, ys, w)
    if pos_label != 1:
        raise InvalidArgumentError("Parameter pos_label is fixed to 1 for multiclass y_true. Do not set pos_label or set pos_label to 1.")
    if ys.shape != (n, len(classes)):
        raise InvalidArgumentError(
            "`y_score` needs to be of shape `(n_samples, n_classes)`, since `y_true` contains "
            f"multiple classes. Got `y_score.shape={ys.shape}`."
        )
    onehot = np.searchsorted(classes, yt)[:, None] == np.arange(len(classes))[None, :]
    return _one_vs_rest(_binary_ap, onehot, ys, average, w)
