"""Turning tables into numbers: OneHotEncoder, MinMaxScaler, an outlier Clipper.

Each equals scikit-learn's counterpart where it has one (OneHotEncoder with
``sparse_output=False``, MinMaxScaler) and saves as JSON config + named arrays, so a Pipeline
holding them is stored without pickle.

>>> import numpy as np
>>> enc = OneHotEncoder().fit(np.array([["red", 1], ["blue", 2], ["red", 2]], dtype=object))
>>> enc.transform(np.array([["blue", 1]], dtype=object)).tolist()
[[1.0, 0.0, 1.0, 0.0]]
>>> enc.get_feature_names_out().tolist()
['x0_blue', 'x0_red', 'x1_1', 'x1_2']
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from modelmgmt._validation import check_bool, check_choice, check_real
from modelmgmt.data.preprocessing import Transformer
from modelmgmt.data.tables import columns_of
from modelmgmt.errors import InvalidArgumentError

__all__ = ["OneHotEncoder", "MinMaxScaler", "Clipper"]


def _kind(col: np.ndarray) -> str:
    """"number" for a numeric column (object columns of numbers too), else "string"."""
    if col.dtype.kind in "biuf":
        return "number"
    if col.dtype.kind in "US":
        return "string"
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) for v in col):
        return "number"
    if all(isinstance(v, (str, np.str_)) for v in col):
        return "string"
    kinds = sorted({type(v).__name__ for v in col})
    raise InvalidArgumentError(
        f"a categorical column must hold only numbers or only strings; got values of types {kinds} "
        "(impute missing values first, e.g. SimpleImputer on numbers or a constant string)"
    )


def _as_numbers(col: np.ndarray, j: int) -> np.ndarray:
    try:
        return col.astype(np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"column {j} was numeric in fit; got values that are not numbers") from None


def _as_strings(col: np.ndarray) -> np.ndarray:
    return col if col.dtype.kind == "U" else col.astype(str)


def _lookup(categories: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each value in the sorted ``categories`` and whether it was found (NaN finds a NaN category)."""
    idx = np.clip(np.searchsorted(categories, values), 0, len(categories) - 1)
    found = categories[idx] == values
    if values.dtype.kind == "f":
        nan = np.isnan(values)
        if nan.any() and len(categories) and np.isnan(categories[-1]):
            idx[nan] = len(categories) - 1
            found[nan] = True
    return idx, found


class OneHotEncoder(Transformer):
    """One 0/1 column per category of each input column, categories sorted as scikit-learn sorts them.

    Columns may hold numbers or strings (object arrays, DataFrames, dicts of columns); NaN in a
    numeric column is a category of its own (last), as in scikit-learn. ``handle_unknown``
    "error" refuses a category not seen in fit; "ignore" encodes it as all zeros.
    Config holds the categories; params ``"n_categories"`` (per input column).
    """

    accepts_strings = True

    def __init__(self, handle_unknown: str = "error") -> None:
        super().__init__()
        self.handle_unknown = check_choice(handle_unknown, "handle_unknown", ("error", "ignore"))
        self.categories_: list[np.ndarray] = []
        self.kinds_: list[str] = []

    def _hyper(self) -> dict[str, Any]:
        return {"handle_unknown": self.handle_unknown}

    def _learned(self) -> dict[str, Any]:
        cats = [
            [None if isinstance(v, float) and math.isnan(v) else v for v in c.tolist()] for c in self.categories_
        ]
        return {**super()._learned(), "categories_": cats, "kinds_": list(self.kinds_)}

    def _set_learned(self, config: dict[str, Any]) -> None:
        super()._set_learned(config)
        kinds = list(config.get("kinds_") or [])
        cats = list(config.get("categories_") or [])
        if len(kinds) != len(cats) or any(k not in ("number", "string") for k in kinds):
            raise InvalidArgumentError("OneHotEncoder config needs one kind ('number'|'string') per categories_ list")
        self.kinds_ = kinds
        self.categories_ = [
            np.array([math.nan if v is None else v for v in c], dtype=np.float64) if k == "number" else np.array(c, dtype=str)
            for k, c in zip(kinds, cats)
        ]

    def _check_params(self) -> None:
        if self._params and len(self._params.get("n_categories", ())) != len(self.categories_):
            raise InvalidArgumentError("OneHotEncoder params do not match its categories")

    def fit(self, X: Any, y: Any = None) -> "OneHotEncoder":
        """Learn the sorted categories of every column; returns self."""
        cols = columns_of(X)
        self.kinds_, self.categories_ = [], []
        for col in cols:
            kind = _kind(col)
            values = col.astype(np.float64) if kind == "number" else _as_strings(col)
            self.kinds_.append(kind)
            self.categories_.append(np.unique(values))  # NaN sorts last, once
        self._check_feature_names(X, reset=True)
        self.n_features_ = len(cols)
        self._params = {"n_categories": np.array([len(c) for c in self.categories_], dtype=np.int64)}
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The one-hot matrix (n, total categories), float64."""
        self.check_fitted()
        self._check_feature_names(X, reset=False)
        cols = columns_of(X)
        if len(cols) != self.n_features_:
            raise InvalidArgumentError(f"X has {len(cols)} columns, but OneHotEncoder was fitted with {self.n_features_}")
        n = len(cols[0])
        width = sum(len(c) for c in self.categories_)
        out = np.zeros((n, width))
        rows = np.arange(n)
        offset = 0
        for j, (col, kind, cats) in enumerate(zip(cols, self.kinds_, self.categories_)):
            values = _as_numbers(col, j) if kind == "number" else _as_strings(col)
            idx, found = _lookup(cats, values)
            if not found.all() and self.handle_unknown == "error":
                unknown = np.unique(values[~found]).tolist()[:10]
                raise InvalidArgumentError(f"Found unknown categories {unknown} in column {j} during transform")
            out[rows[found], offset + idx[found]] = 1.0
            offset += len(cats)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output column names ``"{input}_{category}"`` (scikit-learn's)."""
        self.check_fitted()
        names = input_features or self.feature_names_in_ or [f"x{j}" for j in range(int(self.n_features_))]
        out = []
        for name, kind, cats in zip(names, self.kinds_, self.categories_):
            for c in cats.tolist():
                text = str(int(c)) if kind == "number" and float(c).is_integer() else str(c)
                out.append(f"{name}_{text}")
        return np.array(out, dtype=object)


def _handle_zeros_in_scale(scale: np.ndarray) -> np.ndarray:
    """scikit-learn's rule: a range within rounding of zero scales by 1."""
    scale = scale.copy()
    scale[scale < 10 * np.finfo(scale.dtype).eps] = 1.0
    return scale


class MinMaxScaler(Transformer):
    """Scale each column to ``feature_range`` by its min and max (scikit-learn's MinMaxScaler).

    NaN is ignored in fit and kept by transform; ``clip=True`` clips transformed values into
    the range. Params: ``"min"``, ``"scale"``, ``"data_min"``, ``"data_max"`` (n_features,).
    """

    def __init__(self, feature_range: Any = (0.0, 1.0), clip: bool = False) -> None:
        super().__init__()
        try:
            lo, hi = feature_range
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"feature_range must be a pair (min, max); got {feature_range!r}") from None
        lo, hi = check_real(lo, "feature_range[0]"), check_real(hi, "feature_range[1]")
        if not lo < hi:
            raise InvalidArgumentError(f"feature_range must have min < max; got {feature_range!r}")
        self.feature_range = (lo, hi)
        self.clip = check_bool(clip, "clip")

    def _hyper(self) -> dict[str, Any]:
        return {"feature_range": list(self.feature_range), "clip": self.clip}

    def fit(self, X: Any, y: Any = None) -> "MinMaxScaler":
        """Learn per-column min and max; returns self."""
        X = self._check(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            data_min, data_max = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
        if np.isnan(data_min).any():
            cols = np.flatnonzero(np.isnan(data_min)).tolist()[:10]
            raise InvalidArgumentError(f"columns {cols} of X have only missing values; cannot scale them")
        lo, hi = self.feature_range
        scale = (hi - lo) / _handle_zeros_in_scale(data_max - data_min)
        self.n_features_ = int(X.shape[1])
        self._params = {"min": lo - data_min * scale, "scale": scale, "data_min": data_min, "data_max": data_max}
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``X * scale + min`` per column (clipped to the range when ``clip``)."""
        X = self._check_fitted_X(X)
        out = X * self._params["scale"]
        out += self._params["min"]
        if self.clip:
            np.clip(out, self.feature_range[0], self.feature_range[1], out=out)
        return out

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Undo :meth:`transform`."""
        X = self._check_fitted_X(X, names=False)
        return (X - self._params["min"]) / self._params["scale"]

    @property
    def data_min_(self) -> np.ndarray:
        """Per-column minimum seen in fit."""
        self.check_fitted()
        return self._params["data_min"]

    @property
    def data_max_(self) -> np.ndarray:
        """Per-column maximum seen in fit."""
        self.check_fitted()
        return self._params["data_max"]

    @property
    def scale_(self) -> np.ndarray:
        """Per-column factor (scikit-learn's ``scale_``)."""
        self.check_fitted()
        return self._params["scale"]

    @property
    def min_(self) -> np.ndarray:
        """Per-column offset (scikit-learn's ``min_``)."""
        self.check_fitted()
        return self._params["min"]


class Clipper(Transformer):
    """Clip each column to its ``lower_quantile`` .. ``upper_quantile`` range seen in fit (outliers, noise).

    Quantiles are numpy's linear ones over the observed (non-NaN) values; NaN stays NaN.
    Params: ``"lower"`` and ``"upper"`` (n_features,).
    """

    def __init__(self, lower_quantile: float = 0.01, upper_quantile: float = 0.99) -> None:
        super().__init__()
        self.lower_quantile = check_real(lower_quantile, "lower_quantile", min=0.0, max=1.0)
        self.upper_quantile = check_real(upper_quantile, "upper_quantile", min=0.0, max=1.0)
        if not self.lower_quantile < self.upper_quantile:
            raise InvalidArgumentError(
                f"lower_quantile must be below upper_quantile; got {lower_quantile!r} and {upper_quantile!r}"
            )

    def _hyper(self) -> dict[str, Any]:
        return {"lower_quantile": self.lower_quantile, "upper_quantile": self.upper_quantile}

    def fit(self, X: Any, y: Any = None) -> "Clipper":
        """Learn per-column bounds; returns self."""
        X = self._check(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            bounds = np.nanquantile(X, [self.lower_quantile, self.upper_quantile], axis=0)
        if np.isnan(bounds).any():
            cols = np.flatnonzero(np.isnan(bounds[0])).tolist()[:10]
            raise InvalidArgumentError(f"columns {cols} of X have only missing values; cannot learn bounds")
        self.n_features_ = int(X.shape[1])
        self._params = {"lower": bounds[0], "upper": bounds[1]}
        return self

    def transform(self, X: Any) -> np.ndarray:
        """X with every value clipped into its column's bounds."""
        X = self._check_fitted_X(X)
        return np.clip(X, self._params["lower"], self._params["upper"])
