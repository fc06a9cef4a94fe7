"""Metric functions against scikit-learn: random inputs (hypothesis), edge cases, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelmgmt as mm
from modelmgmt import metrics as M

skm = pytest.importorskip("sklearn.metrics")

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AVERAGES = ["binary", "micro", "macro", "weighted", None]
ZERO_DIVISION = [0.0, 1.0, np.nan, "warn"]


def quiet(fn, *args, **kwargs):
    """Call fn with sklearn's warnings silenced; return the value or the exception type."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            return type(exc)


def assert_same(ours, ref):
    """Same kind of result (float vs array vs error) and equal values to 1e-10."""
    if isinstance(ref, type):
        assert ours is ref or (isinstance(ours, type) and issubclass(ours, ref)), (ours, ref)
        return
    assert not isinstance(ours, type), f"we raised {ours}, sklearn returned {ref!r}"
    assert isinstance(ours, np.ndarray) == isinstance(ref, np.ndarray), (type(ours), type(ref))
    if not isinstance(ref, np.ndarray):
        assert type(ours) is type(ref), (type(ours), type(ref))
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


@st.composite
def label_pairs(draw, max_classes=5, strings=None, weights=None):
    n = draw(st.integers(1, 60))
    k = draw(st.integers(1, max_classes))
    yt = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    yp = np.array(draw(st.lists(st.integers(0, k), min_size=n, max_size=n)))
    if strings is None:
        strings = draw(st.booleans())
    if strings:
        names = np.array(["ant", "bee", "cat", "dog", "eel", "fox"])
        yt, yp = names[yt], names[yp]
    if weights is None:
        weights = draw(st.booleans())
    w = np.array(draw(st.lists(st.floats(0.0, 3.0), min_size=n, max_size=n))) if weights else None
    return yt, yp, w


@SETTINGS
@given(label_pairs(), st.sampled_from(AVERAGES), st.sampled_from(ZERO_DIVISION), st.sampled_from([0.0, 0.5, 1.0, 2.0]))
def test_precision_recall_f_match_sklearn(data, average, zero_division, beta):
    yt, yp, w = data
    pos = "bee" if yt.dtype.kind == "U" else 1
    kw = dict(average=average, zero_division=zero_division, sample_weight=w, pos_label=pos)
    assert_same(quiet(M.precision, yt, yp, **kw), quiet(skm.precision_score, yt, yp, **kw))
    assert_same(quiet(M.recall, yt, yp, **kw), quiet(skm.recall_score, yt, yp, **kw))
    assert_same(quiet(M.f1, yt, yp, **kw), quiet(skm.f1_score, yt, yp, **kw))
    assert_same(quiet(M.fbeta, yt, yp, beta, **kw), quiet(skm.fbeta_score, yt, yp, beta=beta, **kw))


@SETTINGS
@given(label_pairs(strings=False), st.sampled_from(AVERAGES[1:]), st.lists(st.integers(0, 6), min_size=1, max_size=4, unique=True))
def test_labels_argument_matches_sklearn(data, average, labels):
    yt, yp, w = data
    kw = dict(average=average, labels=labels, sample_weight=w)
    assert_same(quiet(M.f1, yt, yp, **kw), quiet(skm.f1_score, yt, yp, **kw))
    assert_same(quiet(M.precision, yt, yp, **kw), quiet(skm.precision_score, yt, yp, **kw))
    ref = quiet(skm.confusion_matrix, yt, yp, labels=labels, sample_weight=w)
    assert_same(quiet(M.confusion_matrix, yt, yp, labels=labels, sample_weight=w), ref)


@SETTINGS
@given(label_pairs(), st.sampled_from([None, "true", "pred", "all"]), st.booleans())
def test_confusion_matrix_and_accuracy_match_sklearn(data, normalize, norm_acc):
    yt, yp, w = data
    ours = quiet(M.confusion_matrix, yt, yp, sample_weight=w, normalize=normalize)
    ref = quiet(skm.confusion_matrix, yt, yp, sample_weight=w, normalize=normalize)
    assert_same(ours, ref)
    if not isinstance(ref, type):
        assert ours.dtype == ref.dtype
    kw = dict(normalize=norm_acc, sample_weight=w)
    assert_same(quiet(M.accuracy, yt, yp, **kw), quiet(skm.accuracy_score, yt, yp, **kw))


@st.composite
def binary_scores(draw, weights=None, ties=None):
    n = draw(st.integers(2, 80))
    yt = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if ties is None:
        ties = draw(st.booleans())
    if ties:
        s = np.array(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))) / 4.0
    else:
        s = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    if weights is None:
        weights = draw(st.booleans())
    w = np.array(draw(st.lists(st.floats(0.01, 3.0), min_size=n, max_size=n))) if weights else None
    return yt, s, w


@SETTINGS
@given(binary_scores())
def test_binary_score_metrics_match_sklearn(data):
    yt, s, w = data
    if len(np.unique(yt)) == 2:
        assert_same(M.roc_auc(yt, s, sample_weight=w), skm.roc_auc_score(yt, s, sample_weight=w))
        assert_same(M.roc_auc(yt, np.c_[1 - s, s], sample_weight=w), skm.roc_auc_score(yt, s, sample_weight=w))
        assert_same(M.log_loss(yt, s, sample_weight=w), skm.log_loss(yt, s, sample_weight=w))
    assert_same(quiet(M.average_precision, yt, s, sample_weight=w), quiet(skm.average_precision_score, yt, s, sample_weight=w))
    for drop in (True, False):
        ours = quiet(M.roc_curve, yt, s, sample_weight=w, drop_intermediate=drop)
        ref = quiet(skm.roc_curve, yt, s, sample_weight=w, drop_intermediate=drop)
        for a, b in zip(ours, ref):
            np.testing.assert_allclose(a, b, rtol=1e-10)
        ours = quiet(M.precision_recall_curve, yt, s, sample_weight=w, drop_intermediate=drop)
        ref = quiet(skm.precision_recall_curve, yt, s, sample_weight=w, drop_intermediate=drop)
        for a, b in zip(ours, ref):
            np.testing.assert_allclose(a, b, rtol=1e-10)


@st.composite
def multiclass_scores(draw):
    k = draw(st.integers(3, 5))
    n = draw(st.integers(k, 60))
    yt = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    yt[:k] = np.arange(k)  # every class present
    raw = np.array(draw(st.lists(st.integers(1, 6), min_size=n * k, max_size=n * k)), dtype=float).reshape(n, k)
    return yt, raw / raw.sum(axis=1, keepdims=True)


@SETTINGS
@given(multiclass_scores(), st.sampled_from(["ovr", "ovo"]), st.sampled_from(["macro", "weighted", "micro", None]), st.booleans())
def test_multiclass_score_metrics_match_sklearn(data, multi_class, average, weighted):
    yt, p = data
    w = np.linspace(0.5, 2.0, len(yt)) if weighted else None
    kw = dict(multi_class=multi_class, average=average, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ref = skm.roc_auc_score(yt, p, **kw)
        except (ValueError, NotImplementedError) as exc:
            with pytest.raises(type(exc)):
                M.roc_auc(yt, p, **kw)
        else:
            assert_same(M.roc_auc(yt, p, **kw), ref)
    assert_same(M.average_precision(yt, p, average=average, sample_weight=w), skm.average_precision_score(yt, p, average=average, sample_weight=w))
    assert_same(M.log_loss(yt, p, sample_weight=w), skm.log_loss(yt, p, sample_weight=w))
    labels = list(range(p.shape[1]))
    assert_same(M.log_loss(yt, p, labels=labels, normalize=False), skm.log_loss(yt, p, labels=labels, normalize=False))


@st.composite
def regression_pairs(draw):
    n = draw(st.integers(1, 60))
    outputs = draw(st.sampled_from([None, 1, 3]))
    shape = (n,) if outputs is None else (n, outputs)
    size = int(np.prod(shape))
    floats = st.floats(-1e3, 1e3, allow_nan=False)
    yt = np.array(draw(st.lists(floats, min_size=size, max_size=size))).reshape(shape)
    if draw(st.booleans()):
        yt = np.full(shape, draw(floats))  # constant target: r2's force_finite rule
    yp = np.array(draw(st.lists(floats, min_size=size, max_size=size))).reshape(shape)
    if draw(st.booleans()):
        yp = yt.copy()
    w = np.array(draw(st.lists(st.floats(0.01, 3.0), min_size=n, max_size=n))) if draw(st.booleans()) else None
    return yt, yp, w


REGRESSION = [
    (M.mse, "mean_squared_error"),
    (M.rmse, "root_mean_squared_error"),
    (M.mae, "mean_absolute_error"),
    (M.r2, "r2_score"),
    (M.explained_variance, "explained_variance_score"),
]


@SETTINGS
@given(regression_pairs())
def test_regression_metrics_match_sklearn(data):
    yt, yp, w = data
    for ours, ref_name in REGRESSION:
        ref = quiet(getattr(skm, ref_name), yt, yp, sample_weight=w)
        got = quiet(ours, yt, yp, sample_weight=w)
        if isinstance(ref, float) and abs(ref) > 1e6:  # relative tolerance on huge values
            np.testing.assert_allclose(got, ref, rtol=1e-9)
        else:
            assert_same(got, ref)


# ---- edge cases named in the spec ----------------------------------------------------------

def test_binary_pos_label_absent_from_data_uses_zero_division():
    assert M.precision([0, 0], [0, 0]) == skm.precision_score([0, 0], [0, 0], zero_division=0.0) == 0.0
    assert M.recall([0, 0], [0, 0], zero_division=1.0) == 1.0
    assert np.isnan(M.f1([0, 0], [0, 0], zero_division=np.nan))


def test_string_labels_and_pos_label():
    yt = ["spam", "ham", "ham", "spam"]
    yp = ["spam", "spam", "ham", "ham"]
    assert M.f1(yt, yp, pos_label="spam") == skm.f1_score(yt, yp, pos_label="spam")
    with pytest.raises(ValueError, match="pos_label=1 is not a valid label"):
        M.f1(yt, yp)


def test_labels_missing_from_predictions():
    yt, yp = [0, 1, 2, 2], [0, 0, 0, 0]
    assert_same(M.recall(yt, yp, average=None), skm.recall_score(yt, yp, average=None, zero_division=0.0))
    assert_same(M.precision(yt, yp, average="macro"), skm.precision_score(yt, yp, average="macro", zero_division=0.0))


def test_roc_auc_ties_and_perfect():
    assert M.roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert M.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0


def test_r2_constant_target_force_finite():
    assert M.r2([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]) == 1.0
    assert M.r2([1.0, 1.0, 1.0], [1.0, 2.0, 1.0]) == 0.0
    with pytest.warns(UserWarning, match="less than two samples"):
        assert np.isnan(M.r2([1.0], [2.0]))


def test_log_loss_clips_and_warns_like_sklearn():
    assert_same(M.log_loss([0, 1], [0.0, 1.0]), skm.log_loss([0, 1], [0.0, 1.0]))
    with pytest.warns(UserWarning, match="do not sum to one"):
        ours = M.log_loss([0, 1, 2], [[0.2, 0.2, 0.2], [0.3, 0.3, 0.3], [0.1, 0.1, 0.5]])
    with pytest.warns(UserWarning):
        ref = skm.log_loss([0, 1, 2], [[0.2, 0.2, 0.2], [0.3, 0.3, 0.3], [0.1, 0.1, 0.5]])
    assert_same(ours, ref)


def test_return_types_follow_sklearn():
    assert isinstance(M.f1([0, 1, 2], [0, 2, 1], average=None), np.ndarray)
    assert type(M.f1([0, 1], [0, 1])) is float
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2]])
    assert type(M.roc_auc([0, 1, 2, 0], p, multi_class="ovo")) is np.float64
    assert M.confusion_matrix([0, 1], [1, 1]).dtype == np.int64


# ---- bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("fn", [M.accuracy, M.precision, M.recall, M.f1, M.confusion_matrix, M.mse, M.mae, M.r2])
def test_length_mismatch_raises(fn):
    with pytest.raises(ValueError, match="same number of samples"):
        fn([0, 1, 1], [0, 1])


def test_nan_scores_raise():
    with pytest.raises(ValueError, match="finite"):
        M.roc_auc([0, 1, 1], [0.1, np.nan, 0.3])
    with pytest.raises(ValueError, match="finite"):
        M.mse([0.0, 1.0], [np.inf, 1.0])
    with pytest.raises(ValueError, match="finite"):
        M.average_precision([0, 1], [np.nan, 1.0])


def test_one_class_roc_auc_raises():
    with pytest.raises(ValueError, match="Only one class"):
        M.roc_auc([1, 1, 1], [0.1, 0.2, 0.3])


def test_unknown_average_and_zero_division_raise():
    with pytest.raises(ValueError, match="average must be one of"):
        M.f1([0, 1], [0, 1], average="samples-ish")
    with pytest.raises(ValueError, match="zero_division"):
        M.f1([0, 1], [0, 1], zero_division=0.5)
    with pytest.raises(ValueError, match="average must be one of"):
        M.roc_auc([0, 1], [0.1, 0.9], average="binary")


def test_binary_average_on_multiclass_raises():
    with pytest.raises(ValueError, match="Target is multiclass"):
        M.precision([0, 1, 2], [0, 1, 2])


def test_continuous_and_mixed_labels_raise():
    with pytest.raises(ValueError, match="continuous"):
        M.accuracy([0.5, 1.0], [0.5, 1.0])
    with pytest.raises(ValueError, match="Mix of label input types"):
        M.f1(["a", "b"], [0, 1], average="macro")


def test_multiclass_roc_auc_needs_ovr_or_ovo_and_probabilities():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    with pytest.raises(ValueError, match="multi_class"):
        M.roc_auc([0, 1, 2], p, multi_class="raise")
    assert M.roc_auc([0, 1, 2], p) == skm.roc_auc_score([0, 1, 2], p, multi_class="ovr")  # our default
    with pytest.raises(ValueError, match="sum up to 1.0"):
        M.roc_auc([0, 1, 2], p * 2, multi_class="ovr")
    assert M.roc_auc([0, 1, 2], p, multi_class="ovr") == skm.roc_auc_score([0, 1, 2], p, multi_class="ovr")


def test_log_loss_bad_probabilities_raise():
    with pytest.raises(ValueError, match="greater than 1"):
        M.log_loss([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="only one label"):
        M.log_loss([1, 1], [0.5, 0.7])
    with pytest.raises(ValueError, match="different number of classes"):
        M.log_loss([0, 1, 2], [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])


def test_top_level_names():
    assert mm.metrics.f1 is M.f1
    assert mm.evaluate is M.evaluate
    assert issubclass(M.F1, mm.Metric)
