"""Tables: 2-D input whose columns may hold strings (object arrays, pandas DataFrames, dicts
of columns), read without importing pandas. ``is_table`` and ``feature_names_of`` live in
:mod:`modelmgmt._validation` (every estimator checks its input there) and are public here."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmgmt._validation import column_labels, feature_names_of, is_table
from modelmgmt.errors import InvalidArgumentError

__all__ = ["is_table", "column_names", "feature_names_of", "as_2d", "n_rows", "columns_of"]


def column_names(X: Any) -> list[str] | None:
    """The column names of a DataFrame or dict of columns as str (for selecting columns by
    name), else None. The feature names an estimator keeps follow scikit-learn's stricter
    rule: :func:`feature_names_of`."""
    labels = column_labels(X)
    return None if labels is None else [str(c) for c in labels]


def columns_of(X: Any) -> list[np.ndarray]:
    """The columns of a table or 2-D array as 1-D arrays (numeric, str or object)."""
    if isinstance(X, dict):
        cols = [np.asarray(v) for v in X.values()]
    elif is_table(X):
        cols = [np.asarray(X.iloc[:, j].to_numpy()) for j in range(X.shape[1])]
    else:
        a = as_2d(X)
        return [a[:, j] for j in range(a.shape[1])]
    if not cols:
        raise InvalidArgumentError("X must have at least one column")
    n = {len(c) for c in cols}
    if any(c.ndim != 1 for c in cols) or len(n) != 1:
        raise InvalidArgumentError(f"the columns of X must be 1-D and of one length; got lengths {sorted(n)}")
    return cols


def as_2d(X: Any, name: str = "X") -> np.ndarray:
    """X as a non-empty 2-D array; numbers stay numeric, anything with strings becomes object."""
    if is_table(X):
        cols = columns_of(X)
        if all(c.dtype.kind in "biuf" for c in cols):
            return np.column_stack([c.astype(np.float64) for c in cols])
        out = np.empty((len(cols[0]), len(cols)), dtype=object)
        for j, c in enumerate(cols):
            out[:, j] = c
        return out
    try:
        a = np.asarray(X)
    except Exception as exc:
        raise InvalidArgumentError(f"{name} must be a 2-D array or table; got {type(X).__name__} ({exc})") from None
    if a.dtype.kind in "US":
        a = a.astype(object)
    if a.dtype.kind not in "biufO":
        raise InvalidArgumentError(f"{name} must hold numbers or strings; got dtype {a.dtype}")
    if a.ndim != 2:
        raise InvalidArgumentError(f"{name} must be 2-D (n_samples, n_features); got {a.ndim}-D shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise InvalidArgumentError(f"{name} must have at least one sample and one feature; got shape {a.shape}")
    return a


def n_rows(X: Any) -> int:
    """Number of rows of a 2-D array or table."""
    if isinstance(X, dict):
        return len(columns_of(X)[0])
    return len(X)
