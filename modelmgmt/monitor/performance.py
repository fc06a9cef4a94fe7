"""Live model performance from labels, and its estimate without labels (CBPE).

Both are mergeable states of sufficient statistics, like the feature sketches: the state
of two sets of rows is the sum of their states.

- :class:`LabelState`: classification — counts of (true, predicted) label pairs, and for
  roc_auc the (label, score) rows while the monitor keeps rows, else per-label score
  histograms of ``SCORE_BINS`` bins; regression — count, error sums and the labels' mean
  and sum of squared deviations (Chan's merge).
- :class:`CBPEState`: confidence-based performance estimation (NannyML's CBPE). With
  calibrated probabilities p, the expected confusion matrix of a batch without labels is
  known: a row predicted as class c is right with probability p_c. Per class the state
  keeps the expected true positives, the predicted count, the expected support, and a
  histogram of p_c (count and sum of p_c per bin) for the expected ROC curve.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from typing import Any

import attrs
import numpy as np

from modelmgmt import metrics as _metrics
from modelmgmt.errors import CBPEWarning, InvalidArgumentError

__all__ = ["LabelState", "CBPEState", "CBPEWarning", "SCORE_BINS", "calibration_check",
           "score_columns", "predicted_columns", "isotonic_fit", "Calibrator"]

#: bins of the score histograms (realised roc_auc past the kept rows, CBPE's roc_auc)
SCORE_BINS = 1000
_CENTRES = (np.arange(SCORE_BINS) + 0.5) / SCORE_BINS


def score_columns(y_score: np.ndarray) -> np.ndarray:
    """Scores as an (n, k) probability array: a 1-D positive-class score p becomes [1-p, p]."""
    if y_score.ndim == 1:
        return np.column_stack([1.0 - y_score, y_score])
    return y_score


def predicted_columns(y_pred: np.ndarray | None, p: np.ndarray) -> np.ndarray:
    """The predicted class of each row as a column of ``p`` ((n, k), or a 1-D positive-class
    score): ``y_pred`` when it holds column indices (0/1 for a binary score), else the most
    probable column."""
    k = 2 if p.ndim == 1 else p.shape[1]
    if y_pred is not None and y_pred.dtype.kind in "biuf":
        whole = y_pred.dtype.kind != "f" or bool(np.array_equal(y_pred, np.round(y_pred)))
        col = y_pred.astype(np.int64)
        if whole and (col.size == 0 or (col.min() >= 0 and col.max() < k)):
            return col
    return (p > 0.5).astype(np.int64) if p.ndim == 1 else np.argmax(p, axis=1)


def _bins(p: np.ndarray) -> np.ndarray:
    return np.minimum((p * SCORE_BINS).astype(np.intp), SCORE_BINS - 1)


def _hist_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC of two score histograms over the same bins (ties within a bin count half)."""
    if pos.sum() <= 0 or neg.sum() <= 0:
        return math.nan
    y = np.concatenate([np.ones(SCORE_BINS), np.zeros(SCORE_BINS)])
    s = np.concatenate([_CENTRES, _CENTRES])
    w = np.concatenate([pos, neg]).astype(np.float64)
    return float(_metrics.roc_auc(y, s, sample_weight=w))


# --------------------------------------------------------------------------- realised


@attrs.define(eq=False)
class LabelState:
    """Sufficient statistics of labelled rows: pairs of labels, scores, regression errors."""

    task: str | None = None
    pairs: dict = attrs.field(factory=dict)  # (true, pred) -> count
    n_pred: int = 0
    scored: list | None = attrs.field(factory=list)  # [(y_true, y_score), ...] while kept
    n_scored: int = 0
    hist: dict = attrs.field(factory=dict)  # label -> (k, SCORE_BINS) counts
    reg: np.ndarray = attrs.field(factory=lambda: np.zeros(5))  # n, sse, sae, mean_y, m2_y

    @classmethod
    def of_batch(cls, task: str, y_true: np.ndarray, y_pred: np.ndarray | None,
                 y_score: np.ndarray | None, keep: bool) -> "LabelState":
        """The state of one labelled batch; ``keep`` keeps the scored rows (exact roc_auc)."""
        st = cls(task=task)
        if task == "regression":
            if y_pred is not None:
                yt, yp = y_true.astype(np.float64), y_pred.astype(np.float64)
                e = yt - yp
                mean = float(yt.mean())
                st.reg = np.array([len(yt), float(e @ e), float(np.abs(e).sum()), mean,
                                   float(((yt - mean) ** 2).sum())])
            return st
        if y_pred is not None:
            st.pairs = _pair_counts(y_true, y_pred)
            st.n_pred = len(y_true)
        if y_score is not None:
            p = score_columns(y_score)
            idx = _bins(p)
            labels, inv = _labels_inverse(y_true)
            for i, lab in enumerate(labels):
                rows = idx[inv == i]
                h = np.zeros((p.shape[1], SCORE_BINS), dtype=np.int64)
                for c in range(p.shape[1]):
                    h[c] = np.bincount(rows[:, c], minlength=SCORE_BINS)
                st.hist[lab] = h
            st.n_scored = len(y_true)
            st.scored = [(y_true, y_score)] if keep else None
        return st

    def merge(self, other: "LabelState", keep_rows: int) -> "LabelState":
        """Add ``other``'s rows in place; scored rows stay kept while at most ``keep_rows``."""
        if other.task is None:
            return self
        if self.task is None:
            self.task = other.task
        elif other.task != self.task:
            raise InvalidArgumentError(f"cannot merge {other.task} labels into {self.task} labels")
        for k, c in other.pairs.items():
            self.pairs[k] = self.pairs.get(k, 0) + c
        self.n_pred += other.n_pred
        for lab, h in other.hist.items():
            mine = self.hist.get(lab)
            if mine is not None and mine.shape != h.shape:
                raise InvalidArgumentError(f"y_score has {h.shape[0]} columns here and {mine.shape[0]} before")
            self.hist[lab] = h.copy() if mine is None else mine + h
        total = self.n_scored + other.n_scored
        if self.scored is not None and other.scored is not None and total <= keep_rows:
            self.scored = self.scored + other.scored
        else:
            self.scored = None
        self.n_scored = total
        self.reg = _merge_moments(self.reg, other.reg)
        return self

    def performance(self, average: str | None) -> dict[str, float]:
        """accuracy/precision/recall/f1 (+ roc_auc with scores), or mse/rmse/mae/r2."""
        out: dict[str, float] = {}
        if self.task == "regression":
            n, sse, sae, _, m2 = self.reg.tolist()
            if n:
                out = {"mse": sse / n, "rmse": math.sqrt(sse / n), "mae": sae / n,
                       "r2": (1.0 - sse / m2) if m2 > 0 else (1.0 if sse == 0 else 0.0)}
            return out
        if self.pairs:
            keys = list(self.pairs)
            t = np.array([k[0] for k in keys])
            p = np.array([k[1] for k in keys])
            w = np.array([self.pairs[k] for k in keys], dtype=np.float64)
            labels = set(t.tolist()) | set(p.tolist())
            avg = average or ("binary" if labels <= {0, 1} else "macro")
            out["accuracy"] = _safe(_metrics.accuracy, t, p, sample_weight=w)
            for name in ("precision", "recall", "f1"):
                out[name] = _safe(getattr(_metrics, name), t, p, average=avg, sample_weight=w)
        if self.n_scored:
            out["roc_auc"] = self._roc_auc()
        return out

    def _roc_auc(self) -> float:
        if self.scored is not None:
            yt = np.concatenate([s[0] for s in self.scored])
            ys = np.concatenate([s[1] for s in self.scored])
            return _safe(_metrics.roc_auc, yt, ys)
        labels = sorted(self.hist, key=_label_order)
        k = next(iter(self.hist.values())).shape[0]
        if len(labels) < 2:
            return math.nan
        total = sum(self.hist.values())
        if len(labels) == 2 and k == 2:  # binary: the larger label is positive
            pos = self.hist[labels[1]][1]
            return _hist_auc(pos, total[1] - pos)
        if len(labels) != k:
            return math.nan
        aucs = [_hist_auc(self.hist[lab][c], total[c] - self.hist[lab][c]) for c, lab in enumerate(labels)]
        return float(np.mean(aucs))


def _safe(fn: Any, *args: Any, **kwargs: Any) -> float:
    try:
        return float(fn(*args, **kwargs))
    except ValueError:  # e.g. one class only so far
        return math.nan


def _label_order(v: Any) -> tuple:
    return ("", v) if isinstance(v, (int, float, bool)) else (type(v).__name__, v)


def _labels_inverse(y: np.ndarray) -> tuple[list[Any], np.ndarray]:
    if y.dtype != object:
        u, inv = np.unique(y, return_inverse=True)
        return u.tolist(), inv
    keys = [v.item() if isinstance(v, np.generic) else v for v in y.tolist()]
    labels = list(dict.fromkeys(keys))
    pos = {k: i for i, k in enumerate(labels)}
    return labels, np.array([pos[k] for k in keys], dtype=np.intp)


def _pair_counts(t: np.ndarray, p: np.ndarray) -> dict:
    if t.dtype != object and p.dtype != object and t.dtype.kind == p.dtype.kind:
        ut, it = np.unique(t, return_inverse=True)
        up, ip = np.unique(p, return_inverse=True)
        c = np.bincount(it * len(up) + ip, minlength=len(ut) * len(up))
        a, b = ut.tolist(), up.tolist()
        return {(a[i // len(b)], b[i % len(b)]): int(v) for i, v in enumerate(c.tolist()) if v}
    key = lambda v: v.item() if isinstance(v, np.generic) else v  # noqa: E731
    return dict(Counter((key(a), key(b)) for a, b in zip(t.tolist(), p.tolist())))


def _merge_moments(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Chan et al.'s merge of (n, sse, sae, mean, m2)."""
    na, nb = a[0], b[0]
    if nb == 0:
        return a.copy()
    if na == 0:
        return b.copy()
    n = na + nb
    d = b[3] - a[3]
    return np.array([n, a[1] + b[1], a[2] + b[2], a[3] + d * nb / n, a[4] + b[4] + d * d * na * nb / n])


# --------------------------------------------------------------------------- estimated


@attrs.define(eq=False)
class CBPEState:
    """Expected confusion-matrix totals and score histograms of scored rows (no labels)."""

    n: int = 0
    tp: Any = None  # per class: sum of p_c over rows predicted c (None: nothing yet)
    predicted: Any = None  # per class: rows predicted c
    support: Any = None  # per class: sum of p_c
    hist_n: Any = None  # (k, bins): rows whose p_c falls in the bin
    hist_p: Any = None  # (k, bins): sum of those p_c

    @classmethod
    def of_batch(cls, y_score: np.ndarray, y_pred: np.ndarray | None) -> "CBPEState":
        """The state of one batch of probabilities (1-D positive-class or (n, k))."""
        n = len(y_score)
        hn = np.zeros((2 if y_score.ndim == 1 else y_score.shape[1], SCORE_BINS), dtype=np.int64)
        hp = np.zeros(hn.shape)
        if y_score.ndim == 1:  # binary: only the positive column's histogram is read
            p1 = y_score
            pred = predicted_columns(y_pred, p1)
            p_pred = np.where(pred == 1, p1, 1.0 - p1)
            s1 = float(p1.sum())
            support = np.array([n - s1, s1])
            idx = _bins(p1)
            hn[1] = np.bincount(idx, minlength=SCORE_BINS)
            hp[1] = np.bincount(idx, weights=p1, minlength=SCORE_BINS)
        else:
            p = y_score
            pred = predicted_columns(y_pred, p)
            p_pred = p[np.arange(n), pred]
            support = p.sum(axis=0)
            idx = _bins(p)
            for c in range(p.shape[1]):
                hn[c] = np.bincount(idx[:, c], minlength=SCORE_BINS)
                hp[c] = np.bincount(idx[:, c], weights=p[:, c], minlength=SCORE_BINS)
        k = hn.shape[0]
        return cls(n=n, tp=np.bincount(pred, weights=p_pred, minlength=k),
                   predicted=np.bincount(pred, minlength=k).astype(np.int64),
                   support=support, hist_n=hn, hist_p=hp)

    def merge(self, other: "CBPEState") -> "CBPEState":
        """Add ``other``'s rows in place; returns self."""
        if other.n == 0 and other.tp is None:
            return self
        if self.tp is None:
            self.n, self.tp, self.predicted, self.support = other.n, other.tp.copy(), other.predicted.copy(), other.support.copy()
            self.hist_n, self.hist_p = other.hist_n.copy(), other.hist_p.copy()
            return self
        if len(other.tp) != len(self.tp):
            raise InvalidArgumentError(f"y_score has {len(other.tp)} classes here and {len(self.tp)} before")
        self.n += other.n
        self.tp = self.tp + other.tp
        self.predicted = self.predicted + other.predicted
        self.support = self.support + other.support
        self.hist_n = self.hist_n + other.hist_n
        self.hist_p = self.hist_p + other.hist_p
        return self

    def estimate(self, average: str | None = None) -> dict[str, float]:
        """Estimated accuracy, f1 and roc_auc (binary: positive column 1; else macro)."""
        if not self.n or self.tp is None:
            return {}
        k = len(self.tp)
        tp, pred, sup = self.tp, self.predicted, self.support
        denom = pred + sup  # 2tp + fp + fn
        f1_c = np.divide(2 * tp, denom, out=np.zeros(k), where=denom > 0)
        avg = average or ("binary" if k == 2 else "macro")
        if avg == "binary":
            f1 = float(f1_c[1])
        elif avg == "micro":
            f1 = float(tp.sum() / self.n)
        elif avg == "weighted":
            f1 = float(np.average(f1_c, weights=sup)) if sup.sum() > 0 else 0.0
        else:
            f1 = float(f1_c.mean())
        neg = self.hist_n - self.hist_p
        if k == 2:
            auc = _hist_auc(self.hist_p[1], neg[1])
        else:
            auc = float(np.nanmean([_hist_auc(self.hist_p[c], neg[c]) for c in range(k)]))
        return {"accuracy": float(tp.sum() / self.n), "f1": f1, "roc_auc": auc}


def calibration_check(y_true: Any, y_score: Any, *, alpha: float = 0.01, bins: int = 10,
                      warn: bool = True) -> dict[str, Any]:
    """Are the reference scores calibrated? A Hosmer-Lemeshow test over ``bins`` equal-count
    bins of every class column, plus the expected calibration error and CBPE's estimate of
    the reference accuracy next to the real one. Warns :class:`CBPEWarning` (when ``warn``)
    if the test rejects calibration at level ``alpha``: CBPE's estimates would be biased."""
    from scipy.stats import chi2

    ys = np.asarray(y_score, dtype=np.float64)
    yt = np.asarray(y_true)
    p = score_columns(ys)
    n, k = p.shape
    if yt.ndim != 1 or len(yt) != n:
        raise InvalidArgumentError(f"reference labels must be 1-D with one label per score row; got shape {yt.shape} "
                                   f"for {n} score rows")
    col = _label_columns(yt, k)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), col] = 1.0
    stat, dof, ece = 0.0, 0, 0.0
    for c in range(1 if k == 2 else 0, k):
        order = np.argsort(p[:, c], kind="stable")
        for part in np.array_split(order, min(bins, n)):
            if part.size == 0:
                continue
            e, o = p[part, c].sum(), onehot[part, c].sum()
            v = (p[part, c] * (1 - p[part, c])).sum()
            ece += abs(o - e) / n / (1 if k == 2 else k)
            if v > 1e-12:
                stat += (o - e) ** 2 / v
                dof += 1
    p_value = float(chi2.sf(stat, dof)) if dof else 1.0
    est = CBPEState.of_batch(ys, None).estimate()
    accuracy = float(np.mean(np.argmax(p, axis=1) == col))
    out = {"p_value": p_value, "ece": float(ece), "accuracy": accuracy,
           "estimated_accuracy": est["accuracy"], "trusted": p_value >= alpha, "n": n}
    if warn and not out["trusted"]:
        warnings.warn(
            f"the model's reference scores are not calibrated (Hosmer-Lemeshow p={p_value:.3g}, ECE={ece:.3f}; "
            f"accuracy {accuracy:.3f}, CBPE estimate {est['accuracy']:.3f}): estimated_performance can't be "
            "trusted; calibrate the scores (e.g. isotonic regression on held-out data) first",
            CBPEWarning, stacklevel=3)
    return out


def _label_columns(yt: np.ndarray, k: int) -> np.ndarray:
    """Reference labels as score columns: column indices (0/1 for a binary score), or the
    k distinct labels in sorted order (scikit-learn's ``classes_``)."""
    if yt.dtype.kind in "biu" or (yt.dtype.kind == "f" and np.array_equal(yt, np.round(yt))):
        col = yt.astype(np.int64)
        if col.min() >= 0 and col.max() < k:
            return col
    labels, inv = _labels_inverse(yt)
    if len(labels) != k:
        raise InvalidArgumentError(f"reference labels must be column indices 0..{k - 1} of the scores, or exactly "
                                   f"{k} distinct labels; got {len(labels)} distinct labels")
    order = sorted(range(k), key=lambda i: _label_order(labels[i]))
    rank = np.empty(k, dtype=np.intp)
    rank[order] = np.arange(k)
    return rank[inv]


def isotonic_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots (xs, ys) of the increasing isotonic regression of y on x (pool adjacent
    violators over the distinct x, ties averaged); ``np.interp(v, xs, ys)`` then predicts as
    scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``."""
    xs, inv, counts = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True, return_counts=True)
    w = counts.astype(np.float64)
    v = np.bincount(inv, weights=np.asarray(y, dtype=np.float64)) / w
    # blocks as (mean, weight, number of distinct x); merge while a block is below the previous
    means: list[float] = []
    weights: list[float] = []
    sizes: list[int] = []
    for m, wt in zip(v.tolist(), w.tolist()):
        means.append(m)
        weights.append(wt)
        sizes.append(1)
        while len(means) > 1 and means[-2] >= means[-1]:
            m2, w2, s2 = means.pop(), weights.pop(), sizes.pop()
            total = weights[-1] + w2
            means[-1] = (means[-1] * weights[-1] + m2 * w2) / total
            weights[-1] = total
            sizes[-1] += s2
    return xs, np.repeat(means, sizes)


@attrs.define(eq=False)
class Calibrator:
    """Per-class isotonic maps fitted on reference scores and labels; applied to live scores
    before CBPE (multiclass rows renormalised to sum to 1)."""

    knots: list[tuple[np.ndarray, np.ndarray]]
    binary: bool

    @classmethod
    def fit(cls, y_true: Any, y_score: np.ndarray) -> "Calibrator":
        """Fit on the reference: one-vs-rest per class column (the positive one if binary)."""
        p = score_columns(y_score)
        col = _label_columns(np.asarray(y_true), p.shape[1])
        if y_score.ndim == 1:
            return cls([isotonic_fit(y_score, col == 1)], True)
        return cls([isotonic_fit(p[:, c], col == c) for c in range(p.shape[1])], False)

    def __call__(self, y_score: np.ndarray) -> np.ndarray:
        """Calibrated scores, same shape."""
        if self.binary:
            xs, ys = self.knots[0]
            return np.interp(y_score, xs, ys)
        out = np.column_stack([np.interp(y_score[:, c], xs, ys) for c, (xs, ys) in enumerate(self.knots)])
        total = out.sum(axis=1, keepdims=True)
        return np.divide(out, total, out=np.full_like(out, 1.0 / out.shape[1]), where=total > 0)
