"""Drift tests: compare a current sample of one feature with its reference sample.

Every function takes two 1-D samples (reference first) and returns a :class:`DriftResult`
with ``.statistic``, ``.p_value`` (None for distances), ``.threshold`` and ``.drifted``.
Statistical tests drift when ``p_value < threshold``; distances when ``statistic >=
threshold``. Where scipy has the test, the numbers are scipy's.

Missing values (NaN, None) are not part of any statistic: they are dropped from both samples
and their share of the current sample is reported as ``missing_share``.

>>> import numpy as np
>>> from modelmgmt import drift
>>> rng = np.random.default_rng(0)
>>> ref, cur = rng.normal(size=500), rng.normal(0.5, 1, size=500)
>>> r = drift.ks(ref, cur)
>>> r.test, r.drifted, r.p_value < 0.05
('ks', True, True)
>>> drift.ks(ref, rng.normal(size=500)).drifted
False
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Callable, NamedTuple

import attrs
import numpy as np

from modelmgmt.errors import InvalidArgumentError

__all__ = [
    "DriftResult",
    "Histogram",
    "verdict",
    "ks",
    "chi2",
    "psi",
    "wasserstein",
    "jensen_shannon",
    "z_proportion",
    "TESTS",
    "DEFAULT_THRESHOLDS",
    "missing_mask",
    "check_threshold",
    "category_sort_key",
    "ks_p_value",
    "chi2_from_counts",
    "z_from_counts",
    "psi_from_counts",
    "js_from_counts",
    "quantile_inner_edges",
    "PSI_EPS",
    "KS_EXACT_MAX_N",
]

#: default threshold per test: a p-value level for tests, a distance for distances
DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chi2": 0.05,
    "z_proportion": 0.05,
    "psi": 0.1,
    "wasserstein": 0.1,
    "jensen_shannon": 0.1,
}
#: tests whose result has a p-value (drift when p < threshold)
P_VALUE_TESTS = frozenset({"ks", "chi2", "z_proportion"})
#: tests that read their input as categories rather than numbers
CATEGORICAL_TESTS = frozenset({"chi2", "z_proportion"})
#: share given to an empty bin in PSI so that the logarithm stays finite (as Evidently)
PSI_EPS = 1e-4
#: smallest reference standard deviation the Wasserstein distance is divided by
WASSERSTEIN_MIN_STD = 1e-3
#: like scipy's method="auto": exact KS p-value when both samples are at most this large
KS_EXACT_MAX_N = 10_000


class Histogram(NamedTuple):
    """What to draw for one feature: bar edges and the two samples' counts.

    Numerical feature: ``edges`` are n+1 increasing numbers (equal-width bins over the
    reference's min..max; the last bin includes its right edge, as ``numpy.histogram``) and
    values outside that range are in no bar (see ``out_of_range_share``). Categorical
    feature: ``edges`` are the n category values, one per bar.
    """

    edges: list
    reference_counts: list[int]
    current_counts: list[int]


def _num(x: float | None) -> float | None:
    """JSON has no NaN/inf: encode them as None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _json_value(v: Any) -> Any:
    v = v.item() if isinstance(v, np.generic) else v
    return v if v is None or isinstance(v, (str, int, float, bool)) else str(v)


@attrs.frozen(kw_only=True)
class DriftResult:
    """Drift of one feature (or of the predictions, or of two samples given to a test).

    ``statistic``, ``p_value`` (None for distances), ``threshold`` and the verdict
    ``drifted`` (see :func:`verdict`); data quality of the current sample: ``missing_share``
    (NaN/None among all its values), ``out_of_range_share`` (non-missing values outside the
    reference's min..max, numerical features), ``new_categories`` (values the reference never
    had, categorical features, most frequent first); ``histogram`` for plotting (a
    :class:`Histogram`, set by the Monitor). ``statistic`` is NaN and ``drifted`` False while
    no value of the feature was observed.
    """

    test: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    name: str = ""
    missing_share: float = 0.0
    n_reference: int = 0
    n_current: int = 0
    out_of_range_share: float = 0.0
    new_categories: list = attrs.field(factory=list)
    histogram: Histogram | None = attrs.field(default=None, repr=False)

    @property
    def nan_share(self) -> float:
        """The earlier name of ``missing_share``."""
        return self.missing_share

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN and infinities become None)."""
        h = self.histogram
        return {
            "name": self.name, "test": self.test, "statistic": _num(self.statistic),
            "p_value": _num(self.p_value), "threshold": self.threshold, "drifted": self.drifted,
            "missing_share": self.missing_share, "n_reference": self.n_reference,
            "n_current": self.n_current, "out_of_range_share": self.out_of_range_share,
            "new_categories": [_json_value(v) for v in self.new_categories],
            "histogram": None if h is None else {
                "edges": [_json_value(v) for v in h.edges],
                "reference_counts": [int(c) for c in h.reference_counts],
                "current_counts": [int(c) for c in h.current_counts],
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DriftResult":
        """Rebuild from :meth:`to_dict` output (reports saved before 0.2 included)."""
        d = dict(d)
        if "nan_share" in d:
            d["missing_share"] = d.pop("nan_share")
        d["statistic"] = math.nan if d.get("statistic") is None else d["statistic"]
        h = d.get("histogram")
        if h is not None:
            d["histogram"] = Histogram(list(h["edges"]), list(h["reference_counts"]), list(h["current_counts"]))
        return cls(**d)


def verdict(statistic: float, p_value: float | None, threshold: float) -> bool:
    """The drift rule, for every test: a test with a p-value drifts when ``p_value <
    threshold``; a distance when ``statistic >= threshold`` (an infinite one too)."""
    if p_value is not None:
        return bool(p_value < threshold)
    return bool(statistic >= threshold) or math.isinf(statistic)


# ----------------------------------------------------------------------------- input checks


def missing_mask(a: np.ndarray) -> np.ndarray:
    """True where a 1-D sample holds NaN or None."""
    if a.dtype.kind in "fc":
        return np.isnan(a)
    if a.dtype == object:
        return np.fromiter(
            (v is None or (isinstance(v, float) and math.isnan(v)) for v in a), bool, len(a)
        )
    return np.zeros(len(a), dtype=bool)


def _sample(x: Any, name: str, *, numeric: bool) -> tuple[np.ndarray, int]:
    """Return (values without missing, number of missing) of a 1-D sample, or raise."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise InvalidArgumentError(f"{name} must be a 1-D sample of one feature; got {a.ndim}-D shape {a.shape}")
    if a.shape[0] == 0:
        raise InvalidArgumentError(f"{name} must not be empty; got 0 values")
    if numeric:
        if a.dtype.kind == "b":
            a = a.astype(np.float64)
        if a.dtype.kind not in "iuf":
            raise InvalidArgumentError(f"{name} must be numeric for this test; got dtype {a.dtype}")
        a = a.astype(np.float64, copy=False)
        if np.isinf(a).any():
            raise InvalidArgumentError(f"{name} must not contain infinite values")
    missing = missing_mask(a)
    n_missing = int(missing.sum())
    if n_missing:
        a = a[~missing]
    if a.shape[0] == 0:
        raise InvalidArgumentError(f"{name} has only missing values (NaN/None); nothing to test")
    return a, n_missing


def check_threshold(test: str, threshold: float | None) -> float:
    """``threshold`` as a float >= 0, or the test's default when it is None."""
    t = DEFAULT_THRESHOLDS[test] if threshold is None else threshold
    if isinstance(t, bool) or not isinstance(t, (int, float, np.floating, np.integer)):
        raise InvalidArgumentError(f"threshold must be a number; got {type(t).__name__}")
    t = float(t)
    if not (math.isfinite(t) and t >= 0):
        raise InvalidArgumentError(f"threshold must be a finite number >= 0; got {t}")
    return t


def _result(test: str, statistic: float, p_value: float | None, threshold: float,
            n_ref: int, n_cur: int, cur_missing: int) -> DriftResult:
    statistic = float(statistic)
    p_value = None if p_value is None else float(p_value)
    total = n_cur + cur_missing
    return DriftResult(
        test=test, statistic=statistic, p_value=p_value, threshold=threshold,
        drifted=verdict(statistic, p_value, threshold),
        missing_share=cur_missing / total if total else 0.0,
        n_reference=int(n_ref), n_current=int(n_cur),
    )


# ----------------------------------------------------------------------------- from statistics
# The Monitor computes counts and statistics from its streaming sketches and finishes with
# these helpers, so a test gives the same number whichever way its inputs were gathered.


def ks_p_value(d: float, n1: int, n2: int) -> float:
    """Two-sided KS p-value of statistic ``d`` for samples of sizes n1, n2 (scipy's "auto").

    Exact when both sizes are at most ``KS_EXACT_MAX_N`` (through scipy's own exact routine),
    else scipy's asymptotic formula.
    """
    from scipy.stats import kstwo

    if max(n1, n2) <= KS_EXACT_MAX_N:
        try:  # scipy's private exact routine; fall back to the asymptotic formula without it
            from scipy.stats._stats_py import _attempt_exact_2kssamp

            ok, _, prob = _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, "two-sided")
            if ok:
                return float(np.clip(prob, 0.0, 1.0))
        except (ImportError, TypeError, ValueError):
            pass
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(kstwo.sf(d, np.round(en)), 0.0, 1.0))


def chi2_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity of a 2 x k table (scipy.stats.chi2_contingency)."""
    from scipy.stats import chi2_contingency

    table = np.vstack([ref_counts, cur_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:  # one category in both samples: nothing can differ
        return 0.0, 1.0
    res = chi2_contingency(table)
    return float(res.statistic), float(res.pvalue)


def z_from_counts(x1: float, n1: float, x2: float, n2: float) -> tuple[float, float]:
    """Pooled two-proportion z-test: (z, two-sided p-value) of x1/n1 against x2/n2."""
    from scipy.stats import norm

    p1, p2 = x1 / n1, x2 / n2
    p = (x1 + x2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0.0:
        return 0.0, 1.0
    z = (p1 - p2) / se
    return float(z), float(2 * norm.sf(abs(z)))


def psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Population stability index of two binned samples; empty bins get share ``PSI_EPS``."""
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    r = r / r.sum()
    c = c / c.sum()
    r = np.where(r == 0, PSI_EPS, r)
    c = np.where(c == 0, PSI_EPS, c)
    return float(np.sum((c - r) * np.log(c / r)))


def js_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log) of two binned samples (scipy's jensenshannon)."""
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(np.asarray(ref_counts, float), np.asarray(cur_counts, float)))


def quantile_inner_edges(ref_sorted: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (k/bins), duplicates merged."""
    q = np.quantile(ref_sorted, np.linspace(0.0, 1.0, bins + 1))
    return np.unique(q[1:-1])


def _check_bins(bins: Any) -> int:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)):
        raise InvalidArgumentError(f"bins must be an int; got {type(bins).__name__}")
    if bins < 2:
        raise InvalidArgumentError(f"bins must be >= 2; got {bins}")
    return int(bins)


def _bin_counts(values: np.ndarray, inner: np.ndarray) -> np.ndarray:
    # bin i holds inner[i-1] <= x < inner[i]; the outer bins are open-ended
    return np.bincount(np.searchsorted(inner, values, side="right"), minlength=len(inner) + 1)


def _category_counts(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    if ref.dtype != object and cur.dtype != object and ref.dtype.kind == cur.dtype.kind:
        cats, inv = np.unique(np.concatenate([ref, cur]), return_inverse=True)
        counts_r = np.bincount(inv[: len(ref)], minlength=len(cats))
        counts_c = np.bincount(inv[len(ref):], minlength=len(cats))
        return counts_r, counts_c, cats.tolist()
    cr, cc = Counter(ref.tolist()), Counter(cur.tolist())
    keys = list(dict.fromkeys([*cr, *cc]))
    return (np.array([cr[k] for k in keys], dtype=np.int64),
            np.array([cc[k] for k in keys], dtype=np.int64), keys)


# ----------------------------------------------------------------------------- public tests


def ks(ref: Any, cur: Any, threshold: float = 0.05) -> DriftResult:
    """Two-sample Kolmogorov-Smirnov test (scipy.stats.ks_2samp, method="auto", two-sided).

    Exact p-value when both samples have at most 10,000 values, asymptotic otherwise —
    scipy's rule. Drift when ``p_value < threshold``.
    """
    t = check_threshold("ks", threshold)
    r, _ = _sample(ref, "ref", numeric=True)
    c, miss = _sample(cur, "cur", numeric=True)
    if max(len(r), len(c)) <= KS_EXACT_MAX_N:
        from scipy.stats import ks_2samp

        res = ks_2samp(r, c)
        return _result("ks", res.statistic, res.pvalue, t, len(r), len(c), miss)
    r, c = np.sort(r), np.sort(c)
    allv = np.concatenate([r, c])
    diff = np.searchsorted(r, allv, side="right") / len(r) - np.searchsorted(c, allv, side="right") / len(c)
    d = float(max(diff.max(), np.clip(-diff.min(), 0, 1)))
    return _result("ks", d, ks_p_value(d, len(r), len(c)), t, len(r), len(c), miss)


def chi2(ref: Any, cur: Any, threshold: float = 0.05) -> DriftResult:
    """Chi-square test that two categorical samples share one distribution.

    The 2 x k table of category counts (reference row, current row) goes to
    ``scipy.stats.chi2_contingency`` (test of homogeneity; Yates' correction when k = 2,
    scipy's default). A category seen in only one sample is a column like any other.
    Drift when ``p_value < threshold``.
    """
    t = check_threshold("chi2", threshold)
    r, _ = _sample(ref, "ref", numeric=False)
    c, miss = _sample(cur, "cur", numeric=False)
    counts_r, counts_c, _ = _category_counts(r, c)
    stat, p = chi2_from_counts(counts_r, counts_c)
    return _result("chi2", stat, p, t, len(r), len(c), miss)


def z_proportion(ref: Any, cur: Any, threshold: float = 0.05) -> DriftResult:
    """Pooled two-proportion z-test for a binary feature (at most two distinct values).

    The proportion of the larger value (``True``, ``1``, or the later one in sort order) is
    compared; the statistic is z and the p-value two-sided. Drift when ``p_value <
    threshold``. More than two distinct values raise ValueError (use :func:`chi2`).
    """
    t = check_threshold("z_proportion", threshold)
    r, _ = _sample(ref, "ref", numeric=False)
    c, miss = _sample(cur, "cur", numeric=False)
    counts_r, counts_c, cats = _category_counts(r, c)
    if len(cats) > 2:
        raise InvalidArgumentError(f"z_proportion needs a binary feature (at most 2 distinct values); got {len(cats)}")
    if len(cats) == 1:
        return _result("z_proportion", 0.0, 1.0, t, len(r), len(c), miss)
    order = sorted(range(2), key=lambda i: category_sort_key(cats[i]))
    pos = order[1]
    z, p = z_from_counts(counts_r[pos], len(r), counts_c[pos], len(c))
    return _result("z_proportion", z, p, t, len(r), len(c), miss)


def category_sort_key(v: Any) -> tuple:
    """Orders mixed category values: numbers by value, others by type name then value."""
    return (type(v).__name__, v) if not isinstance(v, (int, float, np.number)) else ("", v)


def psi(ref: Any, cur: Any, bins: int = 10, threshold: float = 0.1) -> DriftResult:
    """Population stability index on ``bins`` bins cut at the reference's quantiles.

    Bin i holds ``q[i] <= x < q[i+1]`` with the outer bins open-ended; repeated quantiles
    (discrete data) merge bins. Empty bins count as share ``PSI_EPS`` (1e-4). Usual reading:
    < 0.1 no change, 0.1-0.25 moderate, >= 0.25 significant. No p-value; drift when
    ``statistic >= threshold``.
    """
    t = check_threshold("psi", threshold)
    bins = _check_bins(bins)
    r, _ = _sample(ref, "ref", numeric=True)
    c, miss = _sample(cur, "cur", numeric=True)
    inner = quantile_inner_edges(np.sort(r), bins)
    stat = psi_from_counts(_bin_counts(r, inner), _bin_counts(c, inner))
    return _result("psi", stat, None, t, len(r), len(c), miss)


def wasserstein(ref: Any, cur: Any, threshold: float = 0.1) -> DriftResult:
    """Wasserstein-1 distance divided by the reference's standard deviation (as Evidently).

    ``scipy.stats.wasserstein_distance(ref, cur) / max(std(ref), 1e-3)``; so 0.1 means the
    distributions are a tenth of a standard deviation apart. Drift when ``statistic >=
    threshold``.
    """
    from scipy.stats import wasserstein_distance

    t = check_threshold("wasserstein", threshold)
    r, _ = _sample(ref, "ref", numeric=True)
    c, miss = _sample(cur, "cur", numeric=True)
    stat = wasserstein_distance(r, c) / max(float(np.std(r)), WASSERSTEIN_MIN_STD)
    return _result("wasserstein", stat, None, t, len(r), len(c), miss)


def jensen_shannon(ref: Any, cur: Any, bins: int | None = 10, threshold: float = 0.1) -> DriftResult:
    """Jensen-Shannon distance (scipy.spatial.distance.jensenshannon, natural log).

    Numerical samples are binned like :func:`psi` (``bins`` reference-quantile bins);
    ``bins=None`` or a non-numeric sample compares category shares instead. Ranges from 0
    to sqrt(ln 2) ~ 0.833. Drift when ``statistic >= threshold``.
    """
    t = check_threshold("jensen_shannon", threshold)
    ra, ca = np.asarray(ref), np.asarray(cur)
    numeric = bins is not None and ra.dtype.kind in "biuf" and ca.dtype.kind in "biuf"
    r, _ = _sample(ra, "ref", numeric=numeric)
    c, miss = _sample(ca, "cur", numeric=numeric)
    if numeric:
        inner = quantile_inner_edges(np.sort(r), _check_bins(bins))
        counts_r, counts_c = _bin_counts(r, inner), _bin_counts(c, inner)
    else:
        counts_r, counts_c, _ = _category_counts(r, c)
    return _result("jensen_shannon", js_from_counts(counts_r, counts_c), None, t, len(r), len(c), miss)


#: test name -> function
TESTS: dict[str, Callable[..., DriftResult]] = {
    "ks": ks,
    "chi2": chi2,
    "z_proportion": z_proportion,
    "psi": psi,
    "wasserstein": wasserstein,
    "jensen_shannon": jensen_shannon,
}
