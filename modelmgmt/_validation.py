"""Input checks shared by every module: one place that turns bad input into a clear error."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from modelmgmt.errors import InvalidArgumentError

__all__ = [
    "as_float_2d",
    "as_1d",
    "check_same_length",
    "check_finite",
    "validate_name",
    "MAX_NAME_LENGTH",
    "check_int",
    "check_real",
    "check_choice",
    "check_bool",
    "is_table",
    "column_labels",
    "feature_names_of",
    "check_feature_names",
]

MAX_NAME_LENGTH = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1 (U+0085 is a line break)
# bidi controls, zero-width characters and line/paragraph separators: a listing could show one
# name and mean another (U+202E reverses the text after it; U+200B is invisible)
_DECEPTIVE = re.compile("[\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]")


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return type(x).__name__


def check_finite(a: np.ndarray, name: str) -> None:
    """Raise ValueError when a float array holds NaN or infinity."""
    if a.dtype.kind in "fc" and a.size and not np.isfinite(a).all():
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise InvalidArgumentError(f"{name} must be finite; it contains {bad} NaN or infinite value(s)")


def as_float_2d(X: Any, name: str = "X", *, allow_nan: bool = False, dtype=None) -> np.ndarray:
    """Return X as a non-empty 2-D float array (n_samples, n_features) or raise ValueError.

    Float32 and float64 input keep their dtype; other numeric input becomes float64.
    """
    try:
        a = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise InvalidArgumentError(f"{name} must be a 2-D numeric array; got {_describe(X)} ({exc})") from None
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise InvalidArgumentError(f"{name} must be a 2-D numeric array; got {_describe(a)}")
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    elif a.dtype.kind != "f":
        a = a.astype(np.float64)
    if a.ndim != 2:
        hint = " (reshape 1-D data with X.reshape(-1, 1) for one feature)" if a.ndim == 1 else ""
        raise InvalidArgumentError(f"{name} must be 2-D (n_samples, n_features); got {a.ndim}-D shape {a.shape}{hint}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise InvalidArgumentError(f"{name} must have at least one sample and one feature; got shape {a.shape}")
    if not allow_nan:
        check_finite(a, name)
    return a


def as_1d(y: Any, name: str = "y", *, allow_empty: bool = False) -> np.ndarray:
    """Return y as a 1-D array (a column vector (n, 1) is accepted and flattened)."""
    a = np.asarray(y)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a.ravel()
    if a.ndim != 1:
        raise InvalidArgumentError(f"{name} must be 1-D (n_samples,); got {a.ndim}-D shape {a.shape}")
    if not allow_empty and a.shape[0] == 0:
        raise InvalidArgumentError(f"{name} must not be empty")
    if a.dtype.kind in "fc":
        check_finite(a, name)
    return a


def check_same_length(**arrays: Any) -> int:
    """Raise ValueError unless every named array has the same first dimension; return it."""
    lengths = {k: len(v) for k, v in arrays.items() if v is not None}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise InvalidArgumentError(f"inputs must have the same number of samples; {shown}")
    return next(iter(lengths.values()), 0)


def validate_name(name: Any, what: str = "name") -> str:
    """Check a model/alias/experiment name: 1-200 chars, no '/', '\\', NUL, control, bidi or
    zero-width chars, not '.'/'..'."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"{what} must be a str; got {type(name).__name__}")
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidArgumentError(f"{what} must be 1 to {MAX_NAME_LENGTH} characters; got {len(name)}")
    if name in (".", ".."):
        raise InvalidArgumentError(f"{what} must not be '.' or '..'; got {name!r}")
    if "/" in name or "\\" in name:
        raise InvalidArgumentError(f"{what} must not contain '/' or '\\'; got {name!r}")
    if _CONTROL.search(name):
        raise InvalidArgumentError(f"{what} must not contain NUL or control characters; got {name!r}")
    found = _DECEPTIVE.search(name)
    if found:
        raise InvalidArgumentError(
            f"{what} must not contain bidirectional controls, zero-width characters or line separators "
            f"(they make a name display as another); got {name!r} with U+{ord(found.group()):04X}"
        )
    if name != name.strip():
        raise InvalidArgumentError(f"{what} must not start or end with whitespace; got {name!r}")
    return name


def _bound_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi}")
    return " and ".join(parts)


def check_int(value: Any, name: str, *, min: int | None = None, max: int | None = None) -> int:
    """An int (numpy integers accepted, bool refused) within [min, max]; else InvalidArgumentError."""
    bounds = _bound_text(min, max, False, False)
    want = f"an int{' ' + bounds if bounds else ''}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(f"{name} must be {want}; got {type(value).__name__} {value!r}")
    value = int(value)
    if (min is not None and value < min) or (max is not None and value > max):
        raise InvalidArgumentError(f"{name} must be {want}; got {value}")
    return value


def check_real(value: Any, name: str, *, min: float | None = None, max: float | None = None,
               min_open: bool = False, max_open: bool = False) -> float:
    """A finite real number (int or float, bool refused) within the bounds; else InvalidArgumentError.

    ``min_open``/``max_open`` make a bound exclusive (``lr > 0`` is ``min=0, min_open=True``).
    """
    bounds = _bound_text(min, max, min_open, max_open)
    want = f"a finite number{' ' + bounds if bounds else ''}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidArgumentError(f"{name} must be {want}; got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise InvalidArgumentError(f"{name} must be {want}; got {value}")
    if min is not None and (value <= min if min_open else value < min):
        raise InvalidArgumentError(f"{name} must be {want}; got {value}")
    if max is not None and (value >= max if max_open else value > max):
        raise InvalidArgumentError(f"{name} must be {want}; got {value}")
    return value


def check_choice(value: Any, name: str, choices: Any) -> Any:
    """``value`` if it is one of ``choices``; else InvalidArgumentError listing them."""
    choices = tuple(choices)
    if not any(value == c and type(value) is type(c) for c in choices):
        shown = ", ".join(repr(c) for c in choices)
        raise InvalidArgumentError(f"{name} must be one of {shown}; got {value!r}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """A bool (numpy bool accepted); else InvalidArgumentError."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name} must be True or False; got {type(value).__name__} {value!r}")
    return bool(value)


# --- tables and their feature names (scikit-learn's rule) ----------------------------------


def is_table(X: Any) -> bool:
    """True for a pandas DataFrame (anything with ``columns`` and ``iloc``) or a dict of columns."""
    return isinstance(X, dict) or (hasattr(X, "columns") and hasattr(X, "iloc"))


def column_labels(X: Any) -> list[Any] | None:
    """The column labels of a DataFrame or dict of columns, as they are (not made str), else None."""
    if isinstance(X, dict):
        return list(X)
    if is_table(X):
        return list(X.columns)
    return None


def feature_names_of(X: Any) -> list[str] | None:
    """The feature names an estimator fitted on X keeps: scikit-learn's rule.

    A table whose column labels are all ``str`` gives them; an array, an empty table or a
    table whose labels are all something else (ints) gives None; a mix of ``str`` and other
    labels is refused (InvalidArgumentError, a TypeError as in scikit-learn).
    """
    labels = column_labels(X)
    if not labels:
        return None
    types = sorted({type(c).__qualname__ for c in labels})
    if len(types) > 1 and "str" in types:
        raise InvalidArgumentError(
            "feature names are kept only when every column name is a str; X has column names of "
            f"types {types} (make them all str, e.g. X.columns = X.columns.astype(str), or none of them)"
        )
    if types == ["str"]:
        return [str(c) for c in labels]
    return None


def _name_list(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:10])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 10 else "")


def check_feature_names(fitted: list[str] | None, X: Any, owner: str, name: str = "X") -> None:
    """Refuse a table whose feature names are not those ``owner`` was fitted with, in order.

    As scikit-learn: only a table with names checked against names seen in fit is compared;
    an array (or a table without str names) given to an estimator fitted with names, and a
    table given to one fitted without them, are accepted (read by position). A mismatch
    raises InvalidArgumentError listing the expected names, the names that came, and which
    were unexpected, missing, or only in another order.
    """
    if fitted is None or type(X) is np.ndarray:  # the common case (a server's requests) costs nothing
        return
    names = feature_names_of(X)
    if names is None or names == list(fitted):
        return
    unexpected = sorted(set(names) - set(fitted))
    missing = sorted(set(fitted) - set(names))
    parts = []
    if unexpected:
        parts.append(f"unexpected: {_name_list(unexpected)}")
    if missing:
        parts.append(f"missing: {_name_list(missing)}")
    if not parts:
        parts.append("the same names in another order")
    raise InvalidArgumentError(
        f"the feature names of {name} should match those {owner} was fitted with, in order: expected "
        f"[{_name_list(list(fitted))}], got [{_name_list(names)}] ({'; '.join(parts)})"
    )
