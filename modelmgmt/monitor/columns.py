"""A Monitor's columns: reading 2-D input into columns, the automatic test choice, and the
fixed reference side of each monitored feature (:class:`FeatureSpec`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.monitor import drift as _drift
from modelmgmt.monitor.drift import DriftResult
from modelmgmt.monitor.sketch import CategoricalFeature, NumericFeature

__all__ = ["SMALL_REFERENCE", "choose_test", "to_columns", "as_float", "is_numeric", "check_labels",
           "FeatureSpec"]

#: Evidently's cut: up to this many reference rows use statistical tests, above it distances
SMALL_REFERENCE = 1000
_NUMERIC_TESTS = frozenset({"ks", "wasserstein", "psi"})


def choose_test(n_reference: int, *, categorical: bool, binary: bool) -> str:
    """The automatic test for a feature, as Evidently chooses it.

    Up to 1,000 reference rows: ks (numerical), z_proportion (binary: at most two distinct
    values), chi2 (categorical). Above: wasserstein (numerical), jensen_shannon (others).
    """
    if n_reference <= SMALL_REFERENCE:
        return "z_proportion" if binary else ("chi2" if categorical else "ks")
    return "jensen_shannon" if (binary or categorical) else "wasserstein"


def to_columns(X: Any, name: str) -> tuple[list[str] | None, Any, int]:
    """(column names if X is a DataFrame, the columns, number of rows): a (features, rows)
    float array when X is all numbers, else a list of 1-D columns."""
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a pandas-like frame
        names = [str(c) for c in X.columns]
        cols = [np.asarray(X[c].to_numpy()) for c in X.columns]
        return names, cols, len(X)
    try:
        a = np.asarray(X)
    except Exception as exc:
        raise InvalidArgumentError(f"{name} must be a 2-D array (n_samples, n_features); got {type(X).__name__} ({exc})") from None
    if a.ndim != 2:
        hint = " (reshape one feature with X.reshape(-1, 1))" if a.ndim == 1 else ""
        raise InvalidArgumentError(f"{name} must be 2-D (n_samples, n_features); got {a.ndim}-D shape {a.shape}{hint}")
    if a.dtype.kind in "biuf":
        return None, transpose(a), a.shape[0]
    if a.dtype.kind not in "OUS":
        raise InvalidArgumentError(f"{name} must hold numbers or categories; got dtype {a.dtype}")
    return None, [a[:, j] for j in range(a.shape[1])], a.shape[0]


def transpose(a: np.ndarray, block: int = 1024) -> np.ndarray:
    """A C-contiguous float64 copy of ``a.T``, copied in row blocks (cache-friendly)."""
    if a.shape[0] <= block or a.flags.f_contiguous:
        return np.array(a.T, dtype=np.float64, order="C")
    out = np.empty((a.shape[1], a.shape[0]), dtype=np.float64)
    for i in range(0, a.shape[0], block):
        out[:, i : i + block] = a[i : i + block].T
    return out


def as_float(col: np.ndarray, what: str) -> np.ndarray:
    """A column as float64 (None -> NaN); InvalidArgumentError if it holds non-numbers."""
    if col.dtype.kind in "biuf":
        out = col.astype(np.float64, copy=False)
    else:
        try:
            out = np.array([math.nan if v is None else v for v in col.tolist()], dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"{what} must be numeric (it is numerical in the reference); "
                                       f"got values such as {col[:3].tolist()!r}") from None
    if np.isinf(out).any():
        raise InvalidArgumentError(f"{what} must not contain infinite values")
    return out


def is_numeric(col: np.ndarray) -> bool:
    """True when a column holds numbers only (None allowed as missing; bools are categories)."""
    if col.dtype.kind in "biuf":
        return True
    if col.dtype != object:
        return False
    return all(v is None or (isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
               for v in col.tolist())


class FeatureSpec:
    """One monitored column: its reference side, test and threshold."""

    def __init__(self, name: str, col: np.ndarray, *, categorical: bool, test: str | None,
                 threshold: float | None, max_bins: int):
        numeric = not categorical and is_numeric(col)
        values = as_float(col, f"reference feature {name!r}") if numeric else col
        present = values[~_drift.missing_mask(values)]
        if present.size == 0:
            raise InvalidArgumentError(f"reference feature {name!r} has only missing values; nothing to compare with")
        binary = len(np.unique(present) if present.dtype != object else set(present.tolist())) <= 2
        self.name = name
        self.numeric = numeric
        self.reference = values  # as given (missing included), for save/load
        if test is None:
            test = choose_test(len(col), categorical=not numeric, binary=binary)
        elif test not in _drift.TESTS:
            raise InvalidArgumentError(f"test for feature {name!r} must be one of {sorted(_drift.TESTS)}; got {test!r}")
        if test in _NUMERIC_TESTS and not numeric:
            raise InvalidArgumentError(f"test {test!r} needs a numerical feature; {name!r} is categorical")
        self.test = test
        self.threshold = _drift.check_threshold(test, threshold)
        self.hist_numeric = test in _NUMERIC_TESTS or (test == "jensen_shannon" and numeric and not binary)
        if self.hist_numeric:
            self.side: NumericFeature | CategoricalFeature = NumericFeature(
                present, max_bins=max_bins, offsets=test == "wasserstein")
        else:
            self.side = CategoricalFeature(present)

    def prepare(self, col: np.ndarray) -> np.ndarray:
        """Check and convert one batch column before any state changes."""
        return as_float(col, f"feature {self.name!r}") if self.numeric else col

    def summarize(self, col: np.ndarray) -> Any:
        if self.hist_numeric and col.dtype.kind != "f":
            col = col.astype(np.float64)
        return self.side.summarize(col)

    def result(self, state: Any, rows: np.ndarray | None) -> DriftResult:
        if rows is not None and self.hist_numeric:
            rows = rows.astype(np.float64, copy=False)
            rows = rows[~np.isnan(rows)]
        return self.side.result(state, self.test, self.threshold, self.name, rows)

    def fingerprint(self, h: Any) -> None:
        h.update(f"{self.name}|{self.test}|{self.threshold!r}|{self.numeric}|{self.hist_numeric}|".encode())
        if self.numeric:
            h.update(np.ascontiguousarray(self.reference, dtype=np.float64).tobytes())
        else:
            h.update(repr(self.reference.tolist()).encode())


def check_labels(v: Any, name: str, n_rows: int) -> np.ndarray | None:
    """``y_pred``/``y_true``/``y_score`` as an array of ``n_rows`` rows (None stays None);
    scores must be probabilities."""
    if v is None:
        return None
    a = np.asarray(v)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a.ravel()
    if a.ndim != 1 and not (name == "y_score" and a.ndim == 2):
        raise InvalidArgumentError(f"{name} must be 1-D (n_samples,); got shape {a.shape}")
    if len(a) != n_rows:
        raise InvalidArgumentError(f"{name} has {len(a)} rows; X has {n_rows}")
    if name == "y_score":
        if a.dtype.kind not in "biuf":
            raise InvalidArgumentError(f"y_score must hold probabilities; got dtype {a.dtype}")
        a = a.astype(np.float64, copy=False)
        if a.size and not (np.isfinite(a).all() and a.min() >= 0.0 and a.max() <= 1.0):
            raise InvalidArgumentError("y_score must be probabilities in [0, 1] (positive-class scores, or (n, k) "
                                       f"class probabilities); got values in [{np.nanmin(a)}, {np.nanmax(a)}]")
    return a
