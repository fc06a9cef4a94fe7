"""Partial dependence: the model's average prediction as one feature sweeps a grid (brute force).

scikit-learn's ``partial_dependence(method="brute", kind="average")``: the grid is the
feature's distinct values when there are fewer than ``grid_resolution`` of them, else
``grid_resolution`` evenly spaced points between its 5th and 95th percentiles (computed with
scipy's ``mquantiles``, alphap = betap = 0.4, as sklearn does). For each grid value every
row's feature is set to it and the predictions are averaged: ``predict_proba`` for a
classifier (the positive column for two classes), else ``predict``.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from modelmgmt._validation import check_int
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.explain._tables import as_table, column, repeat_rows, set_column

__all__ = ["PartialDependence", "partial_dependence", "mquantiles"]

#: rows predicted at once: grid values are stacked into blocks of about this many rows
_BLOCK_ROWS = 200_000


@attrs.frozen
class PartialDependence:
    """``grid`` (n_grid,) and ``average`` (n_outputs, n_grid), as sklearn's grid_values / average."""

    grid: np.ndarray = attrs.field(eq=attrs.cmp_using(eq=np.array_equal))
    average: np.ndarray = attrs.field(eq=attrs.cmp_using(eq=np.array_equal))
    feature: int = 0


def mquantiles(x: np.ndarray, prob: tuple[float, ...], alphap: float = 0.4, betap: float = 0.4) -> np.ndarray:
    """scipy.stats.mstats.mquantiles of a 1-D array (the plotting positions sklearn's grid uses)."""
    s = np.sort(x)
    n = len(s)
    p = np.asarray(prob, dtype=np.float64)
    if n == 1:
        return np.resize(s, p.shape).astype(np.float64)
    aleph = n * p + (alphap + p * (1.0 - alphap - betap))
    k = np.floor(aleph.clip(1, n - 1)).astype(int)
    gamma = (aleph - k).clip(0, 1)
    return (1.0 - gamma) * s[k - 1] + gamma * s[k]


def _grid(column: np.ndarray, percentiles: tuple[float, float], grid_resolution: int) -> np.ndarray:
    uniques = np.unique(column)
    if uniques.shape[0] < grid_resolution:
        return uniques
    lo, hi = mquantiles(column, percentiles)
    if np.allclose(lo, hi):
        raise InvalidArgumentError(
            "percentiles are too close to each other, unable to build the grid. Please choose "
            "percentiles that are further apart."
        )
    return np.linspace(lo, hi, num=grid_resolution, endpoint=True)


def partial_dependence(
    model: Any,
    X: Any,
    feature: int,
    *,
    grid_resolution: int = 100,
    percentiles: tuple[float, float] = (0.05, 0.95),
) -> PartialDependence:
    """Average prediction of ``model`` over ``X`` with column ``feature`` set to each grid value.

    Equal to sklearn's ``partial_dependence(model, X, [feature], method="brute")``: ``.grid`` is
    its ``grid_values[0]`` and ``.average`` its ``average[..., :]`` of shape (n_outputs, n_grid)
    — one row for a regressor or a binary classifier (positive class), one per class otherwise.
    ``X`` may be numeric, a 2-D object array with string columns, or a DataFrame (passed to the
    model as such); the ``feature`` column itself must hold numbers.
    """
    Xa = as_table(X)
    feature = check_int(feature, "feature", min=-Xa.shape[1], max=Xa.shape[1] - 1) % Xa.shape[1]
    grid_resolution = check_int(grid_resolution, "grid_resolution", min=2)
    if (not isinstance(percentiles, (tuple, list)) or len(percentiles) != 2
            or not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in percentiles)
            or not percentiles[0] < percentiles[1]):
        raise InvalidArgumentError(f"percentiles must be (low, high) with 0 <= low < high <= 1; got {percentiles!r}")
    predict = getattr(model, "predict_proba", None)
    if predict is None:
        predict = getattr(model, "predict", None)
    if predict is None:
        raise InvalidArgumentError(f"model must have predict or predict_proba; got {type(model).__name__}")
    classifier = hasattr(model, "predict_proba")
    try:
        values_of_feature = np.asarray(column(Xa, feature), dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"partial_dependence needs a numeric feature; column {feature} is not") from None
    grid = _grid(values_of_feature, (float(percentiles[0]), float(percentiles[1])), grid_resolution)
    n = Xa.shape[0]
    per_block = max(1, _BLOCK_ROWS // n)
    averages: list[np.ndarray] = []
    for start in range(0, len(grid), per_block):
        values = grid[start:start + per_block]
        block = repeat_rows(Xa, len(values))
        set_column(block, feature, np.repeat(values, n))
        pred = np.asarray(predict(block), dtype=np.float64)
        pred = pred.reshape(len(values), n, *pred.shape[1:])
        averages.extend(np.mean(pred[i], axis=0) for i in range(len(values)))
    avg = np.array(averages).T  # (n_outputs, n_grid) or (n_grid,)
    if avg.ndim == 1:
        avg = avg.reshape(1, -1)
    elif classifier and avg.shape[0] == 2:
        avg = avg[1].reshape(1, -1)
    return PartialDependence(grid=grid, average=avg, feature=feature)
