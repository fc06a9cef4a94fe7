"""Preprocessing steps with scikit-learn's results: StandardScaler and SimpleImputer.

Both keep their learned state as named arrays plus a JSON config (like a Model), so a
:class:`~modelmgmt.models.Pipeline` saves them with its model.

>>> import numpy as np
>>> X = np.array([[1.0, np.nan], [3.0, 4.0], [np.nan, 8.0]])
>>> SimpleImputer(strategy="mean").fit_transform(X)
array([[1., 6.],
       [3., 4.],
       [2., 8.]])
>>> StandardScaler().fit_transform([[0.0], [2.0]]).ravel()
array([-1.,  1.])
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from modelmgmt import base
from modelmgmt._validation import as_float_2d
from modelmgmt.base import ArrayEstimator
from modelmgmt.errors import InvalidArgumentError

__all__ = ["Transformer", "StandardScaler", "SimpleImputer"]


class Transformer(base.Transformer, ArrayEstimator):
    """A fitted numeric data transformation: ``fit(X) -> self``, ``transform(X)``, params and config.

    The shared implementation of modelmgmt's own preprocessing steps (params in ``_params``,
    config = hyperparameters + ``n_features_``); see :class:`modelmgmt.base.Transformer`.
    """

    #: whether X may contain NaN (missing values) when given to fit/transform
    accepts_nan = True

    def _check(self, X: Any) -> np.ndarray:
        """X given to fit, as float64; keeps its feature names (a DataFrame's str columns)."""
        self._check_feature_names(X, reset=True)
        return self._as_input(X)

    def _as_input(self, X: Any) -> np.ndarray:
        X = as_float_2d(X, "X", allow_nan=True, dtype=np.float64)
        if not np.isfinite(X).all():  # one pass in the common, clean case
            if np.isinf(X).any():
                raise InvalidArgumentError(f"X must not contain infinite values; got {int(np.isinf(X).sum())}")
            if not self.accepts_nan:
                raise InvalidArgumentError(f"X must be finite for {type(self).__name__}; it contains NaN")
        return X

    def _check_fitted_X(self, X: Any, *, names: bool = True) -> np.ndarray:
        """X given after fit: its feature names checked (unless ``names`` is False, as
        scikit-learn's ``inverse_transform``), then float64 of the fitted width."""
        self.check_fitted()
        if names:
            self._check_feature_names(X, reset=False)
        X = self._as_input(X)
        if X.shape[1] != self.n_features_:
            raise InvalidArgumentError(
                f"X has {X.shape[1]} features, but {type(self).__name__} was fitted with "
                f"{self.n_features_} features"
            )
        return X


def _is_constant(var: np.ndarray, mean: np.ndarray, n: np.ndarray) -> np.ndarray:
    """scikit-learn's test for a zero-variance column up to rounding error."""
    eps = np.finfo(np.float64).eps
    upper = n * eps * var + (n * mean * eps) ** 2
    return var <= upper


class StandardScaler(Transformer):
    """(X - mean) / std per column, population std like scikit-learn; constant columns scale 1.

    NaN values are ignored in fit and left as NaN by transform (as scikit-learn does).
    Params: ``"mean"`` and ``"scale"`` (n_features,).
    """

    def fit(self, X: Any, y: Any = None) -> "StandardScaler":
        """Learn per-column mean and standard deviation; returns self."""
        self._fit(self._check(X))
        return self

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit and standardise X in one pass over the centred data."""
        X = self._check(X)
        centred = self._fit(X)
        if centred is None:  # NaN present: the plain path keeps NaN where it was
            return self.transform(X)
        centred /= self._params["scale"]
        return centred

    def _fit(self, X: np.ndarray) -> np.ndarray | None:
        """Set mean and scale from a checked X; returns X - mean when X has no NaN."""
        centred = None
        if not np.isnan(X).any():
            n = np.full(X.shape[1], X.shape[0])
            mean = X.mean(axis=0)
            centred = X - mean
            var = np.einsum("ij,ij->j", centred, centred) / X.shape[0]
        else:
            n = np.sum(~np.isnan(X), axis=0)
            if np.any(n == 0):
                cols = np.flatnonzero(n == 0).tolist()[:10]
                raise InvalidArgumentError(f"columns {cols} of X have only missing values; cannot scale them")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(X, axis=0)
                var = np.nanmean((X - mean) ** 2, axis=0)
        scale = np.sqrt(var)
        scale[_is_constant(var, mean, n)] = 1.0
        self.n_features_ = int(X.shape[1])
        self._params = {"mean": mean, "scale": scale}
        return centred

    def transform(self, X: Any) -> np.ndarray:
        """Standardise X with the learned mean and scale."""
        X = self._check_fitted_X(X)
        out = X - self._params["mean"]
        out /= self._params["scale"]
        return out

    @property
    def mean_(self) -> np.ndarray:
        """Per-column mean learned in fit (scikit-learn's name)."""
        self.check_fitted()
        return self._params["mean"]

    @property
    def scale_(self) -> np.ndarray:
        """Per-column scale learned in fit: the std, or 1 for a constant column (scikit-learn's name)."""
        self.check_fitted()
        return self._params["scale"]

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Undo :meth:`transform`."""
        X = self._check_fitted_X(X, names=False)
        return X * self._params["scale"] + self._params["mean"]


_STRATEGIES = ("mean", "median", "most_frequent", "constant")


class SimpleImputer(Transformer):
    """Fill missing values per column with its mean, median, most frequent value or a constant.

    Matches scikit-learn's SimpleImputer: ties in "most_frequent" go to the smallest value;
    a column with no observed value is dropped by transform (with a warning), as
    scikit-learn does by default. ``missing_values`` is NaN or a number.
    Params: ``"statistics"`` (n_features,), NaN for dropped columns.
    """

    removes_nan = True

    def __init__(self, strategy: str = "mean", missing_values: Any = math.nan, fill_value: Any = None) -> None:
        super().__init__()
        if strategy not in _STRATEGIES:
            raise InvalidArgumentError(f"strategy must be one of {list(_STRATEGIES)}; got {strategy!r}")
        if missing_values is None:
            missing_values = math.nan
        if isinstance(missing_values, bool) or not isinstance(missing_values, (int, float, np.number)):
            raise InvalidArgumentError(f"missing_values must be NaN or a number; got {missing_values!r}")
        if fill_value is not None and (isinstance(fill_value, bool) or not isinstance(fill_value, (int, float))):
            raise InvalidArgumentError(f"fill_value must be a number; got {fill_value!r}")
        self.strategy = strategy
        self.missing_values = float(missing_values)
        self.fill_value = fill_value

    def _hyper(self) -> dict[str, Any]:
        mv = None if math.isnan(self.missing_values) else self.missing_values  # JSON has no NaN
        return {"strategy": self.strategy, "missing_values": mv, "fill_value": self.fill_value}

    def _mask(self, X: np.ndarray) -> np.ndarray:
        if math.isnan(self.missing_values):
            return np.isnan(X)
        return (X == self.missing_values) | np.isnan(X)

    def fit(self, X: Any, y: Any = None) -> "SimpleImputer":
        """Learn the fill value of every column; returns self."""
        X = self._check(X)
        mask = self._mask(X)
        stats = np.full(X.shape[1], np.nan)
        for j in range(X.shape[1]):
            col = X[~mask[:, j], j]
            if self.strategy == "constant":
                stats[j] = 0.0 if self.fill_value is None else float(self.fill_value)
            elif col.size == 0:
                continue
            elif self.strategy == "mean":
                stats[j] = col.mean()
            elif self.strategy == "median":
                stats[j] = np.median(col)
            else:
                values, counts = np.unique(col, return_counts=True)
                stats[j] = values[np.argmax(counts)]  # unique is sorted: first max = smallest
        empty = np.isnan(stats)
        if empty.any():
            warnings.warn(
                f"SimpleImputer: columns {np.flatnonzero(empty).tolist()[:10]} have no observed "
                "values and are dropped by transform",
                UserWarning,
                stacklevel=2,
            )
        self.n_features_ = int(X.shape[1])
        self._params = {"statistics": stats}
        return self

    @property
    def statistics_(self) -> np.ndarray:
        """Per-column fill values learned in fit, NaN for a dropped column (scikit-learn's name)."""
        self.check_fitted()
        return self._params["statistics"]

    def transform(self, X: Any) -> np.ndarray:
        """X with every missing value replaced by its column's statistic."""
        X = self._check_fitted_X(X)
        stats = self._params["statistics"]
        mask = self._mask(X)
        out = np.where(mask, stats, X)
        keep = ~np.isnan(stats)
        return out if keep.all() else out[:, keep]
