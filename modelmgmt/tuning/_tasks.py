"""The unit of work of every search: fit one candidate on one fold and score it.

Module-level functions only, so a process pool or a dask cluster can pickle them.
"""

from __future__ import annotations

import copy
import inspect
import time
import warnings
from typing import Any, Callable

import numpy as np

from modelmgmt.errors import InvalidArgumentError

__all__ = ["fit_and_score", "fit_model", "run_tasks", "split_params", "check_error_score", "warn_failures", "FIT_PREFIX"]


def _accepts(func: Callable, name: str) -> bool:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return False
    return name in sig.parameters or any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())


#: a parameter named "fit__<name>" is passed to fit as <name> instead of to the factory
FIT_PREFIX = "fit__"


def split_params(params: dict) -> tuple[dict, dict]:
    """(factory keyword arguments, fit keyword arguments) of one candidate."""
    model_kw = {k: v for k, v in params.items() if not k.startswith(FIT_PREFIX)}
    fit_kw = {k[len(FIT_PREFIX) :]: v for k, v in params.items() if k.startswith(FIT_PREFIX)}
    return model_kw, fit_kw


def fit_model(factory: Callable, params: dict, X: np.ndarray, y: np.ndarray, fit_params: dict | None) -> Any:
    """Build ``factory(**params)`` and fit it on (X, y) with a private copy of fit_params.

    ``fit__<name>`` entries of ``params`` override ``fit_params[<name>]`` (also copied).
    """
    model_kw, fit_kw = split_params(params)
    model = factory(**model_kw)
    kw = copy.deepcopy({**(fit_params or {}), **fit_kw})
    if "progress" not in kw and _accepts(model.fit, "progress"):
        kw["progress"] = False  # the search shows its own progress; no bar per fit
    model.fit(X, y, **kw)
    return model


def fit_and_score(
    factory: Callable,
    params: dict,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    scorers: dict,
    fit_params: dict | None,
    error_score: Any = "raise",
) -> dict[str, Any]:
    """Fit one candidate on one training fold; its test scores and timings.

    With a numeric ``error_score`` a failing fit or score gives that score (and the error's
    text under "error") instead of raising.
    """
    start = time.perf_counter()
    try:
        model = fit_model(factory, params, X_train, y_train, fit_params)
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        scores = {name: float(scorer(model, X_test, y_test)) for name, scorer in scorers.items()}
    except Exception as exc:
        if isinstance(error_score, str):
            raise
        elapsed = time.perf_counter() - start
        return {"scores": {name: float(error_score) for name in scorers}, "fit_time": elapsed, "score_time": 0.0,
                "error": f"{type(exc).__name__}: {exc}"}
    score_time = time.perf_counter() - start
    return {"scores": scores, "fit_time": fit_time, "score_time": score_time}


def check_error_score(error_score: Any) -> Any:
    """``"raise"`` or a number (e.g. ``float("nan")``); anything else is a ValueError."""
    if isinstance(error_score, str):
        if error_score != "raise":
            raise InvalidArgumentError(f"error_score must be 'raise' or a number; got {error_score!r}")
    elif isinstance(error_score, bool) or not isinstance(error_score, (int, float, np.integer, np.floating)):
        raise InvalidArgumentError(f"error_score must be 'raise' or a number; got {error_score!r}")
    return error_score


def warn_failures(results: list[dict], what: str) -> None:
    """One warning naming how many fits failed and the first error."""
    failed = [r["error"] for r in results if "error" in r]
    if failed:
        warnings.warn(
            f"{len(failed)} of {len(results)} {what} fits failed and got error_score; first error: {failed[0]}",
            RuntimeWarning,
            stacklevel=3,
        )


def run_tasks(executor: Any, tasks: list[tuple], progress: Any = None) -> list[dict]:
    """Run ``fit_and_score(*task)`` for every task, on ``executor`` when given; results in order."""
    if executor is None:
        out = []
        for task in tasks:
            out.append(fit_and_score(*task))
            if progress is not None:
                progress.advance()
        return out
    if not hasattr(executor, "submit"):
        raise InvalidArgumentError(
            f"executor must be a concurrent.futures.Executor (with submit); got {type(executor).__name__}"
        )
    futures = [executor.submit(fit_and_score, *task) for task in tasks]
    out = []
    for fut in futures:
        out.append(fut.result())
        if progress is not None:
            progress.advance()
    return out
