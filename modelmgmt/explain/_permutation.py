"""Permutation importance: how much a score drops when one feature's values are shuffled.

scikit-learn's definition and its permutations. With an int ``seed``, the permutations are the
ones ``sklearn.inspection.permutation_importance(random_state=seed)`` draws: a legacy
``np.random.RandomState(seed)`` draws one 32-bit seed, and every feature's column is shuffled
``n_repeats`` times, in place and cumulatively, by ``RandomState(that seed).shuffle`` of one
index array. Same model, data and seed give sklearn's importances.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs
import numpy as np

from modelmgmt._validation import check_int, check_same_length
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.explain._tables import as_table, set_column
from modelmgmt.explain._tables import column as table_column
from modelmgmt.metrics import Metric, evaluate
from modelmgmt.metrics import get as get_metric

__all__ = ["PermutationImportance", "permutation_importance", "feature_permutations"]


@attrs.frozen
class PermutationImportance:
    """Importances (n_features, n_repeats): baseline score minus permuted score (losses: the reverse)."""

    importances: np.ndarray = attrs.field(eq=attrs.cmp_using(eq=np.array_equal))
    importances_mean: np.ndarray = attrs.field(eq=attrs.cmp_using(eq=np.array_equal))
    importances_std: np.ndarray = attrs.field(eq=attrs.cmp_using(eq=np.array_equal))
    baseline_score: float = 0.0
    scoring: str = ""


def feature_permutations(n_samples: int, n_repeats: int, seed: int) -> list[np.ndarray]:
    """The row order of a permuted column after each repeat (sklearn's cumulative shuffles).

    ``seed`` is the per-feature seed (the same for every feature, as in sklearn).
    """
    rs = np.random.RandomState(seed)
    idx = np.arange(n_samples)
    order = np.arange(n_samples)
    out = []
    for _ in range(n_repeats):
        rs.shuffle(idx)
        order = order[idx]  # sklearn permutes the already-permuted column again
        out.append(order)
    return out


def _scorer(scoring: Any) -> tuple[str, Callable[[Any, np.ndarray, np.ndarray], float], float]:
    """(name, score(model, X, y), sign): sign -1 for a loss, so importance = sign * (base - permuted)."""
    if callable(scoring) and not isinstance(scoring, Metric):
        return getattr(scoring, "__name__", "custom"), scoring, 1.0
    if isinstance(scoring, str):
        metric = get_metric(scoring)  # NotFoundError lists the known names
    elif isinstance(scoring, Metric):
        metric = scoring
    else:
        raise InvalidArgumentError(
            f"scoring must be a metric name, a Metric or a callable(model, X, y) -> float; got {type(scoring).__name__}"
        )
    name = getattr(metric, "name", "") or type(metric).__name__
    return name, _MetricScore(metric), 1.0 if getattr(metric, "greater_is_better", True) else -1.0


@attrs.frozen
class _MetricScore:
    """score(model, X, y) with one metric, through :func:`evaluate` (picklable for process pools)."""

    metric: Metric

    def __call__(self, model: Any, X: np.ndarray, y: np.ndarray) -> float:
        return float(next(iter(evaluate(model, X, y, [self.metric]).values())))


def _feature_scores(model: Any, X: Any, y: np.ndarray, column: int, seed: int, n_repeats: int,
                    score: Callable[..., float]) -> np.ndarray:
    """Scores of ``model`` with one column permuted, for each repeat (one task on an executor)."""
    Xp = X.copy()
    original = table_column(X, column)
    out = np.empty(n_repeats)
    for r, order in enumerate(feature_permutations(X.shape[0], n_repeats, seed)):
        set_column(Xp, column, original[order])
        out[r] = score(model, Xp, y)
    return out


def permutation_importance(
    model: Any,
    X: Any,
    y: Any,
    *,
    scoring: Any = "accuracy",
    n_repeats: int = 5,
    seed: int | None = None,
    executor: Any = None,
) -> PermutationImportance:
    """Permutation importance of every feature, as sklearn.inspection.permutation_importance.

    ``scoring``: a metric name of :func:`modelmgmt.metrics.get` (a loss such as "mse" counts
    as its negative, like sklearn's "neg_mean_squared_error"), a Metric, or a callable
    ``(model, X, y) -> float`` where larger is better. ``X`` may be a numeric array, a 2-D
    object array with string columns, or a pandas DataFrame (shuffled column by column and
    passed to the model as a DataFrame). One task per feature runs on
    ``executor`` (any concurrent.futures.Executor; a process pool pickles the model and data
    once per feature) or here. An int ``seed`` reproduces sklearn's ``random_state`` permutations.
    """
    Xa = as_table(X)
    ya = np.asarray(y)
    check_same_length(X=Xa, y=ya)
    n_repeats = check_int(n_repeats, "n_repeats", min=1)
    if seed is not None:
        seed = check_int(seed, "seed", min=0)
    if executor is not None and not hasattr(executor, "submit"):
        raise InvalidArgumentError(f"executor must be a concurrent.futures.Executor (with submit); got {type(executor).__name__}")
    name, score, sign = _scorer(scoring)
    feature_seed = int(np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1))
    baseline = score(model, Xa, ya)
    tasks = [(model, Xa, ya, j, feature_seed, n_repeats, score) for j in range(Xa.shape[1])]
    if executor is None:
        scores = [_feature_scores(*t) for t in tasks]
    else:
        scores = [f.result() for f in [executor.submit(_feature_scores, *t) for t in tasks]]
    importances = sign * (baseline - np.stack(scores))
    return PermutationImportance(
        importances=importances,
        importances_mean=np.mean(importances, axis=1),
        importances_std=np.std(importances, axis=1),
        baseline_score=float(baseline),
        scoring=name,
    )
