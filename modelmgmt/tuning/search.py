"""Hyperparameter search with cross-validation: GridSearch and RandomSearch.

One task per (candidate, fold), run on any ``concurrent.futures.Executor`` (a process pool, a
dask ``Client.get_executor()``, Ray's) or, by default, in the calling process.
"""

from __future__ import annotations

import inspect
import itertools
import time
import warnings
from typing import Any, Callable, Iterable

import numpy as np

from modelmgmt.base import capabilities
from modelmgmt.errors import InvalidArgumentError, NotFittedError
from modelmgmt.models.base import Model
from modelmgmt.training import fit as training_fit
from modelmgmt.tuning._progress import make_progress
from modelmgmt.tuning._scoring import check_scoring
from modelmgmt.tuning._tasks import FIT_PREFIX, check_error_score, fit_model, run_tasks, split_params, warn_failures
from modelmgmt.tuning.cv import check_cv, prepare_xy

__all__ = ["GridSearch", "RandomSearch", "parameter_grid"]


def _factory_name(factory: Any) -> str:
    return getattr(factory, "__qualname__", None) or type(factory).__name__


def check_param_names(factory: Callable, names: Iterable[str]) -> None:
    """Raise ValueError for a parameter ``factory(**params)`` cannot take, listing what it accepts."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return  # builtins and the like: nothing to check against
    accepted = [
        p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    for name in names:
        if name.startswith(FIT_PREFIX):
            continue  # checked against the model's fit by check_fit_names
        if name not in accepted:
            raise InvalidArgumentError(
                f"unknown parameter {name!r} for {_factory_name(factory)}; it accepts: "
                f"{', '.join(accepted) or 'no keyword arguments'}"
            )


def check_fit_names(model: Any, names: Iterable[str]) -> None:
    """Raise ValueError for a ``fit__<name>`` parameter the model's fit does not take."""
    wanted = [n[len(FIT_PREFIX) :] for n in names if n.startswith(FIT_PREFIX)]
    if not wanted:
        return
    fit = getattr(type(model), "fit", None)
    if fit is Model.fit:  # the shorthand for modelmgmt.fit: check against that
        fit = training_fit
    try:
        sig = inspect.signature(fit)
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    accepted = [p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    accepted = [a for a in accepted if a not in ("self", "model", "X", "y")]
    for name in wanted:
        if name not in accepted:
            raise InvalidArgumentError(
                f"unknown fit parameter {FIT_PREFIX + name!r}: {type(model).__name__}'s fit accepts: {', '.join(accepted)}"
            )


def _as_grid_list(grid: Any, what: str) -> list[dict[str, Any]]:
    if isinstance(grid, dict):
        grid = [grid]
    if not isinstance(grid, (list, tuple)):
        raise InvalidArgumentError(f"{what} must be a dict of parameter name -> values or a list of such dicts; got {type(grid).__name__}")
    if not grid:
        raise InvalidArgumentError(f"{what} is empty; give at least one parameter with at least one value")
    for g in grid:
        if not isinstance(g, dict):
            raise InvalidArgumentError(f"{what} entries must be dicts; got {type(g).__name__}")
        if not g:
            raise InvalidArgumentError(f"{what} is empty; give at least one parameter with at least one value")
        for k in g:
            if not isinstance(k, str):
                raise InvalidArgumentError(f"{what} keys must be parameter names (str); got {k!r}")
    return list(grid)


def _values(name: str, v: Any) -> list:
    if isinstance(v, (str, bytes)) or not hasattr(v, "__len__"):
        raise InvalidArgumentError(f"values for parameter {name!r} must be a list (or tuple/array); got {type(v).__name__} {v!r:.40}")
    vals = list(v)
    if not vals:
        raise InvalidArgumentError(f"parameter {name!r} has no values to try; give a non-empty list")
    return vals


def parameter_grid(param_grid: Any) -> list[dict[str, Any]]:
    """Every combination of a grid, in scikit-learn's ParameterGrid order (sorted keys, last fastest)."""
    out = []
    for g in _as_grid_list(param_grid, "param_grid"):
        keys = sorted(g)
        for combo in itertools.product(*(_values(k, g[k]) for k in keys)):
            out.append(dict(zip(keys, combo)))
    return out


def _plain(v: Any) -> Any:
    """numpy scalars to Python numbers, so params log and register as JSON."""
    return v.item() if isinstance(v, np.generic) else v


_SCALAR = (str, int, float, bool, type(None))


def _loggable(params: dict[str, Any]) -> dict[str, Any]:
    """Params as JSON-able values: scalars and lists of scalars as they are, objects as their repr."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        v = _plain(v)
        if isinstance(v, (list, tuple)) and all(isinstance(_plain(x), _SCALAR) for x in v):
            out[k] = [_plain(x) for x in v]  # e.g. MLP hidden=(32, 16)
        else:
            out[k] = v if isinstance(v, _SCALAR) else repr(v)
    return out


def _hyperparams_of(value: Any) -> dict[str, Any] | None:
    """An object's own hyperparameters (an optimizer's ``hyperparams``, a model's ``config``)."""
    for attr in ("hyperparams", "config"):
        found = getattr(value, attr, None)
        if isinstance(found, dict):
            return found
    return None


def flatten_params(params: dict[str, Any]) -> dict[str, Any]:
    """Every hyperparameter as its own JSON-able param: an object (an optimizer) gives its class
    name under its own key and each of its hyperparameters under ``key.name``, so that
    ``fit__optimizer=Adam(lr=0.01)`` logs ``fit__optimizer="Adam"`` and ``fit__optimizer.lr=0.01``."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        v = _plain(v)
        inner = None if isinstance(v, _SCALAR + (list, tuple, dict)) else _hyperparams_of(v)
        if inner is None:
            out.update(_loggable({k: v}))
            continue
        out[k] = type(v).__name__
        out.update(flatten_params({f"{k}.{name}": value for name, value in inner.items()}))
    return out


class _BaseSearch:
    """Shared machinery: run tasks, aggregate per-fold scores, rank, refit, log, register."""

    def __init__(
        self,
        factory: Callable[..., Any],
        *,
        cv: Any = 5,
        scoring: Any = "accuracy",
        fit_params: dict | None = None,
        executor: Any = None,
        refit: bool | str = True,
        progress: bool | None = None,
        registry: Any = None,
        experiment: str | None = None,
        error_score: Any = "raise",
    ) -> None:
        if not callable(factory):
            raise InvalidArgumentError(f"factory must be a callable returning an unfitted Model; got {type(factory).__name__}")
        if not (isinstance(scoring, (str, list, tuple, dict)) or callable(scoring)):
            raise InvalidArgumentError(
                "scoring must be a metric name, a callable(model, X, y), or a tuple/list/dict of them; "
                f"got {type(scoring).__name__}")
        if not isinstance(refit, (bool, str)):
            raise InvalidArgumentError(f"refit must be True, False or the name of a scoring metric; got {type(refit).__name__}")
        if isinstance(scoring, (list, tuple, dict)):
            names = list(scoring) if isinstance(scoring, dict) else [
                s if isinstance(s, str) else getattr(s, "__name__", f"score{i}") for i, s in enumerate(scoring)]
            if isinstance(refit, str) and refit not in names:
                raise InvalidArgumentError(f"refit={refit!r} is not one of the scoring metrics: {', '.join(map(str, names))}")
        elif isinstance(refit, str) and refit != (scoring if isinstance(scoring, str) else getattr(scoring, "__name__", "score")):
            raise InvalidArgumentError(f"refit={refit!r} is not the scoring metric {scoring!r}")
        if fit_params is not None and not isinstance(fit_params, dict):
            raise InvalidArgumentError(f"fit_params must be a dict of keyword arguments for fit; got {type(fit_params).__name__}")
        if isinstance(cv, int) and not isinstance(cv, bool) and cv < 2:
            raise InvalidArgumentError(f"cv must be at least 2 folds; got {cv}")
        if executor is not None and not hasattr(executor, "submit"):
            raise InvalidArgumentError(f"executor must be a concurrent.futures.Executor (with submit); got {type(executor).__name__}")
        self.factory = factory
        self.cv = cv
        self.scoring = scoring
        self.fit_params = fit_params
        self.executor = executor
        self.refit = refit
        self.progress = progress
        self.registry = registry
        self.experiment = experiment
        self.error_score = check_error_score(error_score)
        self.results: list[dict[str, Any]] = []
        self.best_index: int | None = None
        self.best_model: Any = None
        self._runs: list[Any] = []
        self.run: Any = None  #: the parent tracking run, when a registry was given
        self.refit_time: float | None = None

    # --- what subclasses provide ----------------------------------------------------
    def _candidates(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    # --- running ----------------------------------------------------------------------
    @property
    def _scoring_name(self) -> str:
        """The metric that ranks candidates: the only one, the one ``refit`` names, or else
        the first of several."""
        if isinstance(self.refit, str):
            return self.refit
        if isinstance(self.scoring, (list, tuple, dict)):
            return self._metric_names[0]
        return self.scoring if isinstance(self.scoring, str) else getattr(self.scoring, "__name__", "score")

    @property
    def _metric_names(self) -> list[str]:
        if isinstance(self.scoring, dict):
            return list(self.scoring)
        if isinstance(self.scoring, (list, tuple)):
            return [s if isinstance(s, str) else getattr(s, "__name__", f"score{i}") for i, s in enumerate(self.scoring)]
        return [self._scoring_name]

    def _evaluate(
        self, candidates: list[dict], splits: list, X: np.ndarray, y: np.ndarray, fit_params_for: Callable[[int], dict | None], bar: Any
    ) -> list[dict[str, Any]]:
        """Score every candidate on every split; one result row per candidate."""
        scorers = check_scoring(self.scoring)
        names = list(scorers)
        primary = self._scoring_name if len(names) > 1 else names[0]
        tasks = []
        for c, params in enumerate(candidates):
            fp = fit_params_for(c)
            for train, test in splits:
                tasks.append((self.factory, params, X[train], y[train], X[test], y[test], scorers, fp, self.error_score))
        raw = run_tasks(self.executor, tasks, bar)
        warn_failures(raw, type(self).__name__)
        rows = []
        k = len(splits)
        for c, params in enumerate(candidates):
            chunk = raw[c * k : (c + 1) * k]
            row: dict[str, Any] = {"params": {n: _plain(v) for n, v in params.items()}}
            for name in names:  # every metric's mean and std (greater is better, as scikit-learn)
                per_split = np.array([r["scores"][name] for r in chunk])
                row[f"mean_{name}"] = float(np.mean(per_split))
                row[f"std_{name}"] = float(np.std(per_split))
                if len(names) > 1:
                    for i, s in enumerate(per_split):
                        row[f"split{i}_{name}"] = float(s)
            scores = np.array([r["scores"][primary] for r in chunk])
            for i, s in enumerate(scores):
                row[f"split{i}_score"] = float(s)
            row["split_scores"] = scores.tolist()
            row["mean_score"] = float(np.mean(scores))
            row["std_score"] = float(np.std(scores))  # population std, as scikit-learn
            row["fit_time"] = float(np.mean([r["fit_time"] for r in chunk]))
            row["score_time"] = float(np.mean([r["score_time"] for r in chunk]))
            rows.append(row)
        return rows

    @staticmethod
    def _rank(rows: list[dict], names: list[str] = ()) -> None:  # type: ignore[assignment]
        """rank 1 = best mean score; ties share the smallest rank (scipy's "min", as sklearn);
        with several metrics ``names``, ``rank_<metric>`` for each as well."""
        keys = [("rank", "mean_score")] + ([(f"rank_{n}", f"mean_{n}") for n in names] if len(names) > 1 else [])
        for rank_key, mean_key in keys:
            means = np.array([r[mean_key] for r in rows], dtype=float)
            means = np.where(np.isnan(means), -np.inf, means)
            for r, m in zip(rows, means):
                r[rank_key] = int(1 + np.sum(means > m))

    def _probe(self, candidates: list[dict]) -> tuple[bool, bool, bool]:
        """Build the first candidate and check fit__ names; (is classifier, accepts NaN, accepts strings)."""
        model = self.factory(**split_params(candidates[0])[0])
        check_fit_names(model, {n for c in candidates for n in c})
        caps = capabilities(model)
        return bool(caps["is_classifier"]), bool(caps["accepts_nan"]), bool(caps["accepts_strings"])

    def fit(self, X: Any, y: Any) -> "_BaseSearch":
        """Run the search on (X, y); fills ``results`` and the ``best_*`` attributes; returns self."""
        candidates = self._candidates()
        check_param_names(self.factory, {n for c in candidates for n in c})
        classifier, accepts_nan, accepts_strings = self._probe(candidates)
        X, y = prepare_xy(X, y, allow_nan=accepts_nan, allow_strings=accepts_strings)
        check_scoring(self.scoring)
        splits = check_cv(self.cv, X, y, classifier)
        bar = make_progress(self.progress, len(candidates) * len(splits), type(self).__name__)
        try:
            rows = self._evaluate(candidates, splits, X, y, lambda c: self.fit_params, bar)
        finally:
            if bar is not None:
                bar.close()
        self._rank(rows, self._metric_names)
        self.results = rows
        self.best_index = int(np.argmin([r["rank"] for r in rows]))  # first of tied bests
        self._finish(X, y, self.fit_params)
        return self

    def _finish(self, X: np.ndarray, y: np.ndarray, refit_params: dict | None) -> None:
        self.best_model = None
        if self.refit is not False:
            start = time.perf_counter()
            self.best_model = fit_model(self.factory, self.results[self.best_index]["params"], X, y, refit_params)
            self.refit_time = time.perf_counter() - start
        if self.registry is not None:
            self._log_runs()

    # --- results ------------------------------------------------------------------------
    def _check_done(self) -> None:
        if self.best_index is None:
            raise NotFittedError(f"{type(self).__name__} has not been run yet; call fit(X, y) first")

    @property
    def best_params(self) -> dict[str, Any]:
        """Parameters of the best candidate."""
        self._check_done()
        return dict(self.results[self.best_index]["params"])

    @property
    def best_score(self) -> float:
        """Mean cross-validated score of the best candidate (greater is better)."""
        self._check_done()
        return self.results[self.best_index]["mean_score"]

    # --- tracking and registry --------------------------------------------------------
    def _log_runs(self) -> None:
        """One parent run for the search (best params, best scores, the refit) and one child
        run per candidate with every hyperparameter as its own param and every metric."""
        experiment = self.experiment or type(self).__name__
        names = self._metric_names
        self._runs = []
        search_tags = {"search": type(self).__name__}
        with self.registry.start_run(experiment, tags={**search_tags, "role": "parent"}) as parent:
            self.run = parent
            for i, row in enumerate(self.results):
                with self.registry.start_run(experiment, params=flatten_params(row["params"]),
                                             tags={**search_tags, "role": "candidate", "candidate": i},
                                             parent=parent) as run:
                    metrics = {f"mean_{n}": row[f"mean_{n}"] for n in names}
                    metrics.update({f"std_{n}": row[f"std_{n}"] for n in names})
                    metrics.update({"fit_time": row["fit_time"], "rank": row["rank"]})
                    metrics.update({k: v for k, v in row.items()
                                    if k.startswith("split") and k != "split_scores" and isinstance(v, float)})
                    run.log_metrics(metrics)
                    row["run_id"] = run.id
                self._runs.append(run)
            best = self.results[self.best_index]
            parent.log_params(flatten_params(best["params"]))
            parent.log_metrics({**{f"best_mean_{n}": best[f"mean_{n}"] for n in names},
                                **{f"best_std_{n}": best[f"std_{n}"] for n in names},
                                **({"refit_time": self.refit_time} if self.best_model is not None else {})})
            parent.set_tag("best_run_id", best["run_id"])
            parent.set_tag("refit", "yes" if self.best_model is not None else "no")

    def register_best(self, registry: Any = None, name: str = "best") -> Any:
        """Register ``best_model`` with its params and CV score in ``registry``; the ModelVersion.

        When the trials were logged to that registry, the version's ``run_id`` is the search's
        parent run (which records the refit); its tag ``best_run_id`` names the best trial's run.
        """
        self._check_done()
        registry = registry if registry is not None else self.registry
        if registry is None:
            raise InvalidArgumentError("register_best needs a registry: pass one here or as registry= to the search")
        if self.best_model is None:
            raise InvalidArgumentError("register_best needs the refitted best model; run the search with refit=True")
        row = self.results[self.best_index]
        kwargs: dict[str, Any] = {
            "params": flatten_params(row["params"]),
            "metrics": {k: v for n in self._metric_names
                        for k, v in ((f"cv_{n}", row[f"mean_{n}"]), (f"cv_{n}_std", row[f"std_{n}"]))},
        }
        if self.run is not None and registry is self.registry:
            kwargs["run"] = self.run  # lineage: the version points at the search that refit it
        return registry.register(name, self.best_model, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_factory_name(self.factory)}, cv={self.cv!r}, scoring={self.scoring!r})"


class GridSearch(_BaseSearch):
    """Try every combination of ``param_grid`` with cross-validation and keep the best.

    >>> from modelmgmt.tuning.search import parameter_grid
    >>> parameter_grid({"l2": [0.1, 1.0], "lr": [1e-3]})
    [{'l2': 0.1, 'lr': 0.001}, {'l2': 1.0, 'lr': 0.001}]
    """

    def __init__(self, factory: Callable[..., Any], param_grid: Any, **kwargs: Any) -> None:
        super().__init__(factory, **kwargs)
        self.param_grid = param_grid
        check_param_names(factory, {n for c in parameter_grid(param_grid) for n in c})

    def _candidates(self) -> list[dict[str, Any]]:
        return parameter_grid(self.param_grid)


def _is_distribution(v: Any) -> bool:
    return hasattr(v, "rvs")


class RandomSearch(_BaseSearch):
    """Try ``n_iter`` parameter sets drawn from ``param_distributions`` (seeded, reproducible).

    A value is a list (uniform choice) or a scipy.stats frozen distribution (``rvs``). When
    every value is a list, the draws are distinct grid points, as scikit-learn's
    ParameterSampler does.
    """

    def __init__(self, factory: Callable[..., Any], param_distributions: Any, *, n_iter: int = 10, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(factory, **kwargs)
        if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)):
            raise InvalidArgumentError(f"n_iter must be an int >= 1; got {type(n_iter).__name__}")
        if n_iter < 1:
            raise InvalidArgumentError(f"n_iter must be at least 1; got {n_iter}")
        grids = _as_grid_list(param_distributions, "param_distributions")
        for g in grids:
            for k, v in g.items():
                if not _is_distribution(v):
                    _values(k, v)
        check_param_names(factory, {n for g in grids for n in g})
        self.param_distributions = param_distributions
        self.n_iter = int(n_iter)
        self.seed = seed

    def _candidates(self) -> list[dict[str, Any]]:
        grids = _as_grid_list(self.param_distributions, "param_distributions")
        rng = np.random.default_rng(self.seed)
        if all(not _is_distribution(v) for g in grids for v in g.values()):
            grid = parameter_grid(grids)
            n = self.n_iter
            if len(grid) < n:
                warnings.warn(
                    f"the grid has only {len(grid)} points, fewer than n_iter={n}; trying each once",
                    UserWarning, stacklevel=3,
                )
                n = len(grid)
            return [grid[i] for i in rng.choice(len(grid), size=n, replace=False)]
        out = []
        for _ in range(self.n_iter):
            g = grids[int(rng.integers(len(grids)))] if len(grids) > 1 else grids[0]
            params = {}
            for k in sorted(g):
                v = g[k]
                if _is_distribution(v):
                    params[k] = _plain(v.rvs(random_state=rng))
                else:
                    vals = list(v)
                    params[k] = vals[int(rng.integers(len(vals)))]
            out.append(params)
        return out


