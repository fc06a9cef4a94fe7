"""Shared by the monitor window tests: a labelled stream with a categorical column and
missing values, the classification monitor over it, and a report comparison to 1e-12."""

from __future__ import annotations

import math

import numpy as np
import pytest

import modelmgmt as mm


def stream(seed: int, n: int):
    rng = np.random.default_rng(seed)
    ref = np.column_stack([rng.normal(size=1500), rng.integers(0, 5, 1500), rng.normal(size=1500)])
    X = np.column_stack([rng.normal(0.3, 1, n), rng.integers(0, 6, n), rng.normal(size=n)])
    X[rng.random(n) < 0.05, 2] = np.nan
    score = 1 / (1 + np.exp(-X[:, 0]))
    y_pred = (score > 0.5).astype(int)
    y_true = (rng.random(n) < score).astype(int)
    return ref, X, y_pred, y_true, score


def assert_same_report(a, b, tol=1e-12, p_rel=None):
    assert a.n_observed == b.n_observed
    for fa, fb in zip([*a.features, a.prediction_drift], [*b.features, b.prediction_drift]):
        if fa is None:
            assert fb is None
            continue
        assert fa.test == fb.test and fa.drifted == fb.drifted and fa.n_current == fb.n_current
        assert fa.statistic == pytest.approx(fb.statistic, rel=tol, abs=tol) or (
            math.isnan(fa.statistic) and math.isnan(fb.statistic))
        assert (fa.p_value is None) == (fb.p_value is None)
        if fa.p_value is not None:
            assert fa.p_value == pytest.approx(fb.p_value, rel=p_rel or tol, abs=tol) or (
                math.isnan(fa.p_value) and math.isnan(fb.p_value))
        assert fa.missing_share == pytest.approx(fb.missing_share, abs=tol) or (
            math.isnan(fa.missing_share) and math.isnan(fb.missing_share))
        assert fa.out_of_range_share == pytest.approx(fb.out_of_range_share, abs=tol) or (
            math.isnan(fa.out_of_range_share) and math.isnan(fb.out_of_range_share))
        assert fa.histogram == fb.histogram and fa.new_categories == fb.new_categories
    for da, db in ((a.performance, b.performance), (a.estimated_performance, b.estimated_performance)):
        assert da.keys() == db.keys()
        for k in da:
            assert da[k] == pytest.approx(db[k], rel=tol, abs=tol) or (math.isnan(da[k]) and math.isnan(db[k]))


def classification_monitor(ref, y_pred, clock=None, **kw):
    mon = mm.Monitor(ref, categorical=[1], reference_predictions=y_pred[:500], task="classification", **kw)
    if clock is not None:
        mon._clock = clock
    return mon
