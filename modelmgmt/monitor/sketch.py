"""Bounded-memory summaries of one feature's current data, against its reference.

A numerical feature keeps (a) the current rows themselves while they fit in ``window`` and
(b) always, a histogram over fixed edges taken from the reference: every distinct reference
value when there are at most ``max_bins`` of them, else ``max_bins`` reference quantiles,
plus the PSI / Jensen-Shannon quantile edges. Each edge has two slots — values equal to it
and values strictly between it and the previous edge — and each slot keeps a count and the
sum of the values' distances to its edge. Memory is fixed by the reference; it does not grow
with the rows observed.

While the window holds every current row, tests run on the rows and equal ``mm.drift``
exactly. Past the window they run on the histogram:

- KS: the largest CDF gap over all slots. Exact when the edges are all the reference's
  distinct values (then the reference CDF is flat between edges); p-value asymptotic, as
  scipy's for samples over 10,000.
- Wasserstein: exact in the tails (the distance sums), and per interval the integral of
  the CDF difference — exact unless the two CDFs cross inside one interval.
- PSI and Jensen-Shannon: exact (their bin edges are histogram edges).

A categorical feature keeps exact category counts (new categories past ``max_new`` share
one "other" bucket), so chi2, z_proportion and Jensen-Shannon are always exact.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import attrs
import numpy as np

from modelmgmt import drift as _drift
from modelmgmt.errors import InvalidArgumentError

__all__ = ["NumericSketch", "CategoricalSketch", "OTHER"]

#: the bucket for new categories past ``max_new``
OTHER = "__other__"


def _cat_key(v: Any) -> Any:
    """A hashable key for a category value (numpy scalars become Python values)."""
    return v.item() if isinstance(v, np.generic) else v


class NumericSketch:
    """Reference histogram plus the current window's rows or histogram, for one feature."""

    def __init__(self, ref: np.ndarray, *, window: int, max_bins: int = 1000, psi_bins: int = 10,
                 offsets: bool = True):
        self.ref = np.sort(np.asarray(ref, dtype=np.float64))
        self.ref_std = float(np.std(self.ref))
        self.window = window
        uniq = np.unique(self.ref)
        self.exact_ks = len(uniq) <= max_bins
        edges = uniq if self.exact_ks else np.unique(np.quantile(self.ref, np.linspace(0, 1, max_bins + 1)))
        self.psi_inner = _drift.quantile_inner_edges(self.ref, psi_bins)
        self.edges = np.union1d(edges, self.psi_inner)
        e = self.edges
        self._centre = float(self.ref[len(self.ref) // 2])
        # slot -> PSI bin (see module docstring: slot 2k is (e[k-1], e[k]), 2k+1 is == e[k])
        psi_map = np.empty(2 * len(e) + 1, dtype=np.intp)
        psi_map[0:-1:2] = np.searchsorted(self.psi_inner, e, side="left")
        psi_map[1::2] = np.searchsorted(self.psi_inner, e, side="right")
        psi_map[-1] = len(self.psi_inner)
        self._psi_map = psi_map
        self._need_offsets = True
        self.ref_counts, self.ref_offsets = self._bin(self.ref)
        self._need_offsets = offsets  # only the Wasserstein distance reads the current offsets
        self.ref_psi = np.bincount(psi_map, weights=self.ref_counts, minlength=len(self.psi_inner) + 1)
        self.reset()

    def reset(self) -> None:
        """Forget the current data."""
        n_slots = 2 * len(self.edges) + 1
        self.counts = np.zeros(n_slots, dtype=np.int64)
        self.offsets = np.zeros(n_slots, dtype=np.float64)
        self.n = 0
        self.n_missing = 0
        self._rows: list[np.ndarray] | None = []
        self._n_rows = 0

    def nbytes(self) -> int:
        """Bytes held for the current data (histogram plus buffered rows)."""
        rows = sum(r.nbytes for r in self._rows) if self._rows else 0
        return int(self.counts.nbytes + self.offsets.nbytes + rows)

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
        bounds[1:-1:2] = np.searchsorted(s, e, side="left")
        bounds[2:-1:2] = np.searchsorted(s, e, side="right")
        bounds[-1] = len(s)
        counts = np.diff(bounds)
        if not self._need_offsets:
            return counts.astype(np.int64, copy=False), None
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
        return counts.astype(np.int64, copy=False), offsets

    def _bin_small(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e = self.edges
        m = len(e)
        idx = np.searchsorted(e, x, side="left")
        at = e[np.minimum(idx, m - 1)]
        slot = 2 * idx + (x == at)  # idx == m gives at = e[-1] < x, never equal
        counts = np.zeros(2 * m + 1, dtype=np.int64)
        offsets = np.zeros(2 * m + 1)
        np.add.at(counts, slot, 1)
        np.add.at(offsets, slot, np.abs(x - at))
        return counts, offsets

    def update(self, x: np.ndarray) -> None:
        """Add one batch of float values (NaN counted as missing)."""
        missing = np.isnan(x)
        k = int(missing.sum())
        if k:
            self.n_missing += k
            x = x[~missing]
        if x.size == 0:
            return
        c, o = self._bin(x)
        self.counts += c
        if o is not None:
            self.offsets += o
        self.n += int(x.size)
        if self._rows is not None:
            if self._n_rows + x.size <= self.window:
                self._rows.append(np.array(x, dtype=np.float64))
                self._n_rows += int(x.size)
            else:
                self._rows = None  # past the window: the histogram takes over

    @property
    def exact(self) -> bool:
        """True while every current row is kept (tests then equal mm.drift exactly)."""
        return self._rows is not None

    def nan_share(self) -> float:
        total = self.n + self.n_missing
        return self.n_missing / total if total else 0.0

    def test(self, test: str, threshold: float) -> _drift.DriftResult | None:
        """Run ``test`` on the current data; None when no (non-missing) value was observed."""
        if self.n == 0:
            return None
        if self._rows is not None:
            cur = np.concatenate(self._rows)
            res = _drift.TESTS[test](self.ref, cur, threshold=threshold)
            return attrs.evolve(res, nan_share=self.nan_share())
        if test == "ks":
            d = self.ks_statistic()
            stat, p = d, _drift.ks_p_value(d, len(self.ref), self.n)
        elif test == "wasserstein":
            if not self._need_offsets:
                raise InvalidArgumentError("this sketch was built without distance sums; create it with offsets=True")
            stat, p = self.wasserstein_statistic(), None
        elif test in ("psi", "jensen_shannon"):
            cur_psi = np.bincount(self._psi_map, weights=self.counts, minlength=len(self.psi_inner) + 1)
            fn = _drift.psi_from_counts if test == "psi" else _drift.js_from_counts
            stat, p = fn(self.ref_psi, cur_psi), None
        else:
            raise InvalidArgumentError(f"test {test!r} needs categorical data; numerical features take ks, "
                             "wasserstein, psi or jensen_shannon")
        drifted = p < threshold if p is not None else stat >= threshold
        return _drift.DriftResult(
            test=test, statistic=float(stat), p_value=p, threshold=threshold, drifted=bool(drifted),
            nan_share=self.nan_share(), n_reference=len(self.ref), n_current=self.n,
        )

    def ks_statistic(self) -> float:
        """Largest gap between the two CDFs over the histogram slots."""
        gap = np.cumsum(self.ref_counts) / len(self.ref) - np.cumsum(self.counts) / self.n
        return float(np.max(np.abs(gap)))

    def wasserstein_statistic(self) -> float:
        """Wasserstein-1 distance from the histograms, over the reference std (as mm.drift)."""
        e = self.edges
        width = np.diff(e)

        def interval_integrals(counts: np.ndarray, offsets: np.ndarray, n: int) -> np.ndarray:
            # integral of the CDF over each (e[k-1], e[k]), k = 1 .. m-1
            le_prev = np.cumsum(counts)[1:-2:2]  # count <= e[k-1]
            return (le_prev * width + offsets[2:-1:2]) / n

        ir = interval_integrals(self.ref_counts, self.ref_offsets, len(self.ref))
        ic = interval_integrals(self.counts, self.offsets, self.n)
        tails = (self.offsets[0] + self.offsets[-1]) / self.n
        dist = tails + float(np.sum(np.abs(ir - ic)))
        return dist / max(self.ref_std, _drift.WASSERSTEIN_MIN_STD)


class CategoricalSketch:
    """Exact category counts of the reference and of the current data, for one feature."""

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
        self.reset()

    def reset(self) -> None:
        """Forget the current data."""
        self.counts = np.zeros(len(self.categories), dtype=np.int64)
        self.new: dict[Any, int] = {}
        self.n = 0
        self.n_missing = 0

    def nbytes(self) -> int:
        """Approximate bytes held for the current data."""
        return int(self.counts.nbytes + 64 * len(self.new))

    def update(self, x: np.ndarray) -> None:
        """Add one batch of values (NaN / None counted as missing)."""
        missing = _drift._is_missing_mask(x)
        k = int(missing.sum())
        if k:
            self.n_missing += k
            x = x[~missing]
        if x.size == 0:
            return
        if x.dtype == object:
            batch = Counter(_cat_key(v) for v in x.tolist())
        else:
            u, c = np.unique(x, return_counts=True)
            batch = dict(zip(u.tolist(), c.tolist()))
        for key, c in batch.items():
            i = self.index.get(key)
            if i is not None:
                self.counts[i] += c
            elif key in self.new or len(self.new) < self.max_new:
                self.new[key] = self.new.get(key, 0) + c
            else:
                self.new[OTHER] = self.new.get(OTHER, 0) + c
        self.n += int(x.size)

    def nan_share(self) -> float:
        total = self.n + self.n_missing
        return self.n_missing / total if total else 0.0

    def test(self, test: str, threshold: float) -> _drift.DriftResult | None:
        """Run ``test`` on the category counts; None when nothing was observed."""
        if self.n == 0:
            return None
        new = list(self.new)
        ref = np.concatenate([self.ref_counts, np.zeros(len(new), dtype=np.int64)])
        cur = np.concatenate([self.counts, np.array([self.new[k] for k in new], dtype=np.int64)])
        keep = (ref + cur) > 0
        cats = [k for k, kept in zip([*self.categories, *new], keep) if kept]
        ref, cur = ref[keep], cur[keep]
        if test == "z_proportion" and len(cats) > 2:
            test = "chi2"  # a third value appeared: the binary test no longer applies
        if test == "chi2":
            stat, p = _drift.chi2_from_counts(ref, cur)
        elif test == "z_proportion":
            if len(cats) < 2:
                stat, p = 0.0, 1.0
            else:
                pos = max(range(2), key=lambda i: _drift._sort_key(cats[i]))
                stat, p = _drift.z_from_counts(ref[pos], self.n_ref, cur[pos], self.n)
        elif test == "jensen_shannon":
            stat, p = _drift.js_from_counts(ref, cur), None
        else:
            raise InvalidArgumentError(f"test {test!r} needs numerical data; categorical features take chi2, "
                             "z_proportion or jensen_shannon")
        drifted = p < threshold if p is not None else stat >= threshold
        if not math.isfinite(stat):
            drifted = True
        return _drift.DriftResult(
            test=test, statistic=float(stat), p_value=None if p is None else float(p),
            threshold=threshold, drifted=bool(drifted), nan_share=self.nan_share(),
            n_reference=self.n_ref, n_current=self.n,
        )
