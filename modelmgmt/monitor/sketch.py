"""Bounded-memory, mergeable summaries of one feature's current data, against its reference.

A feature has a fixed reference side (:class:`NumericFeature`, :class:`CategoricalFeature`)
and a current-data *state* that adds up: the state of two sets of rows is the sum of
their states (:meth:`merge`), which is what makes sliding windows, replica merges and
save/load exact.

Numerical state: a histogram over fixed edges taken from the reference — every distinct
reference value when there are at most ``max_bins`` of them, else ``max_bins`` reference
quantiles, plus the PSI / Jensen-Shannon quantile edges and the plotting edges. Each edge
has two slots — values equal to it and values strictly between it and the previous edge —
and each slot keeps a count and the sum of the values' distances to its edge. Memory is
fixed by the reference; it does not grow with the rows observed.

While the monitor still holds the current rows themselves (``exact_rows``), tests run on
the rows and equal ``mm.drift`` exactly. Otherwise they run on the histogram:

- KS: the largest CDF gap over all slots. Exact when the edges are all the reference's
  distinct values (then the reference CDF is flat between edges); p-value asymptotic, as
  scipy's for samples over 10,000.
- Wasserstein: exact in the tails (the distance sums), and per interval the integral of
  the CDF difference — exact unless the two CDFs cross inside one interval.
- PSI and Jensen-Shannon: exact (their bin edges are histogram edges).

Categorical state: exact category counts (new categories past ``max_new`` share one
"other" bucket), so chi2, z_proportion and Jensen-Shannon are always exact.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import attrs
import numpy as np

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.monitor import drift as _drift
from modelmgmt.monitor.drift import DriftResult, Histogram

__all__ = ["NumericFeature", "CategoricalFeature", "NumericState", "CategoricalState", "OTHER",
           "HIST_BINS", "MAX_HIST_CATEGORIES", "MAX_LISTED_NEW"]

#: the bucket for new categories past ``max_new``
OTHER = "__other__"
#: bars of a numerical feature's plotting histogram
HIST_BINS = 20
#: bars of a categorical feature's plotting histogram (the rarest are lumped into OTHER)
MAX_HIST_CATEGORIES = 50
#: new categories listed in a result (most frequent first)
MAX_LISTED_NEW = 100


def _cat_key(v: Any) -> Any:
    """A hashable key for a category value (numpy scalars become Python values)."""
    return v.item() if isinstance(v, np.generic) else v


@attrs.define(eq=False)
class NumericState:
    """Current-data summary of a numerical feature: slot counts and distance sums."""

    counts: np.ndarray
    offsets: np.ndarray | None
    n: int = 0
    n_missing: int = 0

    def merge(self, other: "NumericState") -> "NumericState":
        """Add ``other``'s rows to this state, in place; returns self."""
        self.counts += other.counts
        if self.offsets is not None:
            self.offsets += other.offsets
        self.n += other.n
        self.n_missing += other.n_missing
        return self

    def copy(self) -> "NumericState":
        """An independent copy."""
        return NumericState(self.counts.copy(), None if self.offsets is None else self.offsets.copy(),
                            self.n, self.n_missing)

    def nbytes(self) -> int:
        """Bytes of the arrays."""
        return int(self.counts.nbytes + (0 if self.offsets is None else self.offsets.nbytes))


@attrs.define(eq=False)
class CategoricalState:
    """Current-data summary of a categorical feature: counts per reference category, new ones."""

    counts: np.ndarray
    new: dict = attrs.field(factory=dict)
    n: int = 0
    n_missing: int = 0
    max_new: int = 1000

    def add_new(self, key: Any, c: int) -> None:
        """Count ``c`` values of a category the reference does not have."""
        if key in self.new or len(self.new) < self.max_new:
            self.new[key] = self.new.get(key, 0) + c
        else:
            self.new[OTHER] = self.new.get(OTHER, 0) + c

    def merge(self, other: "CategoricalState") -> "CategoricalState":
        """Add ``other``'s rows to this state, in place; returns self."""
        self.counts += other.counts
        for k, c in other.new.items():
            self.add_new(k, c)
        self.n += other.n
        self.n_missing += other.n_missing
        return self

    def copy(self) -> "CategoricalState":
        """An independent copy."""
        return CategoricalState(self.counts.copy(), dict(self.new), self.n, self.n_missing, self.max_new)

    def nbytes(self) -> int:
        """Approximate bytes held."""
        return int(self.counts.nbytes + 64 * len(self.new))


def _share(k: int, total: int) -> float:
    return k / total if total else 0.0


class NumericFeature:
    """The fixed reference side of a numerical feature: edges, reference histogram, tests."""

    def __init__(self, ref: np.ndarray, *, max_bins: int = 1000, psi_bins: int = 10,
                 offsets: bool = True, hist_bins: int = HIST_BINS):
        self.ref = np.sort(np.asarray(ref, dtype=np.float64))
        self.ref_std = float(np.std(self.ref))
        self.lo, self.hi = float(self.ref[0]), float(self.ref[-1])
        uniq = np.unique(self.ref)
        self.exact_ks = len(uniq) <= max_bins
        edges = uniq if self.exact_ks else np.unique(np.quantile(self.ref, np.linspace(0, 1, max_bins + 1)))
        self.psi_inner = _drift.quantile_inner_edges(self.ref, psi_bins)
        if self.lo < self.hi:
            self.hist_edges = np.linspace(self.lo, self.hi, hist_bins + 1)
        else:  # one value: one bar around it, as numpy.histogram does
            self.hist_edges = np.array([self.lo - 0.5, self.lo + 0.5])
        self.edges = np.union1d(np.union1d(edges, self.psi_inner), self.hist_edges)
        e = self.edges
        m = len(e)
        self._centre = float(self.ref[len(self.ref) // 2])
        # slot 2k is (e[k-1], e[k]), slot 2k+1 is == e[k], slot 2m is above e[-1]
        psi_map = np.empty(2 * m + 1, dtype=np.intp)
        psi_map[0:-1:2] = np.searchsorted(self.psi_inner, e, side="left")
        psi_map[1::2] = np.searchsorted(self.psi_inner, e, side="right")
        psi_map[-1] = len(self.psi_inner)
        self._psi_map = psi_map
        # slot -> plotting bar (-1: outside the bars); bars are [h_i, h_i+1), the last closed
        h = self.hist_edges
        nb = len(h) - 1
        bar = np.full(2 * m + 1, -1, dtype=np.intp)
        inside = (e > h[0]) & (e <= h[-1])  # the open interval below e[k] is inside the bars
        bar[0:-1:2][inside] = np.searchsorted(h, e[inside], side="left") - 1
        at = (e >= h[0]) & (e <= h[-1])
        bar[1::2][at] = np.minimum(np.searchsorted(h, e[at], side="right") - 1, nb - 1)
        self._bar = bar
        self._n_bars = nb
        k_lo, k_hi = int(np.searchsorted(e, self.lo)), int(np.searchsorted(e, self.hi))
        self._below = slice(0, 2 * k_lo + 1)  # slots strictly below the reference's min
        self._above = slice(2 * k_hi + 2, 2 * m + 1)  # slots strictly above its max
        self._need_offsets = True
        self.ref_counts, self.ref_offsets = self._bin(self.ref)
        self._need_offsets = offsets  # only the Wasserstein distance reads the current offsets
        self.ref_psi = np.bincount(psi_map, weights=self.ref_counts, minlength=len(self.psi_inner) + 1)
        self.ref_bars = self._bars(self.ref_counts)

    @property
    def n_slots(self) -> int:
        """Length of a state's arrays."""
        return 2 * len(self.edges) + 1

    def empty(self) -> NumericState:
        """The state of no rows."""
        return NumericState(np.zeros(self.n_slots, dtype=np.int64),
                            np.zeros(self.n_slots) if self._need_offsets else None)

    def summarize(self, x: np.ndarray) -> NumericState:
        """The state of one batch of float values (NaN counted as missing)."""
        missing = np.isnan(x)
        k = int(missing.sum())
        if k:
            x = x[~missing]
        if not x.size:
            st = self.empty()
            st.n_missing = k
            return st
        c, o = self._bin(x)
        return NumericState(c, o, int(x.size), k)

    def _bin(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Slot counts and distance sums of the values ``x`` (no NaN).

        The batch is sorted once (fast SIMD sort); the edges are then located in it, which
        is much cheaper than locating every value among the edges.
        """
        e = self.edges
        m = len(e)
        if 8 * len(x) < m:  # a small batch: locate each value among the edges instead
            return self._bin_small(x)
        s = np.sort(x)
        bounds = np.empty(2 * m + 2, dtype=np.intp)
        bounds[0] = 0
        left = np.searchsorted(s, e, side="left")
        # "right" differs from "left" only at edges some value equals: look those up alone
        at = s[np.minimum(left, len(s) - 1)] == e
        right = left.copy()
        if at.any():
            right[at] = np.searchsorted(s, e[at], side="right")
        bounds[1:-1:2] = left
        bounds[2:-1:2] = right
        bounds[-1] = len(s)
        counts = np.diff(bounds).astype(np.int64, copy=False)
        if not self._need_offsets:
            return counts, None
        # sums relative to a centre keep the running sum small (less cancellation)
        c = self._centre
        cs = np.empty(len(s) + 1)
        cs[0] = 0.0
        np.cumsum(s - c, out=cs[1:])
        sums = np.diff(cs[bounds])
        offsets = np.zeros(2 * m + 1)
        offsets[0:-1:2] = counts[0:-1:2] * (e - c) - sums[0:-1:2]  # values below their edge
        offsets[-1] = sums[-1] - counts[-1] * (e[-1] - c)  # values above the last edge
        np.maximum(offsets, 0.0, out=offsets)
        return counts, offsets

    def _bin_small(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        e = self.edges
        m = len(e)
        idx = np.searchsorted(e, x, side="left")
        at = e[np.minimum(idx, m - 1)]
        slot = 2 * idx + (x == at)  # idx == m gives at = e[-1] < x, never equal
        counts = np.bincount(slot, minlength=2 * m + 1).astype(np.int64, copy=False)
        if not self._need_offsets:
            return counts, None
        return counts, np.bincount(slot, weights=np.abs(x - at), minlength=2 * m + 1)

    def _bars(self, counts: np.ndarray) -> np.ndarray:
        inside = self._bar >= 0
        return np.bincount(self._bar[inside], weights=counts[inside], minlength=self._n_bars).astype(np.int64)

    def out_of_range(self, st: NumericState) -> int:
        """Current values outside the reference's min..max."""
        return int(st.counts[self._below].sum() + st.counts[self._above].sum())

    def result(self, st: NumericState, test: str, threshold: float, name: str,
               rows: np.ndarray | None = None) -> DriftResult:
        """The feature's drift from its state; on ``rows`` (its non-missing current values,
        when the monitor still has them) through ``mm.drift`` itself."""
        hist = Histogram(self.hist_edges.tolist(), self.ref_bars.tolist(), self._bars(st.counts).tolist())
        quality: dict[str, Any] = dict(name=name, missing_share=_share(st.n_missing, st.n + st.n_missing),
                       out_of_range_share=_share(self.out_of_range(st), st.n), histogram=hist,
                       n_reference=len(self.ref), n_current=st.n)
        if st.n == 0:
            return DriftResult(test=test, statistic=math.nan, p_value=None, threshold=threshold,
                               drifted=False, **quality)
        if rows is not None:
            res = _drift.TESTS[test](self.ref, rows, threshold=threshold)
            return attrs.evolve(res, **quality)
        if test == "ks":
            d = self.ks_statistic(st)
            stat, p = d, _drift.ks_p_value(d, len(self.ref), st.n)
        elif test == "wasserstein":
            if st.offsets is None:
                raise InvalidArgumentError("this feature was built without distance sums; create it with offsets=True")
            stat, p = self.wasserstein_statistic(st), None
        elif test in ("psi", "jensen_shannon"):
            cur_psi = np.bincount(self._psi_map, weights=st.counts, minlength=len(self.psi_inner) + 1)
            fn = _drift.psi_from_counts if test == "psi" else _drift.js_from_counts
            stat, p = fn(self.ref_psi, cur_psi), None
        else:
            raise InvalidArgumentError(f"test {test!r} needs categorical data; numerical features take ks, "
                                       "wasserstein, psi or jensen_shannon")
        stat = float(stat)
        return DriftResult(test=test, statistic=stat, p_value=p, threshold=threshold,
                           drifted=_drift.verdict(stat, p, threshold), **quality)

    def ks_statistic(self, st: NumericState) -> float:
        """Largest gap between the two CDFs over the histogram slots."""
        gap = np.cumsum(self.ref_counts) / len(self.ref) - np.cumsum(st.counts) / st.n
        return float(np.max(np.abs(gap)))

    def wasserstein_statistic(self, st: NumericState) -> float:
        """Wasserstein-1 distance from the histograms, over the reference std (as mm.drift)."""
        e = self.edges
        width = np.diff(e)

        def interval_integrals(counts: np.ndarray, offsets: np.ndarray, n: int) -> np.ndarray:
            # integral of the CDF over each (e[k-1], e[k]), k = 1 .. m-1
            le_prev = np.cumsum(counts)[1:-2:2]  # count <= e[k-1]
            return (le_prev * width + offsets[2:-1:2]) / n

        assert self.ref_offsets is not None and st.offsets is not None
        ir = interval_integrals(self.ref_counts, self.ref_offsets, len(self.ref))
        ic = interval_integrals(st.counts, st.offsets, st.n)
        tails = (st.offsets[0] + st.offsets[-1]) / st.n
        dist = tails + float(np.sum(np.abs(ir - ic)))
        return dist / max(self.ref_std, _drift.WASSERSTEIN_MIN_STD)


class CategoricalFeature:
    """The fixed reference side of a categorical feature: its categories and their counts."""

    def __init__(self, ref: np.ndarray, *, max_new: int = 1000):
        keys = Counter(_cat_key(v) for v in ref.tolist()) if ref.dtype == object else None
        if keys is None:
            cats, counts = np.unique(ref, return_counts=True)
            keys = Counter(dict(zip(cats.tolist(), counts.tolist())))
        self.categories: list[Any] = list(keys)
        self.index = {k: i for i, k in enumerate(self.categories)}
        self.ref_counts = np.array([keys[k] for k in self.categories], dtype=np.int64)
        self.n_ref = int(self.ref_counts.sum())
        self.max_new = max_new

    def empty(self) -> CategoricalState:
        """The state of no rows."""
        return CategoricalState(np.zeros(len(self.categories), dtype=np.int64), max_new=self.max_new)

    def summarize(self, x: np.ndarray) -> CategoricalState:
        """The state of one batch of values (NaN / None counted as missing)."""
        st = self.empty()
        missing = _drift.missing_mask(x)
        k = int(missing.sum())
        if k:
            st.n_missing = k
            x = x[~missing]
        if x.size == 0:
            return st
        batch: dict[Any, int]
        if x.dtype == object:
            batch = Counter(_cat_key(v) for v in x.tolist())
        else:
            u, uc = np.unique(x, return_counts=True)
            batch = dict(zip(u.tolist(), uc.tolist()))
        for key, count in batch.items():
            i = self.index.get(key)
            if i is not None:
                st.counts[i] += count
            else:
                st.add_new(key, count)
        st.n = int(x.size)
        return st

    def _table(self, st: CategoricalState) -> tuple[list[Any], np.ndarray, np.ndarray]:
        new = list(st.new)
        ref = np.concatenate([self.ref_counts, np.zeros(len(new), dtype=np.int64)])
        cur = np.concatenate([st.counts, np.array([st.new[k] for k in new], dtype=np.int64)])
        return [*self.categories, *new], ref, cur

    def _histogram(self, cats: list[Any], ref: np.ndarray, cur: np.ndarray) -> Histogram:
        if len(cats) > MAX_HIST_CATEGORIES:  # keep the most frequent bars, lump the rest
            share = ref / max(self.n_ref, 1) + cur / max(int(cur.sum()), 1)
            top = np.sort(np.argsort(-share, kind="stable")[: MAX_HIST_CATEGORIES - 1])
            rest = np.ones(len(cats), dtype=bool)
            rest[top] = False
            cats = [cats[i] for i in top] + [OTHER]
            ref = np.append(ref[top], ref[rest].sum())
            cur = np.append(cur[top], cur[rest].sum())
        return Histogram(list(cats), ref.tolist(), cur.tolist())

    def result(self, st: CategoricalState, test: str, threshold: float, name: str,
               rows: np.ndarray | None = None) -> DriftResult:
        """The feature's drift from its category counts (always exact; ``rows`` unused)."""
        cats, ref, cur = self._table(st)
        new = sorted(st.new.items(), key=lambda kv: -kv[1])[:MAX_LISTED_NEW]
        quality: dict[str, Any] = dict(name=name, missing_share=_share(st.n_missing, st.n + st.n_missing),
                       new_categories=[k for k, _ in new], histogram=self._histogram(cats, ref, cur),
                       n_reference=self.n_ref, n_current=st.n)
        if st.n == 0:
            return DriftResult(test=test, statistic=math.nan, p_value=None, threshold=threshold,
                               drifted=False, **quality)
        keep = (ref + cur) > 0
        cats = [k for k, kept in zip(cats, keep) if kept]
        ref, cur = ref[keep], cur[keep]
        if test == "z_proportion" and len(cats) > 2:
            test = "chi2"  # a third value appeared: the binary test no longer applies
        if test == "chi2":
            stat, p = _drift.chi2_from_counts(ref, cur)
        elif test == "z_proportion":
            if len(cats) < 2:
                stat, p = 0.0, 1.0
            else:
                pos = max(range(2), key=lambda i: _drift.category_sort_key(cats[i]))
                stat, p = _drift.z_from_counts(ref[pos], self.n_ref, cur[pos], st.n)
        elif test == "jensen_shannon":
            stat, p = _drift.js_from_counts(ref, cur), None
        else:
            raise InvalidArgumentError(f"test {test!r} needs numerical data; categorical features take chi2, "
                                       "z_proportion or jensen_shannon")
        stat, p = float(stat), None if p is None else float(p)
        return DriftResult(test=test, statistic=stat, p_value=p, threshold=threshold,
                           drifted=_drift.verdict(stat, p, threshold), **quality)
