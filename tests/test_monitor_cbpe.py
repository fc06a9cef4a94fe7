"""CBPE: performance estimated from scores without labels, on synthetic logistic problems
under covariate shift (scikit-learn fits the models and scores the realised values)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

import modelmgmt as mm
from modelmgmt.monitor import CBPEWarning

W = np.array([1.5, -1.0, 0.5])


def _binary(rng, n, shift=0.0):
    X = rng.normal(size=(n, 3)) + shift * np.array([1.0, 0.5, 0.0])
    p = 1 / (1 + np.exp(-(X @ W - 0.3)))
    return X, (rng.random(n) < p).astype(int)


def _multiclass(rng, n, shift=0.0):
    X = rng.normal(size=(n, 3)) + shift * np.array([0.8, -0.6, 0.3])
    logits = X @ np.array([[1.2, -0.5, 0.0], [-0.7, 1.0, 0.3], [0.2, 0.4, -1.1]])
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return X, y


@pytest.mark.parametrize("shift", [0.0, 0.7, 1.5])
def test_binary_estimate_within_003_of_realised_under_covariate_shift(shift):
    rng = np.random.default_rng(1)
    X_ref, y_ref = _binary(rng, 20_000)
    clf = LogisticRegression().fit(X_ref, y_ref)  # a calibrated model
    ref_score = clf.predict_proba(X_ref)[:, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CBPEWarning)
        mon = mm.Monitor(X_ref, reference_labels=y_ref, reference_scores=ref_score)
    assert mon.calibration["trusted"]
    X, y = _binary(rng, 20_000, shift)
    score, pred = clf.predict_proba(X)[:, 1], clf.predict(X)
    for part in np.array_split(np.arange(len(X)), 7):
        mon.observe(X[part], y_pred=pred[part], y_score=score[part])  # no labels
    est = mon.report().estimated_performance
    assert set(est) == {"accuracy", "f1", "roc_auc"}
    assert abs(est["accuracy"] - skm.accuracy_score(y, pred)) < 0.03
    assert abs(est["f1"] - skm.f1_score(y, pred)) < 0.03
    assert abs(est["roc_auc"] - skm.roc_auc_score(y, score)) < 0.03
    assert mon.report().performance == {}


@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_multiclass_estimate_within_003_of_realised_under_covariate_shift(shift):
    rng = np.random.default_rng(2)
    X_ref, y_ref = _multiclass(rng, 20_000)
    clf = LogisticRegression().fit(X_ref, y_ref)
    mon = mm.Monitor(X_ref, reference_labels=y_ref, reference_scores=clf.predict_proba(X_ref))
    assert mon.calibration["trusted"]
    X, y = _multiclass(rng, 20_000, shift)
    proba, pred = clf.predict_proba(X), clf.predict(X)
    mon.observe(X, y_pred=pred, y_score=proba)
    est = mon.report().estimated_performance
    assert abs(est["accuracy"] - skm.accuracy_score(y, pred)) < 0.03
    assert abs(est["f1"] - skm.f1_score(y, pred, average="macro")) < 0.03
    assert abs(est["roc_auc"] - skm.roc_auc_score(y, proba, multi_class="ovr")) < 0.03


@settings(max_examples=30, deadline=None)
@given(seed=hs.integers(0, 2**32 - 1), k=hs.integers(2, 5), n=hs.integers(1, 400))
def test_estimates_equal_the_expected_confusion_matrix(seed, k, n):
    """The arithmetic: each estimate is the metric's expectation under the scores, computed
    directly (sklearn with every row counted as each class, weighted by its probability)."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k), size=n)
    pred = np.argmax(p, axis=1)
    mon = mm.Monitor(rng.normal(size=(50, 1)))
    mon.observe(rng.normal(size=(n, 1)), y_pred=pred, y_score=p)
    est = mon.report().estimated_performance
    assert est["accuracy"] == pytest.approx(p[np.arange(n), pred].mean(), abs=1e-12)
    tp = np.array([p[pred == c, c].sum() for c in range(k)])
    f1_c = [2 * tp[c] / ((pred == c).sum() + p[:, c].sum()) for c in range(k)]
    want_f1 = f1_c[1] if k == 2 else np.mean(f1_c)
    assert est["f1"] == pytest.approx(want_f1, abs=1e-12)
    aucs = []
    for c in (range(1, 2) if k == 2 else range(k)):
        y = np.r_[np.ones(n), np.zeros(n)]
        w = np.r_[p[:, c], 1 - p[:, c]]
        if w[:n].sum() > 0 and w[n:].sum() > 0:
            aucs.append(skm.roc_auc_score(y, np.r_[p[:, c], p[:, c]], sample_weight=w))
    if aucs:  # scores are binned into 1000 bins: ties within a bin cost at most ~1e-3
        assert est["roc_auc"] == pytest.approx(np.mean(aucs), abs=3e-3)


def test_miscalibrated_reference_warns_and_concept_drift_is_not_seen():
    rng = np.random.default_rng(3)
    X_ref, y_ref = _binary(rng, 5000)
    logit = X_ref @ W - 0.3
    overconfident = 1 / (1 + np.exp(-3 * logit))
    with pytest.warns(CBPEWarning, match="not calibrated"):
        mon = mm.Monitor(X_ref, reference_labels=y_ref, reference_scores=overconfident)
    assert not mon.calibration["trusted"]
    assert mon.calibration["estimated_accuracy"] > mon.calibration["accuracy"] + 0.05
    # concept drift: p(y | x) changes, the scores don't know it; CBPE keeps its estimate
    X, y = _binary(rng, 5000)
    y = 1 - y
    score = 1 / (1 + np.exp(-(X @ W - 0.3)))
    mon.observe(X, y_pred=(score > 0.5).astype(int), y_score=score)
    est = mon.report().estimated_performance["accuracy"]
    assert est > 0.7 and skm.accuracy_score(y, score > 0.5) < 0.3


def test_bad_scores_and_labels_without_predictions():
    rng = np.random.default_rng(4)
    mon = mm.Monitor(rng.normal(size=(50, 2)))
    X = rng.normal(size=(5, 2))
    with pytest.raises(mm.InvalidArgumentError, match="probabilities in \\[0, 1\\]"):
        mon.observe(X, y_score=np.array([0.1, 2.0, 0.3, 0.4, 0.5]))
    with pytest.raises(mm.InvalidArgumentError, match="y_true needs y_pred"):
        mon.observe(X, y_true=np.ones(5, int))
    with pytest.raises(mm.InvalidArgumentError, match="y_true needs y_pred"):
        mon.observe(X, y_true=np.ones(5, int), y_score=np.full(5, 0.5))
    mon.observe(X, y_score=np.full((5, 3), 1 / 3))
    with pytest.raises(mm.InvalidArgumentError, match="y_score has 2 classes; earlier batches had 3"):
        mon.observe(X, y_score=np.full(5, 0.5))
    with pytest.raises(mm.InvalidArgumentError, match="go together"):
        mm.Monitor(rng.normal(size=(50, 2)), reference_labels=np.zeros(50))
    reg = mm.Monitor(rng.normal(size=(50, 2)), task="regression")
    with pytest.raises(mm.InvalidArgumentError, match="classifiers"):
        reg.observe(X, y_score=np.full(5, 0.5))


@pytest.mark.parametrize("multiclass", [False, True])
def test_calibrate_fixes_an_overconfident_model(multiclass):
    """An over-confident model (logits x3): CBPE on its raw scores is off; calibrate=True
    fits isotonic maps on the reference and brings the estimate back within 0.03."""
    rng = np.random.default_rng(5)
    make = _multiclass if multiclass else _binary
    X_ref, y_ref = make(rng, 20_000)
    clf = LogisticRegression().fit(X_ref, y_ref)

    def overconfident(X):
        z = clf.decision_function(X) * 3
        if not multiclass:
            return 1 / (1 + np.exp(-z))
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    with pytest.warns(CBPEWarning):
        raw = mm.Monitor(X_ref, reference_labels=y_ref, reference_scores=overconfident(X_ref))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CBPEWarning)
        fixed = mm.Monitor(X_ref, reference_labels=y_ref, reference_scores=overconfident(X_ref), calibrate=True)
    assert fixed.calibration["calibrated"] and not fixed.calibration["trusted"]  # figures of the raw scores
    X, y = make(rng, 20_000, 1.0)
    pred = clf.predict(X)
    for mon in (raw, fixed):
        mon.observe(X, y_pred=pred, y_score=overconfident(X))
    realised = skm.accuracy_score(y, pred)
    assert abs(raw.report().estimated_performance["accuracy"] - realised) > 0.04
    assert abs(fixed.report().estimated_performance["accuracy"] - realised) < 0.03
    with pytest.raises(mm.InvalidArgumentError, match="calibrate=True"):
        mm.Monitor(X_ref, calibrate=True)


def test_isotonic_fit_equals_sklearn():
    from sklearn.isotonic import IsotonicRegression

    from modelmgmt.monitor.performance import isotonic_fit

    rng = np.random.default_rng(6)
    for _ in range(50):
        n = int(rng.integers(1, 400))
        x = np.round(rng.random(n), 2)
        y = (rng.random(n) < x).astype(float)
        xs, ys = isotonic_fit(x, y)
        v = rng.random(100) * 1.2 - 0.1
        want = IsotonicRegression(out_of_bounds="clip").fit(x, y).predict(v)
        assert np.interp(v, xs, ys) == pytest.approx(want, abs=1e-12)
