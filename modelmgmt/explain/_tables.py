"""The tables explain works on: numeric arrays, 2-D object arrays with string columns, DataFrames."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmgmt._validation import as_float_2d
from modelmgmt.errors import InvalidArgumentError

__all__ = ["as_table", "is_frame", "column", "repeat_rows", "set_column"]


def is_frame(X: Any) -> bool:
    """True for a pandas DataFrame (told by its interface, so pandas is never imported here)."""
    return hasattr(X, "iloc") and hasattr(X, "columns")


def as_table(X: Any) -> Any:
    """X as a float array (numbers), a 2-D object array (strings kept) or the DataFrame itself."""
    if is_frame(X):
        if len(X.shape) != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise InvalidArgumentError(f"X must have at least one row and one column; got shape {X.shape}")
        return X
    a = np.asarray(X)
    if a.dtype.kind in "biuf":
        return as_float_2d(a, "X", allow_nan=True)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise InvalidArgumentError(f"X must be a non-empty 2-D array; got shape {a.shape}")
    return a


def column(X: Any, j: int) -> np.ndarray:
    """Column ``j`` as a numpy array."""
    return X.iloc[:, j].to_numpy() if is_frame(X) else X[:, j]


def repeat_rows(X: Any, times: int) -> Any:
    """X stacked ``times`` times (a copy; a DataFrame gets a fresh 0..n-1 index)."""
    if is_frame(X):
        return X.iloc[np.tile(np.arange(X.shape[0]), times)].reset_index(drop=True)
    return np.tile(X, (times, 1))


def set_column(X: Any, j: int, values: np.ndarray) -> None:
    """Overwrite column ``j`` in place."""
    if is_frame(X):
        X.iloc[:, j] = values
    else:
        X[:, j] = values
