"""Cross-validation: split the data into folds, fit on each training part, score the rest."""

from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np

from modelmgmt._validation import as_1d, as_float_2d, check_same_length
from modelmgmt.base import capabilities
from modelmgmt.data import KFold, StratifiedKFold
from modelmgmt.data.tables import as_2d
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.tuning._progress import make_progress
from modelmgmt.tuning._scoring import check_scoring
from modelmgmt.tuning._tasks import check_error_score, run_tasks, warn_failures

__all__ = ["cross_validate", "check_cv"]


def _int_splitter(k: int, classifier: bool) -> Any:
    """StratifiedKFold(k) for classifiers, KFold(k) otherwise (unshuffled, scikit-learn's folds)."""
    return StratifiedKFold(n_splits=k) if classifier else KFold(n_splits=k)


def check_cv(cv: Any, X: np.ndarray, y: np.ndarray | None, classifier: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Turn ``cv`` (int, splitter with ``split``, or iterable of (train, test)) into index pairs.

    An int k means StratifiedKFold(k) for classifiers and KFold(k) otherwise, unshuffled, as
    scikit-learn does.
    """
    n = len(X)
    if isinstance(cv, bool):
        raise InvalidArgumentError("cv must be an int >= 2, a splitter with split(X, y), or an iterable of (train, test); got a bool")
    if isinstance(cv, numbers.Integral):
        k = int(cv)
        if k < 2:
            raise InvalidArgumentError(f"cv must be at least 2 folds; got {k}")
        if k > n:
            raise InvalidArgumentError(f"cv={k} folds need at least {k} samples; got {n}")
        pairs = list(_int_splitter(k, classifier and y is not None).split(X, y))
    elif hasattr(cv, "split"):
        pairs = list(cv.split(X, y))
    elif hasattr(cv, "__iter__") and not isinstance(cv, (str, bytes, dict)):
        pairs = list(cv)
    else:
        raise InvalidArgumentError(
            "cv must be an int >= 2, a splitter with split(X, y), or an iterable of (train, test) "
            f"index pairs; got {type(cv).__name__}"
        )
    if not pairs:
        raise InvalidArgumentError("cv produced no (train, test) splits")
    out = []
    for i, pair in enumerate(pairs):
        try:
            train, test = pair
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"cv split {i} must be a (train, test) pair of index arrays; got {pair!r:.80}") from None
        train, test = np.asarray(train), np.asarray(test)
        for part, a in (("train", train), ("test", test)):
            if a.ndim != 1 or a.size == 0 or a.dtype.kind not in "iu":
                raise InvalidArgumentError(f"cv split {i}: {part} must be a non-empty 1-D integer index array; got shape {a.shape}, dtype {a.dtype}")
            if a.min() < -n or a.max() >= n:
                raise InvalidArgumentError(f"cv split {i}: {part} indices must be in [0, {n}); got min {a.min()}, max {a.max()}")
        out.append((train, test))
    return out


def prepare_xy(X: Any, y: Any, allow_nan: bool = False, allow_strings: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate the data every search takes: 2-D finite X, 1-D y of the same length.

    ``allow_nan`` lets NaN through (never infinity) for models that impute, such as a
    Pipeline with a SimpleImputer step; ``allow_strings`` lets string columns through (as a
    2-D object array, columns in order) for models that encode them.
    """
    if allow_strings:
        X = as_2d(X, "X")
        y = as_1d(y, "y")
        check_same_length(X=X, y=y)
        return X, y
    X = as_float_2d(X, "X", allow_nan=allow_nan)
    if allow_nan and np.isinf(X).any():
        raise InvalidArgumentError(f"X must not contain infinite values; it contains {int(np.isinf(X).sum())}")
    y = as_1d(y, "y")
    check_same_length(X=X, y=y)
    return X, y


def cross_validate(
    factory: Callable[..., Any],
    X: Any,
    y: Any,
    *,
    cv: Any = 5,
    scoring: Any = ("accuracy",),
    fit_params: dict | None = None,
    executor: Any = None,
    progress: bool | None = False,
    error_score: Any = "raise",
) -> dict[str, np.ndarray]:
    """Fit ``factory()`` on each training fold and score the held-out fold, like scikit-learn.

    Returns ``{"test_<metric>": scores per fold, "fit_time": ..., "score_time": ...}``. One
    task per fold, run on ``executor`` (any ``concurrent.futures.Executor``) or here. A fit
    that fails raises, unless ``error_score`` is a number (e.g. ``float("nan")``): then that
    fold scores it and one RuntimeWarning reports the failures.
    """
    if not callable(factory):
        raise InvalidArgumentError(f"factory must be a callable returning an unfitted Model; got {type(factory).__name__}")
    if fit_params is not None and not isinstance(fit_params, dict):
        raise InvalidArgumentError(f"fit_params must be a dict of keyword arguments for fit; got {type(fit_params).__name__}")
    probe = factory()
    caps = capabilities(probe)
    X, y = prepare_xy(X, y, allow_nan=bool(caps["accepts_nan"]), allow_strings=bool(caps["accepts_strings"]))
    check_error_score(error_score)
    scorers = check_scoring(scoring)
    classifier = bool(capabilities(probe)["is_classifier"])
    splits = check_cv(cv, X, y, classifier)
    tasks: list[tuple[Any, ...]] = [
        (factory, {}, X[tr], y[tr], X[te], y[te], scorers, fit_params, error_score) for tr, te in splits
    ]
    bar = make_progress(progress, len(tasks), "cross_validate")
    try:
        results = run_tasks(executor, tasks, bar)
    finally:
        if bar is not None:
            bar.close()
    warn_failures(results, "cross_validate")
    out: dict[str, np.ndarray] = {
        "fit_time": np.array([r["fit_time"] for r in results]),
        "score_time": np.array([r["score_time"] for r in results]),
    }
    for name in scorers:
        out[f"test_{name}"] = np.array([r["scores"][name] for r in results])
    return out
