"""Stateful metrics: chunked updates and merges equal one call on all data; streaming ROCAUC bound."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelmgmt as mm
from modelmgmt import metrics as M

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def split(n, cuts):
    """Chunk boundaries from a list of cut fractions."""
    points = sorted({int(c * n) for c in cuts} | {0, n})
    return list(zip(points[:-1], points[1:]))


def run(metric_factory, arrays, bounds, weight=None):
    """Value from (a) chunked updates on one object and (b) one object per chunk merged."""
    chunked = metric_factory()
    parts = []
    for lo, hi in bounds:
        if hi == lo:
            continue
        kw = {} if weight is None else {"sample_weight": weight[lo:hi]}
        chunked.update(*(a[lo:hi] for a in arrays), **kw)
        part = metric_factory()
        part.update(*(a[lo:hi] for a in arrays), **kw)
        parts.append(part)
    merged = parts[0]
    for p in parts[1:]:
        assert merged.merge(p) is merged
    return chunked.compute(), merged.compute()


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


COUNTING = [
    (lambda **k: M.Accuracy(), lambda yt, yp, **k: M.accuracy(yt, yp, **k)),
    (lambda **k: M.Accuracy(normalize=False), lambda yt, yp, **k: M.accuracy(yt, yp, normalize=False, **k)),
    (lambda **k: M.Precision(average="macro"), lambda yt, yp, **k: M.precision(yt, yp, average="macro", **k)),
    (lambda **k: M.Recall(average="weighted"), lambda yt, yp, **k: M.recall(yt, yp, average="weighted", **k)),
    (lambda **k: M.F1(average="micro"), lambda yt, yp, **k: M.f1(yt, yp, average="micro", **k)),
    (lambda **k: M.F1(average=None, labels=[0, 2, 5]), lambda yt, yp, **k: M.f1(yt, yp, average=None, labels=[0, 2, 5], **k)),
    (lambda **k: M.FBeta(2.0, average="macro", zero_division=1.0), lambda yt, yp, **k: M.fbeta(yt, yp, 2.0, average="macro", zero_division=1.0, **k)),
    (lambda **k: M.ConfusionMatrix(), lambda yt, yp, **k: M.confusion_matrix(yt, yp, **k)),
    (lambda **k: M.ConfusionMatrix(normalize="true"), lambda yt, yp, **k: M.confusion_matrix(yt, yp, normalize="true", **k)),
]


@SETTINGS
@given(
    st.integers(2, 80),
    st.integers(2, 6),
    st.lists(st.floats(0, 1), max_size=4),
    st.booleans(),
    st.integers(0, 2**31),
)
def test_counting_classes_chunked_and_merged_equal_function(n, k, cuts, weighted, seed):
    rng = np.random.default_rng(seed)
    yt = rng.integers(0, k, n)
    yp = rng.integers(0, k, n)
    # labels appearing only in a later chunk: the label set grows
    yt[-1] = yp[-1] = k + 3
    w = rng.uniform(0.1, 2.0, n) if weighted else None
    bounds = split(n, cuts)
    for factory, fn in COUNTING:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            whole = fn(yt, yp, sample_weight=w)
            chunked, merged = run(factory, (yt, yp), bounds, w)
        close(chunked, whole)
        close(merged, whole)


def test_binary_f1_class_with_string_labels():
    yt = np.array(["no", "yes", "yes", "no", "yes", "no"])
    yp = np.array(["no", "yes", "no", "no", "yes", "yes"])
    m = M.F1(pos_label="yes")
    m.update(yt[:2], yp[:2])
    m.update(yt[2:], yp[2:])
    assert m.compute() == M.f1(yt, yp, pos_label="yes")


REGRESSION = [(M.MSE, M.mse), (M.RMSE, M.rmse), (M.MAE, M.mae), (M.R2, M.r2), (M.ExplainedVariance, M.explained_variance)]


@SETTINGS
@given(st.integers(2, 80), st.lists(st.floats(0, 1), max_size=4), st.booleans(), st.booleans(), st.integers(0, 2**31))
def test_regression_classes_chunked_and_merged_equal_function(n, cuts, weighted, constant, seed):
    rng = np.random.default_rng(seed)
    yt = np.full(n, 0.25) if constant else rng.normal(5.0, 3.0, n)  # 0.25: mean exact in floats
    yp = yt + rng.normal(0, 1, n)
    w = rng.uniform(0.1, 2.0, n) if weighted else None
    bounds = split(n, cuts)
    for cls, fn in REGRESSION:
        whole = fn(yt, yp, sample_weight=w)
        chunked, merged = run(cls, (yt, yp), bounds, w)
        close(chunked, whole)
        close(merged, whole)


def test_regression_class_stable_for_large_offsets():
    rng = np.random.default_rng(0)
    yt = 1e8 + rng.normal(0, 1, 10_000)
    yp = yt + rng.normal(0, 0.1, 10_000)
    m = M.R2()
    for i in range(0, 10_000, 999):
        m.update(yt[i:i + 999], yp[i:i + 999])
    close(m.compute(), M.r2(yt, yp))


@SETTINGS
@given(st.integers(4, 80), st.lists(st.floats(0, 1), max_size=4), st.booleans(), st.integers(0, 2**31))
def test_score_classes_chunked_and_merged_equal_function(n, cuts, weighted, seed):
    rng = np.random.default_rng(seed)
    yt = rng.integers(0, 2, n)
    yt[:2] = [0, 1]
    s = np.round(rng.uniform(0, 1, n), 1)  # ties
    w = rng.uniform(0.1, 2.0, n) if weighted else None
    bounds = split(n, cuts)
    close(run(M.ROCAUC, (yt, s), bounds, w)[0], M.roc_auc(yt, s, sample_weight=w))
    close(run(M.ROCAUC, (yt, s), bounds, w)[1], M.roc_auc(yt, s, sample_weight=w))
    for got in run(M.AveragePrecision, (yt, s), bounds, w):
        close(got, M.average_precision(yt, s, sample_weight=w))
    for got in run(M.LogLoss, (yt, s), bounds, w):
        close(got, M.log_loss(yt, s, sample_weight=w))
    k = 3
    y3 = rng.integers(0, k, n)
    y3[:k] = np.arange(k)
    p = rng.uniform(0.05, 1, (n, k))
    p /= p.sum(axis=1, keepdims=True)
    for got in run(lambda: M.ROCAUC(multi_class="ovr"), (y3, p), bounds, w):
        close(got, M.roc_auc(y3, p, multi_class="ovr", sample_weight=w))
    for got in run(lambda: M.LogLoss(normalize=False), (y3, p), bounds, w):
        close(got, M.log_loss(y3, p, sample_weight=w, normalize=False))


@SETTINGS
@given(st.integers(10, 400), st.sampled_from([1, 2, 5, 10, 50]), st.booleans(), st.integers(0, 2**31))
def test_streaming_rocauc_error_bound_holds(n, bins, weighted, seed):
    rng = np.random.default_rng(seed)
    yt = rng.integers(0, 2, n)
    yt[:2] = [0, 1]
    s = np.clip(rng.normal(0.4 + 0.2 * yt, 0.2), 0, 1)
    w = rng.uniform(0.1, 2.0, n) if weighted else None
    m = M.ROCAUC(bins=bins)
    for lo, hi in split(n, [0.3, 0.7]):
        m.update(yt[lo:hi], s[lo:hi], sample_weight=None if w is None else w[lo:hi])
    exact = M.roc_auc(yt, s, sample_weight=w)
    assert abs(exact - m.compute()) <= m.error_bound() + 1e-12
    assert 0 <= m.error_bound() <= 0.5


def test_streaming_rocauc_multiclass_bound_and_fine_bins_converge():
    rng = np.random.default_rng(3)
    n, k = 3000, 3
    y = rng.integers(0, k, n)
    p = rng.dirichlet(np.ones(k), n)
    p[np.arange(n), y] += 0.5
    p /= p.sum(axis=1, keepdims=True)
    for mc, avg in [("ovr", "macro"), ("ovr", "weighted"), ("ovr", "micro"), ("ovo", "macro"), ("ovo", "weighted")]:
        m = M.ROCAUC(multi_class=mc, average=avg, bins=1000)
        m.update(y[:1000], p[:1000])
        other = M.ROCAUC(multi_class=mc, average=avg, bins=1000)
        other.update(y[1000:], p[1000:])
        m.merge(other)
        exact = M.roc_auc(y, p, multi_class=mc, average=avg)
        assert abs(exact - m.compute()) <= m.error_bound() + 1e-12
        assert m.error_bound() < 1e-3


def test_streaming_rocauc_rejects_scores_outside_range():
    m = M.ROCAUC(bins=10)
    with pytest.raises(ValueError, match="score_range"):
        m.update([0, 1], [0.5, 1.5])
    m = M.ROCAUC(bins=10, score_range=(-5, 5))
    m.update([0, 1], [-4.0, 4.0])
    assert m.compute() == 1.0


# ---- merge / compute / reset contract ------------------------------------------------------

ALL_CLASSES = [
    M.Accuracy, M.Precision, M.Recall, M.F1, lambda: M.FBeta(0.5), M.ConfusionMatrix, M.ROCAUC,
    M.AveragePrecision, M.LogLoss, M.MSE, M.RMSE, M.MAE, M.R2, M.ExplainedVariance,
]


@pytest.mark.parametrize("factory", ALL_CLASSES)
def test_compute_before_update_raises_and_reset_forgets(factory):
    m = factory()
    assert isinstance(m, mm.Metric)
    with pytest.raises(ValueError, match="nothing seen"):
        m.compute()
    if m.needs_proba:
        m.update([0, 1, 1], [0.2, 0.7, 0.6])
    else:
        m.update([0, 1, 1], [0, 1, 0])
    m.compute()
    m.reset()
    with pytest.raises(ValueError, match="nothing seen"):
        m.compute()


def test_merge_refuses_other_kind_or_settings():
    with pytest.raises(TypeError, match="same kind and settings"):
        M.F1(average="macro").merge(M.F1(average="micro"))
    with pytest.raises(TypeError, match="same kind and settings"):
        M.Precision().merge(M.Recall())
    with pytest.raises(TypeError, match="same kind and settings"):
        M.ROCAUC(bins=10).merge(M.ROCAUC(bins=20))
    with pytest.raises(TypeError):
        M.MSE().merge(object())


def test_update_bad_input_raises():
    with pytest.raises(ValueError, match="same number of samples"):
        M.F1().update([0, 1], [0])
    with pytest.raises(ValueError, match="finite"):
        M.ROCAUC().update([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="finite"):
        M.MSE().update([0.0, np.nan], [0.0, 1.0])
    for m in (M.F1(average="macro"), M.Accuracy()):
        m.update([0, 1], [0, 1])
        with pytest.raises(ValueError, match="string"):
            m.update(["a", "b"], ["a", "b"])


def test_constructor_bad_settings_raise():
    with pytest.raises(ValueError, match="average"):
        M.F1(average="bogus")
    with pytest.raises(ValueError, match="bins"):
        M.ROCAUC(bins=0)
    with pytest.raises(ValueError, match="beta"):
        M.FBeta(-1.0)


def test_one_class_rocauc_class_raises():
    m = M.ROCAUC()
    m.update([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="Only one class"):
        m.compute()
