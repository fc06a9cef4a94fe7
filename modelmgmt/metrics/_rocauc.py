"""ROCAUC: exact (keeps the scores) or streaming (``bins=N``: per-label score histograms).

Streaming error bound. Binning is monotone, so a (positive, negative) pair in different bins
is ordered exactly as by the raw scores; a pair in the same bin is counted as a tie (1/2)
while its exact contribution lies in [0, 1]. Hence, for one binary AUC,

    |AUC_exact - AUC_binned| <= sum_b pos_b * neg_b / (2 * P * N)

(pos_b, neg_b: weight of positives/negatives in bin b; P, N: totals), which
:meth:`ROCAUC.error_bound` returns; averages over classes or pairs get the same average of
the per-AUC bounds.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from modelmgmt._validation import check_same_length
from modelmgmt.metrics import ranking as _rank
from modelmgmt.metrics._checks import as_labels, as_scores, as_weights, check_average, label_kind
from modelmgmt.metrics._metric_base import ScoresBase
from modelmgmt.metrics.base import Metric
from modelmgmt.errors import InvalidArgumentError

__all__ = ["ROCAUC"]


def _hist_auc(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """(AUC with same-bin pairs as ties, its error bound) from two histograms."""
    p, n = pos.sum(), neg.sum()
    if p == 0 or n == 0:
        return float("nan"), float("nan")
    below = np.cumsum(neg) - neg
    return float(np.dot(pos, below + neg / 2) / (p * n)), float(np.dot(pos, neg) / (2 * p * n))


class ROCAUC(ScoresBase):
    """Running ROC AUC with :func:`roc_auc`'s arguments; ``bins=N`` streams in bounded memory.

    With ``bins`` the scores must lie in ``score_range`` (default [0, 1], i.e. probabilities);
    memory is O(labels x columns x bins) whatever the number of samples.
    """

    name = "roc_auc"

    def __init__(
        self,
        *,
        average: str | None = "macro",
        multi_class: str = "ovr",
        labels: Any = None,
        bins: int | None = None,
        score_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        check_average(average, ("micro", "macro", "weighted", None))
        if multi_class not in ("raise", "ovr", "ovo"):
            raise InvalidArgumentError(f"multi_class must be 'raise', 'ovr' or 'ovo'; got {multi_class!r}")
        if bins is not None and (not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or bins < 1):
            raise InvalidArgumentError(f"bins must be a positive int or None; got {bins!r}")
        lo, hi = (float(v) for v in score_range)
        if not lo < hi:
            raise InvalidArgumentError(f"score_range must be (low, high) with low < high; got {score_range!r}")
        super().__init__(average=average, multi_class=multi_class, labels=labels, bins=bins, score_range=(lo, hi))
        self.name = "roc_auc_ovo" if multi_class == "ovo" else "roc_auc"
        if average == "weighted":
            self.name += "_weighted"

    def reset(self) -> None:
        """Drop all accumulated statistics."""
        super().reset()
        self._hist: dict[Any, np.ndarray] = {}
        self._columns: int | None = None
        self._weighted = False

    def update(self, y_true: Any, y_score: Any, sample_weight: Any = None) -> None:
        """Add one batch of true labels and scores (1-D, or (n, n_classes) probabilities)."""
        if self._settings["bins"] is None:
            super().update(y_true, y_score, sample_weight)
            return
        yt = as_labels(y_true, "y_true")
        ys = as_scores(y_score)
        n = check_same_length(y_true=yt, y_score=ys)
        w = as_weights(sample_weight, n)
        ys2 = ys[:, None] if ys.ndim == 1 else ys
        if self._columns is not None and ys2.shape[1] != self._columns:
            raise InvalidArgumentError(f"y_score has {ys2.shape[1]} columns; earlier batches had {self._columns}")
        if self._hist and label_kind(np.array(list(self._hist))) != label_kind(yt):
            raise InvalidArgumentError("labels of this batch are of another type (string vs number) than earlier batches")
        lo, hi = self._settings["score_range"]
        if ys2.min() < lo or ys2.max() > hi:
            raise InvalidArgumentError(
                f"ROCAUC(bins=...) needs scores within score_range={self._settings['score_range']}; "
                f"got values in [{ys2.min()}, {ys2.max()}]"
            )
        bins = self._settings["bins"]
        idx = np.minimum(((ys2 - lo) * (bins / (hi - lo))).astype(np.intp), bins - 1)
        seen, inv = np.unique(yt, return_inverse=True)
        inv = inv.reshape(-1) * bins
        per_col = [
            np.bincount(inv + idx[:, c], weights=w, minlength=len(seen) * bins).reshape(len(seen), bins)
            for c in range(ys2.shape[1])
        ]
        for j, label in enumerate(seen.tolist()):
            h = np.stack([pc[j] for pc in per_col]).astype(np.float64)
            self._hist[label] = self._hist[label] + h if label in self._hist else h
        self._columns = ys2.shape[1]
        self._weighted = self._weighted or w is not None

    def merge(self, other: Metric) -> "ROCAUC":
        """Add another ROCAUC's scores or histograms in place; return self."""
        self._check_other(other)
        if self._settings["bins"] is None:
            return super().merge(other)
        if other._columns is not None:
            if self._columns is not None and other._columns != self._columns:
                raise InvalidArgumentError(f"cannot merge histograms over {self._columns} and {other._columns} columns")
            for label, h in other._hist.items():
                self._hist[label] = self._hist[label] + h if label in self._hist else h.copy()
            self._columns = other._columns
            self._weighted = self._weighted or other._weighted
        return self

    def compute(self) -> Any:
        """ROC AUC over every batch seen (exact, or the binned estimate when ``bins`` is set)."""
        if self._settings["bins"] is None:
            yt, ys, w = self._all()
            s = self._settings
            return _rank.roc_auc(yt, ys, sample_weight=w, average=s["average"], multi_class=s["multi_class"], labels=s["labels"])
        return self._binned()[0]

    def error_bound(self) -> Any:
        """Upper bound of |exact AUC - compute()|: 0.0 when exact, else the same-bin pair share / 2."""
        if self._settings["bins"] is None:
            self._all()
            return 0.0
        return self._binned()[1]

    def _binned(self) -> tuple[Any, Any]:
        if self._columns is None:
            raise self._empty()
        classes = np.array(sorted(self._hist))
        if len(classes) < 2:
            raise InvalidArgumentError(f"Only one class is present in y_true ({classes.tolist()}); ROC AUC needs both classes")
        k = self._columns
        if len(classes) == 2 and k in (1, 2):
            col = k - 1
            return _hist_auc(self._hist[classes[1].item()][col], self._hist[classes[0].item()][col])
        s = self._settings
        if s["multi_class"] == "raise":
            raise InvalidArgumentError("y_true is multiclass: multi_class must be 'ovr' or 'ovo' (got 'raise')")
        if s["labels"] is not None:
            lab = np.asarray(s["labels"])
            if len(np.setdiff1d(classes, lab)):
                raise InvalidArgumentError("'y_true' contains labels not in parameter 'labels'")
            classes = lab
        if len(classes) != k:
            raise InvalidArgumentError(f"Number of classes ({len(classes)}) not equal to the number of columns in 'y_score' ({k})")
        zero = np.zeros((k, self._hist[next(iter(self._hist))].shape[1]))
        H = np.stack([self._hist.get(c, zero) for c in classes.tolist()])  # (label, column, bin)
        total_col = H.sum(axis=0)  # (column, bin)
        if s["multi_class"] == "ovo":
            return self._ovo(H)
        average = s["average"]
        pos = np.stack([H[c, c] for c in range(k)])
        neg = np.stack([total_col[c] - H[c, c] for c in range(k)])
        if average == "micro":
            return _hist_auc(pos.sum(axis=0), neg.sum(axis=0))
        pairs = [_hist_auc(pos[c], neg[c]) for c in range(k)]
        values, bounds = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        if average is None:
            return values, bounds
        weights = pos.sum(axis=1) if average == "weighted" else None
        if weights is not None:
            if np.isclose(weights.sum(), 0):
                return 0, 0
            values[weights == 0] = 0
            bounds[weights == 0] = 0
        return float(np.average(values, weights=weights)), float(np.average(bounds, weights=weights))

    def _ovo(self, H: np.ndarray) -> tuple[Any, Any]:
        if self._weighted:
            raise InvalidArgumentError("sample_weight is not supported for multiclass one-vs-one ROC AUC")
        if self._settings["average"] not in ("macro", "weighted"):
            raise InvalidArgumentError("average must be 'macro' or 'weighted' for multi_class='ovo'")
        counts = H[:, 0, :].sum(axis=1)
        present = np.flatnonzero(counts > 0).tolist()
        values, bounds, prevalence = [], [], []
        for a, b in itertools.combinations(present, 2):
            va, ba = _hist_auc(H[a, a], H[b, a])
            vb, bb = _hist_auc(H[b, b], H[a, b])
            values.append((va + vb) / 2)
            bounds.append((ba + bb) / 2)
            prevalence.append((counts[a] + counts[b]) / counts.sum())
        weights = np.array(prevalence) if self._settings["average"] == "weighted" else None
        return np.average(np.array(values), weights=weights), float(np.average(np.array(bounds), weights=weights))
