"""mm.explain against scikit-learn.inspection: same permutations for the same seed, same grids and averages."""

from __future__ import annotations

import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelmgmt as mm

inspection = pytest.importorskip("sklearn.inspection")
datasets = pytest.importorskip("sklearn.datasets")


base = pytest.importorskip("sklearn.base")


class _SkRegressor(base.RegressorMixin, base.BaseEstimator):
    """Our fitted model seen by scikit-learn as one of its estimators (it only predicts)."""

    def __init__(self, model=None):
        self.model = model

    def fit(self, X, y):  # pragma: no cover - never called: the model is fitted already
        return self

    def predict(self, X):
        return self.model.predict(X)

    def __sklearn_is_fitted__(self):
        return True


class _SkClassifier(base.ClassifierMixin, _SkRegressor):
    @property
    def classes_(self):
        return self.model.classes_

    def predict_proba(self, X):
        return self.model.predict_proba(X)


def Wrapped(model, classes=None):
    return _SkRegressor(model) if classes is None else _SkClassifier(model)


def _fitted(model, load):
    X, y = load(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return model, X, y


@pytest.fixture(scope="module")
def iris_model():
    return _fitted(mm.models.LogisticRegression(), datasets.load_iris)


@pytest.fixture(scope="module")
def diabetes_model():
    return _fitted(mm.models.LinearRegression(), datasets.load_diabetes)


def _sk_permutation(model, X, y, scoring, seed, n_repeats, classes=None):
    return inspection.permutation_importance(Wrapped(model, classes), X, y, scoring=scoring, n_repeats=n_repeats,
                                             random_state=seed)


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize(("ours", "theirs"), [("accuracy", "accuracy"), ("log_loss", "neg_log_loss"),
                                              ("f1_macro", "f1_macro"), ("roc_auc_ovr", "roc_auc_ovr")])
def test_permutation_importance_equals_sklearn_for_the_same_seed(iris_model, seed, ours, theirs):
    model, X, y = iris_model
    got = mm.explain.permutation_importance(model, X, y, scoring=ours, n_repeats=4, seed=seed)
    want = _sk_permutation(model, X, y, theirs, seed, 4, model.classes_)
    assert got.importances.shape == (X.shape[1], 4)
    np.testing.assert_allclose(got.importances, want.importances, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.importances_mean, want.importances_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.importances_std, want.importances_std, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("ours", "theirs"), [("mse", "neg_mean_squared_error"), ("r2", "r2"),
                                              ("mae", "neg_mean_absolute_error")])
def test_regression_scorings_and_losses_count_as_their_negative(diabetes_model, ours, theirs):
    model, X, y = diabetes_model
    got = mm.explain.permutation_importance(model, X, y, scoring=ours, n_repeats=3, seed=7)
    want = _sk_permutation(model, X, y, theirs, 7, 3)
    np.testing.assert_allclose(got.importances, want.importances, rtol=1e-9, atol=1e-9)
    assert got.importances_mean[2] > 0  # bmi matters; a loss rises when it is shuffled


def test_permutations_are_sklearns_cumulative_shuffles():
    perms = mm.explain.feature_permutations(6, 3, 42)
    rs = np.random.RandomState(42)
    idx = np.arange(6)
    col = np.arange(6)
    for p in perms:
        rs.shuffle(idx)
        col = col[idx]
        np.testing.assert_array_equal(p, col)
        assert sorted(p.tolist()) == list(range(6))


def test_executors_give_the_same_result(iris_model):
    model, X, y = iris_model
    here = mm.explain.permutation_importance(model, X, y, n_repeats=3, seed=5)
    with ThreadPoolExecutor(2) as ex:
        threads = mm.explain.permutation_importance(model, X, y, n_repeats=3, seed=5, executor=ex)
    with ProcessPoolExecutor(2) as ex:
        procs = mm.explain.permutation_importance(model, X, y, n_repeats=3, seed=5, executor=ex)
    np.testing.assert_array_equal(here.importances, threads.importances)
    np.testing.assert_array_equal(here.importances, procs.importances)


def test_callable_scoring_and_unseeded_runs(iris_model):
    model, X, y = iris_model

    def agree(m, X_, y_):
        return float(np.mean(m.predict(X_) == y_))

    got = mm.explain.permutation_importance(model, X, y, scoring=agree, n_repeats=2, seed=3)
    ref = mm.explain.permutation_importance(model, X, y, scoring="accuracy", n_repeats=2, seed=3)
    np.testing.assert_allclose(got.importances, ref.importances)
    a = mm.explain.permutation_importance(model, X, y, n_repeats=30)
    # petal features (2, 3) matter far more than sepal width (1), whatever the permutations
    assert a.importances_mean[2] > a.importances_mean[1] + 3 * a.importances_std[1] / np.sqrt(30)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(n_repeats=0), ValueError, "n_repeats"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(seed="a"), TypeError, "seed"),
        (dict(scoring="nope"), KeyError, "known"),
        (dict(scoring=3), TypeError, "scoring"),
        (dict(executor=object()), TypeError, "executor"),
    ],
)
def test_permutation_importance_bad_arguments(iris_model, kwargs, exc, match):
    model, X, y = iris_model
    with pytest.raises(exc, match=match):
        mm.explain.permutation_importance(model, X, y, **kwargs)


def test_permutation_importance_length_mismatch(iris_model):
    model, X, y = iris_model
    with pytest.raises(ValueError, match="same number"):
        mm.explain.permutation_importance(model, X, y[:-1])


# --------------------------------------------------------------------------- partial dependence
@pytest.mark.parametrize("feature", [0, 1, 2, 3])
@pytest.mark.parametrize("grid_resolution", [5, 20, 100])
def test_partial_dependence_classifier_equals_sklearn_brute(iris_model, feature, grid_resolution):
    model, X, _ = iris_model
    got = mm.explain.partial_dependence(model, X, feature, grid_resolution=grid_resolution)
    want = inspection.partial_dependence(Wrapped(model, model.classes_), X, [feature],
                                         grid_resolution=grid_resolution, method="brute")
    np.testing.assert_allclose(got.grid, want["grid_values"][0], rtol=1e-12)
    assert got.average.shape == want["average"].shape == (3, len(got.grid))
    np.testing.assert_allclose(got.average, want["average"], rtol=1e-10, atol=1e-12)


def test_partial_dependence_binary_and_regression_shapes(diabetes_model):
    model, X, y = diabetes_model
    got = mm.explain.partial_dependence(model, X, 2)
    want = inspection.partial_dependence(Wrapped(model), X, [2], method="brute")
    assert got.average.shape == want["average"].shape == (1, 100)
    np.testing.assert_allclose(got.grid, want["grid_values"][0], rtol=1e-12)
    np.testing.assert_allclose(got.average, want["average"], rtol=1e-10)
    Xb, yb = datasets.load_breast_cancer(return_X_y=True)
    Xb = mm.data.StandardScaler().fit_transform(Xb)
    clf = mm.models.LogisticRegression()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(Xb, yb)
    got = mm.explain.partial_dependence(clf, Xb, 0, grid_resolution=15)
    want = inspection.partial_dependence(Wrapped(clf, clf.classes_), Xb, [0], grid_resolution=15, method="brute")
    assert got.average.shape == (1, 15)
    np.testing.assert_allclose(got.average, want["average"], rtol=1e-10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(2, 300), seed=st.integers(0, 2**31), p=st.tuples(st.floats(0, 0.49), st.floats(0.51, 1.0)))
def test_grid_percentiles_match_scipy_mquantiles(n, seed, p):
    mstats = pytest.importorskip("scipy.stats.mstats")
    x = np.random.default_rng(seed).normal(size=n).round(2)
    np.testing.assert_allclose(mm.explain._partial_dependence.mquantiles(x, p), mstats.mquantiles(x, prob=p), rtol=1e-12)


def test_partial_dependence_bad_arguments(iris_model):
    model, X, _ = iris_model
    with pytest.raises(ValueError, match="feature"):
        mm.explain.partial_dependence(model, X, 4)
    with pytest.raises(ValueError, match="grid_resolution"):
        mm.explain.partial_dependence(model, X, 0, grid_resolution=1)
    with pytest.raises(ValueError, match="percentiles"):
        mm.explain.partial_dependence(model, X, 0, percentiles=(0.9, 0.1))
    with pytest.raises(ValueError, match="too close"):
        mm.explain.partial_dependence(model, np.c_[np.zeros(200), np.r_[np.zeros(199), 1.0]], 1, grid_resolution=2)
    with pytest.raises(TypeError, match="predict"):
        mm.explain.partial_dependence(object(), X, 0)


def test_dataframes_and_string_columns_are_shuffled_as_they_are():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"x": rng.normal(size=300), "colour": rng.choice(["red", "blue"], 300)})
    y = ((X["x"] > 0) ^ (X["colour"] == "red")).astype(int).to_numpy()

    class Rule:
        """Needs the DataFrame's column names, and reads a string column."""

        def predict(self, frame):
            return ((frame["x"] > 0) ^ (frame["colour"] == "red")).astype(int).to_numpy()

    got = mm.explain.permutation_importance(Rule(), X, y, n_repeats=3, seed=0)
    assert got.baseline_score == 1.0 and (got.importances > 0.3).all()
    as_objects = X.to_numpy(dtype=object)

    class RuleOnArrays:
        def predict(self, A):
            return ((A[:, 0].astype(float) > 0) ^ (A[:, 1] == "red")).astype(int)

    again = mm.explain.permutation_importance(RuleOnArrays(), as_objects, y, n_repeats=3, seed=0)
    np.testing.assert_array_equal(again.importances, got.importances)


def test_partial_dependence_on_string_tables_and_dataframes():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x": rng.normal(size=120), "colour": rng.choice(["red", "blue"], 120)})

    class Additive:
        def predict(self, table):
            x = table["x"].to_numpy() if hasattr(table, "iloc") else table[:, 0].astype(float)
            c = table["colour"].to_numpy() if hasattr(table, "iloc") else table[:, 1]
            return 2.0 * x + (c == "red")

    got = mm.explain.partial_dependence(Additive(), frame, 0, grid_resolution=7)
    red_share = float(np.mean(frame["colour"] == "red"))
    np.testing.assert_allclose(got.average[0], 2.0 * got.grid + red_share, rtol=1e-12)
    again = mm.explain.partial_dependence(Additive(), frame.to_numpy(dtype=object), 0, grid_resolution=7)
    np.testing.assert_allclose(again.average, got.average, rtol=1e-12)
    np.testing.assert_array_equal(again.grid, got.grid)
    with pytest.raises(ValueError, match="numeric feature"):
        mm.explain.partial_dependence(Additive(), frame, 1)
