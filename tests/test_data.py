"""Data tools against scikit-learn: split sizes, fold layout, scaler and imputer results."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sk_ms = pytest.importorskip("sklearn.model_selection")
sk_pre = pytest.importorskip("sklearn.preprocessing")
sk_imp = pytest.importorskip("sklearn.impute")

from modelmgmt.data import KFold, SimpleImputer, StandardScaler, StratifiedKFold, train_test_split  # noqa: E402

SETTINGS = settings(max_examples=30, deadline=None)


# --- train_test_split ------------------------------------------------------------------------

@SETTINGS
@given(n=st.integers(2, 200), frac=st.floats(0.01, 0.99), count=st.integers(1, 199))
def test_split_sizes_match_sklearn(n, frac, count):
    X = np.arange(n * 2).reshape(n, 2)
    for test_size in (frac, count):
        try:
            ref = sk_ms.train_test_split(X, test_size=test_size, random_state=0)
        except ValueError:
            with pytest.raises(ValueError):
                train_test_split(X, test_size=test_size, seed=0)
            continue
        train, test = train_test_split(X, test_size=test_size, seed=0)
        assert (len(train), len(test)) == (len(ref[0]), len(ref[1]))
        assert len(test) == (math.ceil(test_size * n) if isinstance(test_size, float) else test_size)
        # a partition of the rows
        assert sorted(np.concatenate([train[:, 0], test[:, 0]]).tolist()) == X[:, 0].tolist()


def test_split_keeps_arrays_aligned_and_is_seeded():
    X = np.arange(50).reshape(25, 2)
    y = np.arange(25)
    names = [f"s{i}" for i in range(25)]
    X_tr, X_te, y_tr, y_te, n_tr, n_te = train_test_split(X, y, names, seed=3)
    assert np.array_equal(X_tr[:, 0] // 2, y_tr) and np.array_equal(X_te[:, 0] // 2, y_te)
    assert n_te == [f"s{i}" for i in y_te] and isinstance(n_tr, list)
    again = train_test_split(X, y, names, seed=3)
    assert np.array_equal(again[1], X_te)
    assert len(X_te) == 7  # ceil(0.25 * 25)


@SETTINGS
@given(seed=st.integers(0, 1000), frac=st.floats(0.1, 0.5), counts=st.lists(st.integers(2, 30), min_size=2, max_size=4))
def test_stratified_split_class_counts_match_sklearn(seed, frac, counts):
    y = np.repeat(np.arange(len(counts)), counts)
    X = np.arange(len(y)).reshape(-1, 1)
    try:
        ref = sk_ms.train_test_split(X, y, test_size=frac, random_state=0, stratify=y)
    except ValueError:
        with pytest.raises(ValueError):
            train_test_split(X, y, test_size=frac, seed=seed, stratify=y)
        return
    ours = train_test_split(X, y, test_size=frac, seed=seed, stratify=y)
    assert len(ours[1]) == len(ref[1])
    ref_counts = np.bincount(ref[3], minlength=len(counts))
    our_counts = np.bincount(ours[3], minlength=len(counts))
    # sklearn breaks remainder ties at random: per-class counts agree up to those ties
    assert np.abs(ref_counts - our_counts).max() <= 1
    assert our_counts.sum() == ref_counts.sum()
    floor = np.floor(np.asarray(counts) * len(ref[1]) / len(y))
    assert np.all(our_counts >= floor - 1)


def test_stratified_split_exact_proportions():
    y = np.array([0] * 60 + [1] * 30 + [2] * 10)
    _, _, y_tr, y_te = train_test_split(np.zeros((100, 1)), y, test_size=0.2, seed=0, stratify=y)
    assert np.bincount(y_te).tolist() == [12, 6, 2]
    assert np.bincount(y_tr).tolist() == [48, 24, 8]


def test_split_bad_input():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="same number of samples"):
        train_test_split(X, np.zeros(9))
    with pytest.raises(ValueError, match="in \\(0, 1\\)"):
        train_test_split(X, test_size=1.5)
    with pytest.raises(ValueError, match="count must be in"):
        train_test_split(X, test_size=10)
    with pytest.raises(TypeError, match="test_size"):
        train_test_split(X, test_size="half")
    with pytest.raises(ValueError, match="at least one array"):
        train_test_split()
    with pytest.raises(ValueError, match="at least 2 samples of every class"):
        train_test_split(X, stratify=np.array([0] * 9 + [1]))


# --- folds -----------------------------------------------------------------------------------

@SETTINGS
@given(n=st.integers(2, 60), k=st.integers(2, 10))
def test_kfold_equals_sklearn(n, k):
    X = np.zeros((n, 1))
    if k > n:
        with pytest.raises(ValueError, match="greater than the number of samples"):
            list(KFold(k).split(X))
        return
    ours = list(KFold(n_splits=k).split(X))
    ref = list(sk_ms.KFold(n_splits=k).split(X))
    assert len(ours) == len(ref) == KFold(k).get_n_splits()
    for (tr, te), (rtr, rte) in zip(ours, ref):
        assert np.array_equal(tr, rtr) and np.array_equal(te, rte)


@SETTINGS
@given(labels=st.lists(st.integers(0, 3), min_size=6, max_size=80), k=st.integers(2, 6))
def test_stratified_kfold_equals_sklearn(labels, k):
    y = np.array(labels)
    X = np.zeros((len(y), 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn when a class has fewer members than folds
        try:
            ref = list(sk_ms.StratifiedKFold(n_splits=k).split(X, y))
        except ValueError:
            with pytest.raises(ValueError):
                list(StratifiedKFold(n_splits=k).split(X, y))
            return
        ours = list(StratifiedKFold(n_splits=k).split(X, y))
    assert len(ours) == len(ref)
    for (tr, te), (rtr, rte) in zip(ours, ref):
        assert np.array_equal(te, rte) and np.array_equal(tr, rtr)


def test_stratified_kfold_string_labels_and_first_appearance_order():
    y = np.array(["b", "a", "b", "c", "a", "b", "c", "a", "b", "c"] * 2)
    X = np.zeros((len(y), 2))
    ours = list(StratifiedKFold(3).split(X, y))
    ref = list(sk_ms.StratifiedKFold(3).split(X, y))
    for (tr, te), (rtr, rte) in zip(ours, ref):
        assert np.array_equal(te, rte) and np.array_equal(tr, rtr)


def test_shuffled_folds_partition_and_are_seeded():
    X = np.zeros((23, 1))
    y = np.arange(23) % 3
    for cv in (KFold(4, shuffle=True, seed=1), StratifiedKFold(4, shuffle=True, seed=1)):
        folds = list(cv.split(X, y))
        tests = np.concatenate([te for _, te in folds])
        assert sorted(tests.tolist()) == list(range(23))
        for tr, te in folds:
            assert not set(tr) & set(te) and len(tr) + len(te) == 23
        again = list(cv.split(X, y))
        assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    sizes = sorted(len(te) for _, te in KFold(4, shuffle=True, seed=1).split(X))
    assert sizes == [5, 6, 6, 6]
    strat = [np.bincount(y[te], minlength=3) for _, te in StratifiedKFold(4, shuffle=True, seed=1).split(X, y)]
    assert all(c.max() - c.min() <= 1 for c in np.array(strat).T)


def test_fold_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        KFold(1)
    with pytest.raises(TypeError, match="n_splits"):
        KFold(2.5)
    with pytest.raises(ValueError, match="shuffle=False"):
        KFold(3, seed=0)
    with pytest.raises(ValueError, match="needs the labels"):
        list(StratifiedKFold(2).split(np.zeros((4, 1))))
    with pytest.raises(ValueError, match="same number of samples"):
        list(KFold(2).split(np.zeros((4, 1)), np.zeros(3)))
    with pytest.raises(ValueError, match="cannot be greater than the number of members"):
        list(StratifiedKFold(5).split(np.zeros((6, 1)), [0, 0, 0, 1, 1, 1]))
    with pytest.warns(UserWarning, match="least populated class"):
        list(StratifiedKFold(3).split(np.zeros((7, 1)), [0, 0, 0, 0, 0, 1, 1]))


# --- StandardScaler --------------------------------------------------------------------------

@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(1, 30), d=st.integers(1, 5))
def test_standard_scaler_equals_sklearn(seed, n, d):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 100, size=d) + rng.normal(size=d) * 10
    X[:, 0] = 3.3  # a constant column: scale 1
    ours = StandardScaler().fit(X)
    ref = sk_pre.StandardScaler().fit(X)
    np.testing.assert_allclose(ours.params["mean"], ref.mean_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.params["scale"], ref.scale_, rtol=1e-10)
    assert ours.mean_ is ours.params["mean"] and ours.scale_ is ours.params["scale"]
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X)), X, rtol=1e-12, atol=1e-9)


def test_standard_scaler_ignores_nan_like_sklearn():
    X = np.array([[1.0, np.nan], [3.0, 2.0], [np.nan, 4.0], [5.0, 9.0]])
    np.testing.assert_allclose(StandardScaler().fit_transform(X), sk_pre.StandardScaler().fit_transform(X), equal_nan=True)


def test_standard_scaler_config_round_trip_and_errors():
    X = np.random.default_rng(0).normal(size=(10, 3))
    s = StandardScaler().fit(X)
    again = StandardScaler.from_config(json.loads(json.dumps(s.config)), s.params)
    assert np.array_equal(again.transform(X), s.transform(X))
    from modelmgmt.errors import NotFittedError

    with pytest.raises(NotFittedError):
        StandardScaler().transform(X)
    with pytest.raises(ValueError, match="X has 2 features, but StandardScaler was fitted with 3"):
        s.transform(X[:, :2])
    with pytest.raises(ValueError, match="2-D"):
        s.fit(np.ones(3))
    with pytest.raises(ValueError, match="infinite"):
        s.fit(np.array([[np.inf]]))
    with pytest.raises(ValueError, match="only missing values"):
        StandardScaler().fit(np.array([[np.nan, 1.0], [np.nan, 2.0]]))


# --- SimpleImputer ---------------------------------------------------------------------------

@SETTINGS
@given(seed=st.integers(0, 10_000), strategy=st.sampled_from(["mean", "median", "most_frequent", "constant"]))
def test_simple_imputer_equals_sklearn(seed, strategy):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 4, size=(15, 4)).astype(float)  # small integers: ties for most_frequent
    X[rng.uniform(size=X.shape) < 0.3] = np.nan
    X[0, :] = 1.0  # every column has an observed value
    ours = SimpleImputer(strategy=strategy).fit(X)
    ref = sk_imp.SimpleImputer(strategy=strategy, fill_value=0.0 if strategy == "constant" else None).fit(X)
    np.testing.assert_allclose(ours.params["statistics"], np.asarray(ref.statistics_, dtype=float), rtol=1e-12)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-12)
    np.testing.assert_allclose(ours.statistics_, np.asarray(ref.statistics_, dtype=float), rtol=1e-12)


def test_simple_imputer_ties_go_to_the_smallest_value():
    X = np.array([[3.0], [1.0], [3.0], [1.0], [np.nan], [2.0]])
    assert SimpleImputer(strategy="most_frequent").fit(X).params["statistics"].tolist() == [1.0]


def test_simple_imputer_numeric_missing_marker_and_empty_column():
    X = np.array([[0.0, 1.0], [4.0, 0.0], [2.0, 5.0]])
    ours = SimpleImputer(missing_values=0.0).fit_transform(X)
    ref = sk_imp.SimpleImputer(missing_values=0.0).fit_transform(X)
    np.testing.assert_allclose(ours, ref)
    empty = np.array([[1.0, np.nan], [2.0, np.nan]])
    with pytest.warns(UserWarning, match="no observed values"):
        imp = SimpleImputer().fit(empty)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = sk_imp.SimpleImputer().fit(empty).transform(empty)
    assert expected.shape == (2, 1)  # scikit-learn drops the empty column; so do we
    np.testing.assert_allclose(imp.transform(empty), expected)


def test_simple_imputer_config_round_trip_and_errors():
    X = np.array([[1.0, np.nan], [np.nan, 3.0], [5.0, 4.0]])
    imp = SimpleImputer(strategy="median").fit(X)
    config = json.loads(json.dumps(imp.config))
    again = SimpleImputer.from_config(config, imp.params)
    assert np.array_equal(again.transform(X), imp.transform(X))
    with pytest.raises(ValueError, match="strategy must be one of"):
        SimpleImputer(strategy="mode")
    with pytest.raises(TypeError, match="missing_values"):
        SimpleImputer(missing_values="?")
    with pytest.raises(ValueError, match="fitted with 2"):
        imp.transform(np.ones((2, 3)))
