"""Regression metrics (MSE, RMSE, MAE, R², explained variance) from mergeable moments.

A batch is summarised by :class:`RegStats` (total weight, weighted sums of |e| and e², and the
weighted mean and centred sum of squares of y and of the residual e = y - ŷ). Two summaries
merge exactly with Chan et al.'s parallel formula, so the classes in
:mod:`modelmgmt.metrics.stateful` give the same numbers on chunks as the functions on the
whole data. Outputs may be 1-D or (n, n_outputs); ``multioutput`` says how the per-output
scores combine, as scikit-learn's argument ("uniform_average" by default, "raw_values",
output weights, and for R² / explained variance "variance_weighted").
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import attrs
import numpy as np

from modelmgmt._validation import check_same_length
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.metrics._checks import as_weights

__all__ = ["mse", "rmse", "mae", "r2", "explained_variance", "RegStats", "reg_stats", "check_multioutput", "MULTIOUTPUT"]


def _as_target(y: Any, name: str) -> np.ndarray:
    a = np.asarray(y)
    if a.dtype.kind in "USO":  # numeric strings convert, as sklearn's check_array does
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"{name} must be numeric (or strings of numbers); {exc}") from None
    if a.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"{name} must be numeric; got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a.ravel()
    if a.ndim not in (1, 2) or a.shape[0] == 0:
        raise InvalidArgumentError(f"{name} must be a non-empty 1-D or 2-D array; got shape {np.shape(y)}")
    return a


def _check_finite(a: np.ndarray, name: str) -> None:
    if not np.isfinite(a).all():
        raise InvalidArgumentError(f"{name} must be finite; it contains NaN or infinite values")


def _merge_opt(a, b, fn):
    return None if a is None or b is None else fn(a, b)


@attrs.frozen
class RegStats:
    """Sufficient statistics of a regression batch, one entry per output (None: not tracked)."""

    n: int
    weight: np.ndarray = attrs.field(eq=False)
    abs_err: np.ndarray | None = attrs.field(default=None, eq=False)
    sq_err: np.ndarray | None = attrs.field(default=None, eq=False)
    mean_y: np.ndarray | None = attrs.field(default=None, eq=False)
    m2_y: np.ndarray | None = attrs.field(default=None, eq=False)
    mean_e: np.ndarray | None = attrs.field(default=None, eq=False)
    m2_e: np.ndarray | None = attrs.field(default=None, eq=False)

    def merge(self, other: "RegStats") -> "RegStats":
        """Combine two summaries (Chan's parallel update for the centred sums)."""
        if self.weight.shape != other.weight.shape:
            raise InvalidArgumentError(f"number of outputs differs: {self.weight.shape[0]} vs {other.weight.shape[0]}")
        w = self.weight + other.weight
        with np.errstate(invalid="ignore", divide="ignore"):
            fb = np.where(w != 0, other.weight / w, 0.0)
            cross = np.where(w != 0, self.weight * other.weight / w, 0.0)

        def moments(ma, m2a, mb, m2b):
            if ma is None or mb is None:
                return None, None
            d = mb - ma
            return ma + d * fb, m2a + m2b + d * d * cross

        mean_y, m2_y = moments(self.mean_y, self.m2_y, other.mean_y, other.m2_y)
        mean_e, m2_e = moments(self.mean_e, self.m2_e, other.mean_e, other.m2_e)
        add = np.add
        return RegStats(
            n=self.n + other.n,
            weight=w,
            abs_err=_merge_opt(self.abs_err, other.abs_err, add),
            sq_err=_merge_opt(self.sq_err, other.sq_err, add),
            mean_y=mean_y,
            m2_y=m2_y,
            mean_e=mean_e,
            m2_e=m2_e,
        )


#: every statistic: absolute error, squared error, moments of y, moments of the residual
ALL_STATS = frozenset({"abs", "sq", "y", "e"})


def reg_stats(
    y_true: Any, y_pred: Any, sample_weight: Any = None, need: frozenset = ALL_STATS, allow_all_zero: bool = False
) -> RegStats:
    """Validate one batch and summarise it (the "update" step); ``need`` picks the statistics."""
    yt = _as_target(y_true, "y_true")
    yp = _as_target(y_pred, "y_pred")
    n = check_same_length(y_true=yt, y_pred=yp)
    if yt.shape[1:] != yp.shape[1:]:
        raise InvalidArgumentError(f"y_true and y_pred have different number of outputs ({yt.shape[1:]} != {yp.shape[1:]})")
    w = as_weights(sample_weight, n, allow_all_zero)
    e = yt - yp
    one = np.atleast_1d
    flat = yt.ndim == 1
    if w is None:
        wsum = np.full(one(yt[0]).shape, float(n))

        def total(a):
            return one(a.sum(axis=0))

        def total_sq(a):
            return one(np.dot(a, a)) if flat else (a * a).sum(axis=0)
    else:
        w = w.astype(np.float64)
        wc = w if flat else w[:, None]
        wsum = np.full(one(yt[0]).shape, w.sum())

        def total(a):  # as np.average sums (bit-identical means matter for constant targets)
            return one((a * wc).sum(axis=0))

        def total_sq(a):
            return one(np.dot(w, a * a)) if flat else (a * a * wc).sum(axis=0)

    out: dict[str, Any] = {}
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if "sq" in need:
            out["sq_err"] = total_sq(e)
        if "y" in need:
            mean_y = np.where(wsum != 0, total(yt) / wsum, 0.0)
            out["mean_y"], out["m2_y"] = mean_y, total_sq(yt - mean_y)
        if "e" in need:
            mean_e = np.where(wsum != 0, total(e) / wsum, 0.0)
            out["mean_e"], out["m2_e"] = mean_e, total_sq(e - mean_e)
        if "abs" in need:
            out["abs_err"] = total(np.abs(e, out=e))
    # NaN/inf in the inputs shows up in the sums; only then pay for the element-wise check
    if not all(np.isfinite(v).all() for v in out.values()):
        _check_finite(yt, "y_true")
        _check_finite(yp, "y_pred")
    return RegStats(n=n, weight=wsum, **out)


def _check_weight(s: RegStats) -> None:
    if np.any(s.weight == 0):
        raise InvalidArgumentError("the sample weights sum to zero; the metric is undefined")


#: multioutput strings every regression metric takes; R² and explained variance add "variance_weighted"
MULTIOUTPUT = ("raw_values", "uniform_average")


def check_multioutput(multioutput: Any, allowed: tuple[str, ...] = MULTIOUTPUT) -> Any:
    """A multioutput string of ``allowed``, or per-output weights as a 1-D float array."""
    if isinstance(multioutput, str):
        if multioutput not in allowed:
            raise InvalidArgumentError(f"multioutput must be one of {allowed} or an array of output weights; got {multioutput!r}")
        return multioutput
    try:
        w = np.asarray(multioutput, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"multioutput must be one of {allowed} or an array of output weights; got {multioutput!r}") from None
    if w.ndim != 1 or not np.isfinite(w).all():
        raise InvalidArgumentError(f"multioutput weights must be a finite 1-D array; got {multioutput!r}")
    return w


def _combine(values: np.ndarray, multioutput: Any, variance: np.ndarray | None = None, single_ok: bool = False) -> Any:
    """Per-output values -> what ``multioutput`` asks for (sklearn's last step)."""
    if isinstance(multioutput, str):
        if multioutput == "raw_values":
            return values
        if multioutput == "uniform_average":
            return float(np.mean(values))
        weights = variance if variance is not None and np.any(variance != 0) else None  # "variance_weighted"
        return float(np.average(values, weights=weights))
    if values.shape[0] == 1 and not single_ok:  # (sklearn's rmse skips this check)
        raise InvalidArgumentError("Custom weights are useful only in multi-output cases.")
    if multioutput.shape[0] != values.shape[0]:
        raise InvalidArgumentError(
            f"There must be equally many custom weights ({multioutput.shape[0]}) as outputs ({values.shape[0]})."
        )
    return float(np.average(values, weights=multioutput))


def _fraction_explained(num: np.ndarray, den: np.ndarray, multioutput: Any = "uniform_average") -> Any:
    """sklearn's force_finite rule: 0/0 → 1.0, x/0 → 0.0, else 1 - num/den; then averaged."""
    out = np.ones_like(num)
    nz_den = den != 0
    nz_num = num != 0
    valid = nz_den & nz_num
    out[valid] = 1 - num[valid] / den[valid]
    out[nz_num & ~nz_den] = 0.0
    return _combine(out, multioutput, den)


def mse_from_stats(s: RegStats, multioutput: Any = "uniform_average") -> Any:
    """Mean squared error from a summary."""
    _check_weight(s)
    return _combine(s.sq_err / s.weight, multioutput)


def rmse_from_stats(s: RegStats, multioutput: Any = "uniform_average") -> Any:
    """Root mean squared error (per output, then averaged) from a summary."""
    _check_weight(s)
    return _combine(np.sqrt(s.sq_err / s.weight), multioutput, single_ok=True)


def mae_from_stats(s: RegStats, multioutput: Any = "uniform_average") -> Any:
    """Mean absolute error from a summary."""
    _check_weight(s)
    return _combine(s.abs_err / s.weight, multioutput)


def r2_from_stats(s: RegStats, multioutput: Any = "uniform_average") -> Any:
    """R² from a summary; NaN with a warning for fewer than two samples (as sklearn)."""
    if s.n < 2:
        _combine(np.zeros(s.weight.shape), multioutput)  # a bad multioutput is refused first, as sklearn
        warnings.warn("R^2 score is not well-defined with less than two samples.", UserWarning, stacklevel=3)
        return math.nan
    return _fraction_explained(s.sq_err, s.m2_y, multioutput)


def explained_variance_from_stats(s: RegStats, multioutput: Any = "uniform_average") -> Any:
    """Explained variance 1 - Var(y - ŷ) / Var(y) from a summary."""
    _check_weight(s)
    return _fraction_explained(s.m2_e / s.weight, s.m2_y / s.weight, multioutput)


def _plain_1d(y_true: Any, y_pred: Any, sample_weight: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(y_true, y_pred, residual) for the common unweighted 1-D case, else None (general path)."""
    if sample_weight is not None:
        return None
    yt = _as_target(y_true, "y_true")
    yp = _as_target(y_pred, "y_pred")
    if yt.ndim != 1 or yp.ndim != 1:
        return None
    if yt.shape[0] != yp.shape[0]:
        check_same_length(y_true=yt, y_pred=yp)
    return yt, yp


def _finite_or_raise(value: float, yt: np.ndarray, yp: np.ndarray) -> float:
    if not math.isfinite(value):
        _check_finite(yt, "y_true")
        _check_finite(yp, "y_pred")
    return value


def _fast(multioutput: Any) -> bool:
    return isinstance(multioutput, str) and multioutput == "uniform_average"


def mse(y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average") -> Any:
    """Mean squared error, as sklearn's mean_squared_error (``multioutput`` as sklearn's)."""
    multioutput = check_multioutput(multioutput)
    plain = _plain_1d(y_true, y_pred, sample_weight) if _fast(multioutput) else None
    if plain is not None:
        e = plain[0] - plain[1]
        return _finite_or_raise(float(np.dot(e, e)) / e.shape[0], *plain)
    return mse_from_stats(reg_stats(y_true, y_pred, sample_weight, frozenset({"sq"})), multioutput)


def rmse(y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average") -> Any:
    """Root mean squared error, as sklearn's root_mean_squared_error."""
    multioutput = check_multioutput(multioutput)
    plain = _plain_1d(y_true, y_pred, sample_weight) if _fast(multioutput) else None
    if plain is not None:
        e = plain[0] - plain[1]
        return _finite_or_raise(math.sqrt(float(np.dot(e, e)) / e.shape[0]), *plain)
    return rmse_from_stats(reg_stats(y_true, y_pred, sample_weight, frozenset({"sq"})), multioutput)


def mae(y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average") -> Any:
    """Mean absolute error, as sklearn's mean_absolute_error."""
    multioutput = check_multioutput(multioutput)
    plain = _plain_1d(y_true, y_pred, sample_weight) if _fast(multioutput) else None
    if plain is not None:
        e = plain[0] - plain[1]
        return _finite_or_raise(float(np.abs(e, out=e).sum()) / e.shape[0], *plain)
    return mae_from_stats(reg_stats(y_true, y_pred, sample_weight, frozenset({"abs"})), multioutput)


def r2(y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average") -> Any:
    """Coefficient of determination R², as sklearn's r2_score (constant y_true: 1.0 or 0.0).

    ``multioutput``: "uniform_average", "raw_values", "variance_weighted" or output weights.

    >>> r2([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    0.5
    """
    multioutput = check_multioutput(multioutput, (*MULTIOUTPUT, "variance_weighted"))
    plain = _plain_1d(y_true, y_pred, sample_weight) if _fast(multioutput) else None
    if plain is not None and plain[0].shape[0] >= 2:
        yt, yp = plain
        e = yt - yp
        yc = yt - yt.mean()
        num, den = float(np.dot(e, e)), float(np.dot(yc, yc))
        _finite_or_raise(num + den, yt, yp)
        if den != 0:
            return 1 - num / den if num != 0 else 1.0
        return 0.0 if num != 0 else 1.0
    return r2_from_stats(reg_stats(y_true, y_pred, sample_weight, frozenset({"sq", "y"})), multioutput)


def explained_variance(y_true: Any, y_pred: Any, *, sample_weight: Any = None, multioutput: Any = "uniform_average") -> Any:
    """Explained variance score, as sklearn's explained_variance_score."""
    multioutput = check_multioutput(multioutput, (*MULTIOUTPUT, "variance_weighted"))
    return explained_variance_from_stats(reg_stats(y_true, y_pred, sample_weight, frozenset({"y", "e"})), multioutput)
