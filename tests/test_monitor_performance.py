"""Live performance in Monitor reports equals scikit-learn on the same observed labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

import modelmgmt as mm


def _monitor(seed=0):
    rng = np.random.default_rng(seed)
    return mm.Monitor(rng.normal(size=(200, 2))), rng


def test_binary_classifier_metrics_equal_sklearn():
    mon, rng = _monitor(1)
    X = rng.normal(size=(900, 2))
    y_true = (X[:, 0] + rng.normal(0, 0.7, 900) > 0).astype(int)
    score = 1 / (1 + np.exp(-2 * X[:, 0]))
    y_pred = (score > 0.5).astype(int)
    for sl in np.array_split(np.arange(900), 7):
        mon.observe(X[sl], y_pred=y_pred[sl], y_true=y_true[sl], y_score=score[sl])
    perf = mon.report().performance
    assert perf["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-10)
    assert perf["precision"] == pytest.approx(skm.precision_score(y_true, y_pred), abs=1e-10)
    assert perf["recall"] == pytest.approx(skm.recall_score(y_true, y_pred), abs=1e-10)
    assert perf["f1"] == pytest.approx(skm.f1_score(y_true, y_pred), abs=1e-10)
    assert perf["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, score), abs=1e-10)


def test_multiclass_uses_macro_average():
    mon, rng = _monitor(2)
    X = rng.normal(size=(600, 2))
    y_true = rng.integers(0, 3, 600)
    y_pred = np.where(rng.random(600) < 0.7, y_true, rng.integers(0, 3, 600))
    for sl in np.array_split(np.arange(600), 4):
        mon.observe(X[sl], y_pred=y_pred[sl], y_true=y_true[sl])
    perf = mon.report().performance
    assert perf["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-10)
    assert perf["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average="macro"), abs=1e-10)
    assert perf["recall"] == pytest.approx(skm.recall_score(y_true, y_pred, average="macro"), abs=1e-10)
    assert "roc_auc" not in perf


def test_regressor_metrics_equal_sklearn():
    mon, rng = _monitor(3)
    X = rng.normal(size=(500, 2))
    y_true = X @ np.array([1.5, -2.0]) + rng.normal(0, 0.3, 500)
    y_pred = X @ np.array([1.4, -1.9])
    for sl in np.array_split(np.arange(500), 3):
        mon.observe(X[sl], y_pred=y_pred[sl], y_true=y_true[sl])
    perf = mon.report().performance
    assert perf["mse"] == pytest.approx(skm.mean_squared_error(y_true, y_pred), abs=1e-10)
    assert perf["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y_true, y_pred)), abs=1e-10)
    assert perf["mae"] == pytest.approx(skm.mean_absolute_error(y_true, y_pred), abs=1e-10)
    assert perf["r2"] == pytest.approx(skm.r2_score(y_true, y_pred), abs=1e-10)


def test_accuracy_alert_fires_when_performance_falls():
    mon, rng = _monitor(4)
    fired = []
    mon.alert_when("accuracy", "<", 0.9, fired.append)
    X = rng.normal(size=(100, 2))
    y = rng.integers(0, 2, 100)
    mon.observe(X, y_pred=y, y_true=y)
    mon.report()
    assert fired == []
    mon.observe(X, y_pred=1 - y, y_true=y)  # accuracy falls to 0.5
    rep = mon.report()
    assert len(fired) == 1 and fired[0].value == pytest.approx(0.5) and rep.performance["accuracy"] == 0.5
    assert 'modelmgmt_performance{metric="accuracy"} 0.5' in mon.to_prometheus()


def test_no_labels_no_performance_and_reset_clears():
    mon, rng = _monitor(5)
    X = rng.normal(size=(50, 2))
    mon.observe(X, y_pred=np.zeros(50))
    assert mon.report().performance == {}
    mon.observe(X, y_pred=np.zeros(50, int), y_true=np.zeros(50, int))
    assert mon.report().performance["accuracy"] == 1.0
    mon.reset()
    assert mon.report().performance == {} and mon.report().n_observed == 0
    with pytest.raises(ValueError, match="y_true has 3 rows"):
        mon.observe(X[:2], y_pred=[0, 1], y_true=[0, 1, 1])


# --------------------------------------------------------------------------- past the kept rows, windows, merges

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hs  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(seed=hs.integers(0, 2**32 - 1), k=hs.sampled_from([2, 3]), exact_rows=hs.sampled_from([0, 10_000]),
       parts=hs.integers(1, 5))
def test_classifier_metrics_equal_sklearn_in_histograms_and_merges(seed, k, exact_rows, parts):
    """Counts of label pairs are exact; past the kept rows roc_auc comes from 1,000-bin
    score histograms (within 2e-3 of scikit-learn)."""
    rng = np.random.default_rng(seed)
    n = 1500
    X = rng.normal(size=(n, 2))
    y_true = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k) * 0.7, size=n)
    proba[np.arange(n), y_true] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    y_pred = np.argmax(proba, axis=1)
    score = proba[:, 1] if k == 2 else proba
    ref = rng.normal(size=(100, 2))
    mons = []
    for sl in np.array_split(np.arange(n), parts):
        mon = mm.Monitor(ref, exact_rows=exact_rows)
        mon.observe(X[sl], y_pred=y_pred[sl], y_true=y_true[sl], y_score=score[sl])
        mons.append(mon)
    for other in mons[1:]:
        mons[0].merge(other)
    perf = mons[0].report().performance
    avg = "binary" if k == 2 else "macro"
    assert perf["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-12)
    assert perf["f1"] == pytest.approx(skm.f1_score(y_true, y_pred, average=avg), abs=1e-12)
    assert perf["precision"] == pytest.approx(skm.precision_score(y_true, y_pred, average=avg), abs=1e-12)
    auc = skm.roc_auc_score(y_true, score, multi_class="ovr")
    assert perf["roc_auc"] == pytest.approx(auc, abs=1e-12 if exact_rows else 2e-3)


@settings(max_examples=25, deadline=None)
@given(seed=hs.integers(0, 2**32 - 1), parts=hs.integers(1, 6), window=hs.sampled_from([None, 700]))
def test_regressor_metrics_equal_sklearn_across_merges_and_windows(seed, parts, window):
    rng = np.random.default_rng(seed)
    n = 1200
    X = rng.normal(size=(n, 2))
    y_true = 50 + X @ np.array([1.5, -2.0]) + rng.normal(0, 0.3, n)
    y_pred = 50 + X @ np.array([1.4, -1.9])
    ref = rng.normal(size=(100, 2))
    if window is None:
        mons = []
        for sl in np.array_split(np.arange(n), parts):
            mon = mm.Monitor(ref, task="regression")
            mon.observe(X[sl], y_pred=y_pred[sl], y_true=y_true[sl])
            mons.append(mon)
        for other in mons[1:]:
            mons[0].merge(other)
        perf, last = mons[0].report().performance, slice(0, n)
    else:
        mon = mm.Monitor(ref, task="regression", window=window)
        for sl in np.array_split(np.arange(n), parts):
            mon.observe(X[sl], y_pred=y_pred[sl], y_true=y_true[sl])
        perf, last = mon.report().performance, slice(n - window, n)
    assert perf["mse"] == pytest.approx(skm.mean_squared_error(y_true[last], y_pred[last]), rel=1e-12)
    assert perf["mae"] == pytest.approx(skm.mean_absolute_error(y_true[last], y_pred[last]), rel=1e-12)
    assert perf["r2"] == pytest.approx(skm.r2_score(y_true[last], y_pred[last]), rel=1e-10)
