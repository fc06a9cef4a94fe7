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

from typing import Any

import numpy as np

from modelmgmt._validation import check_same_length
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.metrics import ranking as _rank
from modelmgmt.metrics._checks import as_labels, as_scores, as_weights, check_average
from modelmgmt.metrics._metric_base import ScoresBase, add_dicts, either, same_value

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
        max_fpr: float | None = None,
    ) -> None:
        check_average(average, ("micro", "macro", "weighted", None))
        max_fpr = _rank.check_max_fpr(max_fpr)
        if max_fpr is not None and bins is not None:
            raise InvalidArgumentError("max_fpr (partial AUC) needs the exact scores: use bins=None")
        if multi_class not in ("raise", "ovr", "ovo"):
            raise InvalidArgumentError(f"multi_class must be 'raise', 'ovr' or 'ovo'; got {multi_class!r}")
        if bins is not None and (not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or bins < 1):
            raise InvalidArgumentError(f"bins must be a positive int or None; got {bins!r}")
        lo, hi = (float(v) for v in score_range)
        if not lo < hi:
            raise InvalidArgumentError(f"score_range must be (low, high) with low < high; got {score_range!r}")
        super().__init__(average=average, multi_class=multi_class, labels=labels, bins=bins, score_range=(lo, hi),
                         max_fpr=max_fpr)
        self.name = "roc_auc_ovo" if multi_class == "ovo" else "roc_auc"
        if average == "weighted":
            self.name += "_weighted"

    hist: dict[Any, np.ndarray]
    columns: int | None
    weighted: bool

    def _declare_states(self) -> None:
        super()._declare_states()  # the kept batches (exact mode)
        self.add_state("hist", {}, add_dicts)  # per label: (column, bin) weights (bins mode)
        self.add_state("columns", None, same_value("number of score columns"))
        self.add_state("weighted", False, either)

    def _batch_state(self, y_true: Any, y_score: Any, sample_weight: Any) -> dict[str, Any]:
        """One batch's statistics: its labels and scores, or (``bins``) its histograms."""
        if self._settings["bins"] is None:
            return {**super()._batch_state(y_true, y_score, sample_weight), "hist": {}, "columns": None, "weighted": False}
        yt = as_labels(y_true, "y_true")
        ys = as_scores(y_score)
        n = check_same_length(y_true=yt, y_score=ys)
        w = as_weights(sample_weight, n, allow_all_zero=True)
        ys2 = ys[:, None] if ys.ndim == 1 else ys
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
        hist = {label: np.stack([pc[j] for pc in per_col]).astype(np.float64) for j, label in enumerate(seen.tolist())}
        return {"batches": [], "hist": hist, "columns": ys2.shape[1], "weighted": w is not None}

    def compute(self) -> Any:
        """ROC AUC over every batch seen (exact, or the binned estimate when ``bins`` is set)."""
        if self._settings["bins"] is None:
            yt, ys, w = self._all()
            s = self._settings
            return _rank.roc_auc(yt, ys, sample_weight=w, average=s["average"], multi_class=s["multi_class"],
                                 labels=s["labels"], max_fpr=s["max_fpr"])
        return self._binned()[0]

    def error_bound(self) -> Any:
        """Upper bound of |exact AUC - compute()|: 0.0 when exact, else the same-bin pair share / 2."""
        if self._settings["bins"] is None:
            self._all()
            return 0.0
        return self._binned()[1]

    def _binned(self) -> tuple[Any, Any]:
        if self.columns is None:
            raise self._empty()
        classes = np.array(sorted(self.hist))
        if len(classes) < 2:
            raise InvalidArgumentError(f"Only one class is present in y_true ({classes.tolist()}); ROC AUC needs both classes")
        k = self.columns
        if len(classes) == 2 and k in (1, 2):
            col = k - 1
            return _hist_auc(self.hist[classes[1].item()][col], self.hist[classes[0].item()][col])
        s = self._settings
        _rank.check_multiclass_options(s["average"], s["multi_class"], self.weighted)
        classes = _rank.check_multiclass_labels(classes, s["labels"], k)
        zero = np.zeros((k, self.hist[next(iter(self.hist))].shape[1]))
        H = np.stack([self.hist.get(c, zero) for c in classes.tolist()])  # (label, column, bin)
        if s["multi_class"] == "ovo":
            value = _rank.average_pairs(lambda a, b: _hist_auc(H[a, a], H[b, a]), H[:, 0, :].sum(axis=1), s["average"])
            return value[0], float(value[1])
        average = s["average"]
        total_col = H.sum(axis=0)  # (column, bin)
        pos = np.stack([H[c, c] for c in range(k)])
        neg = np.stack([total_col[c] - H[c, c] for c in range(k)])
        if average == "micro":
            return _hist_auc(pos.sum(axis=0), neg.sum(axis=0))
        pairs = np.array([_hist_auc(pos[c], neg[c]) for c in range(k)])  # (class, [value, bound])
        if average is None:
            return pairs[:, 0], pairs[:, 1]
        out = _rank.average_classes(pairs, average, pos.sum(axis=1))
        if np.ndim(out) == 0:
            return out, out
        return float(out[0]), float(out[1])
