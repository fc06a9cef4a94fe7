"""Successive halving (as scikit-learn's HalvingGridSearchCV): many candidates on a small
budget, the best third (1/factor) on factor times more, until one budget is the maximum.

The resource is ``"epochs"`` (passed to fit) or ``"n_samples"`` (a seeded, stratified for
classifiers, subsample of every training fold; the test folds stay whole).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.tuning._progress import make_progress
from modelmgmt.tuning.cv import check_cv, prepare_xy
from modelmgmt.tuning.search import _BaseSearch, check_param_names, parameter_grid

__all__ = ["HalvingSearch"]

_RESOURCES = ("epochs", "n_samples")


def _subsample(train: np.ndarray, y: np.ndarray, n: int, rng: np.random.Generator, stratify: bool) -> np.ndarray:
    """``n`` of the ``train`` indices, class shares kept when ``stratify``; sorted."""
    if n >= len(train):
        return train
    perm = rng.permutation(train)
    if not stratify:
        return np.sort(perm[:n])
    labels = y[perm]
    _, inv, counts = np.unique(labels, return_inverse=True, return_counts=True)
    within = np.empty(len(perm))
    for c in range(len(counts)):
        where = inv == c
        within[where] = (np.arange(counts[c]) + 0.5) / counts[c]  # position inside its class, in (0, 1)
    order = np.argsort(within, kind="stable")  # interleaves classes by their share
    return np.sort(perm[order[:n]])


class HalvingSearch(_BaseSearch):
    """Successive halving over ``param_grid`` on the ``resource`` budget ("epochs" or "n_samples").

    ``min_resources``: an int, ``"smallest"`` or ``"exhaust"`` (default; the smallest start that
    lets the last round use ``max_resources``). ``max_resources``: an int or ``"auto"`` (the
    sample count, or ``fit_params["epochs"]`` / 10, mm.fit's default). ``results`` has one row
    per (round, candidate) with ``iter`` and ``n_resources``; the best is the best of the last
    round, refitted on all data with the full budget.
    """

    def __init__(
        self,
        factory: Callable[..., Any],
        param_grid: Any,
        *,
        resource: str = "epochs",
        factor: float = 3,
        min_resources: int | str = "exhaust",
        max_resources: int | str = "auto",
        seed: int | None = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(factory, **kwargs)
        if resource not in _RESOURCES:
            raise InvalidArgumentError(f"resource must be one of {', '.join(map(repr, _RESOURCES))}; got {resource!r}")
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or factor <= 1:
            raise InvalidArgumentError(f"factor must be a number > 1; got {factor!r}")
        for name, v, words in (("min_resources", min_resources, ("exhaust", "smallest")), ("max_resources", max_resources, ("auto",))):
            if isinstance(v, str):
                if v not in words:
                    raise InvalidArgumentError(f"{name} must be a positive int or one of {words}; got {v!r}")
            elif isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise InvalidArgumentError(f"{name} must be a positive int or one of {words}; got {v!r}")
        if resource == "epochs" and any("fit__epochs" in c for c in parameter_grid(param_grid)):
            raise InvalidArgumentError("'fit__epochs' cannot be searched when epochs are the halving resource")
        self.param_grid: Any = param_grid
        check_param_names(factory, {n for c in parameter_grid(param_grid) for n in c})
        self.resource: str = resource
        self.factor: float = factor
        self.min_resources: int | str = min_resources
        self.max_resources: int | str = max_resources
        self.seed: int | None = seed
        self.n_resources: list[int] = []
        self.n_candidates: list[int] = []

    def _candidates(self) -> list[dict[str, Any]]:
        return parameter_grid(self.param_grid)

    def _budget(self, n_samples: int, n_splits: int, n_classes: int, n_candidates: int) -> tuple[int, int, int]:
        """(min_resources, max_resources, n_iterations) by scikit-learn's rules."""
        fp = self.fit_params or {}
        if self.max_resources == "auto":
            max_r = n_samples if self.resource == "n_samples" else int(fp.get("epochs", 10))
        else:
            max_r = int(self.max_resources)
        if self.resource == "n_samples":
            max_r = min(max_r, n_samples)
        smallest = (2 * n_splits * max(n_classes, 1)) if self.resource == "n_samples" else 1
        if self.min_resources == "smallest":
            min_r = smallest
        elif self.min_resources == "exhaust":
            required = 1 + math.floor(math.log(n_candidates, self.factor))
            min_r = max(smallest, int(max_r // self.factor ** (required - 1)))
        else:
            min_r = int(self.min_resources)
        if min_r > max_r:
            raise InvalidArgumentError(f"min_resources={min_r} is greater than max_resources={max_r}")
        required = 1 + math.floor(math.log(n_candidates, self.factor))
        possible = 1 + math.floor(math.log(max_r // min_r, self.factor))
        return min_r, max_r, min(required, possible)

    def fit(self, X: Any, y: Any) -> "HalvingSearch":
        """Run the rounds on (X, y); fills ``results``, ``n_resources``, ``n_candidates``; returns self."""
        candidates = parameter_grid(self.param_grid)
        classifier, accepts_nan, accepts_strings = self._probe(candidates)
        X, y = prepare_xy(X, y, allow_nan=accepts_nan, allow_strings=accepts_strings)
        splits = check_cv(self.cv, X, y, classifier)
        n_classes = len(np.unique(y)) if classifier else 0
        min_r, max_r, n_iter = self._budget(len(X), len(splits), n_classes, len(candidates))
        self.n_resources, self.n_candidates = [], []
        rows: list[dict[str, Any]] = []
        alive = list(range(len(candidates)))
        n_tasks, n_alive = 0, len(candidates)
        for _ in range(n_iter):  # candidates per round shrink by factor: the bar's total
            n_tasks += n_alive * len(splits)
            n_alive = math.ceil(n_alive / self.factor)
        bar = make_progress(self.progress, n_tasks, "HalvingSearch")
        try:
            for it in range(n_iter):
                n_res = min(int(self.factor**it * min_r), max_r)
                self.n_resources.append(n_res)
                self.n_candidates.append(len(alive))
                it_splits, fp = splits, dict(self.fit_params or {})
                if self.resource == "epochs":
                    fp["epochs"] = n_res
                else:
                    frac = n_res / len(X)
                    it_splits = []
                    for s, (train, test) in enumerate(splits):
                        rng = np.random.default_rng([self.seed if self.seed is not None else 0, it, s])
                        n_train = max(1, int(frac * len(train)))
                        it_splits.append((_subsample(train, y, n_train, rng, classifier), test))
                these = [candidates[c] for c in alive]
                it_rows = self._evaluate(these, it_splits, X, y, lambda c, fp=fp: fp, bar)  # type: ignore[misc]
                for c, row in zip(alive, it_rows):
                    row["iter"], row["n_resources"], row["candidate"] = it, n_res, c
                rows.extend(it_rows)
                keep = math.ceil(len(alive) / self.factor)
                means = np.array([r["mean_score"] for r in it_rows])
                means = np.where(np.isnan(means), -np.inf, means)
                if it < n_iter - 1:
                    # as scikit-learn's _top_k: ascending sort, keep the last k, in that order
                    alive = [alive[i] for i in np.argsort(means)[-keep:]]
        finally:
            if bar is not None:
                bar.close()
        # rank: later rounds first, then by mean score (as scikit-learn's halving ranks)
        keyed = np.array([(r["iter"], r["mean_score"] if not np.isnan(r["mean_score"]) else -np.inf) for r in rows])
        for r, (it, m) in zip(rows, keyed):
            r["rank"] = int(1 + np.sum((keyed[:, 0] > it) | ((keyed[:, 0] == it) & (keyed[:, 1] > m))))
        self.results = rows
        self.best_index = int(np.argmin([r["rank"] for r in rows]))
        refit_fp = dict(self.fit_params or {})
        if self.resource == "epochs":
            refit_fp["epochs"] = max_r
        self._finish(X, y, refit_fp)
        return self
