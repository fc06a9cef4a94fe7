"""Direct solvers (least squares, ridge, L-BFGS) against scikit-learn; solver choice; ConvergenceWarning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import linear_model as sk
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.metrics import r2_score
from sklearn.preprocessing import StandardScaler

import modelmgmt as mm
from modelmgmt.models import LinearRegression, LinearSVM, LogisticRegression


def _sk_coefs(model):
    """Our (W, b) in scikit-learn's layout: one row for binary problems, one per class otherwise."""
    W, b = model.params["W"], model.params["b"]
    if W.shape[1] == 2:
        return (W[:, 1] - W[:, 0])[None, :], np.array([b[1] - b[0]])
    return W.T, b


def test_linear_regression_default_is_least_squares_on_diabetes():
    X, y = load_diabetes(return_X_y=True)
    ours = LinearRegression()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a direct solve never warns about convergence
        history = ours.fit(X, y)
    ref = sk.LinearRegression().fit(X, y)
    assert r2_score(y, ours.predict(X)) == pytest.approx(ref.score(X, y), abs=1e-12)
    np.testing.assert_allclose(ours.params["W"], ref.coef_, rtol=1e-9, atol=1e-9)
    assert ours.params["b"][0] == pytest.approx(ref.intercept_, rel=1e-12)
    assert history.params["solver"] == "lstsq" and len(history["loss"]) == 1
    assert history["loss"][0] == pytest.approx(np.mean((ref.predict(X) - y) ** 2), rel=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.01, 1.0, 50.0])
def test_l2_is_ridge_with_alpha_n_l2_over_2(l2, fit_intercept):
    X, y = load_diabetes(return_X_y=True)
    ours = LinearRegression(fit_intercept=fit_intercept, l2=l2)
    ours.fit(X, y)
    ref = sk.Ridge(alpha=len(X) * l2 / 2, fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 60), st.integers(1, 8), st.integers(0, 2**32 - 1), st.sampled_from([0.0, 1e-3, 0.3]))
def test_least_squares_matches_sklearn_on_random_data(n, d, seed, l2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.1, 10, d)
    y = X @ rng.standard_normal(d) + rng.standard_normal(n)
    ours = LinearRegression(l2=l2)
    ours.fit(X, y)
    ref = sk.Ridge(alpha=n * l2 / 2).fit(X, y) if l2 else sk.LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("loader", [load_wine, load_breast_cancer, load_iris])
@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
def test_logistic_regression_lbfgs_equals_sklearn_coefficients(loader, C):
    X, y = loader(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ours = LogisticRegression(l2=1.0 / (C * len(X)))
    history = ours.fit(X, y)
    assert history.params["solver"] == "lbfgs"
    ref = sk.LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    coef, intercept = _sk_coefs(ours)
    np.testing.assert_allclose(coef, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(intercept, ref.intercept_, atol=1e-4)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(st.integers(20, 80), st.integers(1, 5), st.integers(2, 4), st.integers(0, 2**32 - 1), st.sampled_from([0.05, 1.0]))
def test_logistic_lbfgs_matches_sklearn_on_random_data(n, d, k, seed, C):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.arange(n) % k  # every class present
    rng.shuffle(y)
    ours = LogisticRegression(l2=1.0 / (C * n))
    ours.fit(X, y)
    ref = sk.LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    coef, intercept = _sk_coefs(ours)
    np.testing.assert_allclose(coef, ref.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)


def test_string_labels_and_unpenalised_fit_predict_like_sklearn():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    labels = np.where(y == 1, "benign", "malignant")
    ours = LogisticRegression(l2=1e-3)
    ours.fit(X, labels)
    ref = sk.LogisticRegression(C=1 / (1e-3 * len(X)), tol=1e-10, max_iter=10_000).fit(X, labels)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.classes_.tolist() == ref.classes_.tolist()


def test_an_optimizer_takes_the_gradient_path_as_before():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    h = LinearRegression().fit(X, y, optimizer=mm.optim.SGD(lr=0.05), epochs=4, batch_size=64, seed=0)
    assert h.params["solver"] == "gd" and len(h["loss"]) == 4
    h = LogisticRegression(solver="gd").fit(X, y > 140, epochs=3, seed=0)
    assert h.params["optimizer"] == "Adam" and len(h["loss"]) == 3


def test_solver_arguments_are_checked():
    for bad in ("newton", "", None, 1):
        with pytest.raises(mm.InvalidArgumentError, match="solver"):
            LinearRegression(solver=bad)
    with pytest.raises(mm.InvalidArgumentError, match="solver"):
        LogisticRegression(solver="lstsq")
    with pytest.raises(mm.InvalidArgumentError, match="solver"):
        LinearSVM(solver="lbfgs")
    with pytest.raises(mm.InvalidArgumentError, match="tol"):
        LogisticRegression(tol=0)
    with pytest.raises(mm.InvalidArgumentError, match="max_iter"):
        LogisticRegression(max_iter=0)
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(mm.InvalidArgumentError, match="takes no optimizer"):
        LinearRegression(solver="lstsq").fit(X, y, optimizer=mm.optim.SGD())
    with pytest.raises(mm.InvalidArgumentError, match="squared error"):
        LinearRegression(solver="lstsq").fit(X, y, loss="huber")


def test_solver_survives_save_and_load():
    m = LogisticRegression(l2=0.1, solver="gd", tol=1e-5, max_iter=7)
    clone = LogisticRegression.from_config(m.config, m.params)
    assert (clone.solver, clone.tol, clone.max_iter) == ("gd", 1e-5, 7)


# --- ConvergenceWarning ----------------------------------------------------------------------
def test_convergence_warning_is_a_public_user_warning():
    assert issubclass(mm.ConvergenceWarning, UserWarning)
    assert mm.ConvergenceWarning is mm.errors.ConvergenceWarning


def test_a_gradient_fit_still_falling_fast_warns():
    X, y = load_diabetes(return_X_y=True)
    with pytest.warns(mm.ConvergenceWarning, match="did not converge"):
        LinearRegression(solver="gd").fit(X, y, epochs=10, seed=0)
    X, y = load_wine(return_X_y=True)
    with pytest.warns(mm.ConvergenceWarning):
        mm.models.MLP().fit(X, y, seed=0)


def test_a_converged_or_stopped_gradient_fit_does_not_warn():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mm.ConvergenceWarning)
        LogisticRegression(solver="gd").fit(X, y, epochs=300, batch_size=None, optimizer=mm.optim.SGD(lr=0.5))
        stop = mm.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
        LinearRegression(solver="gd").fit(X, y, epochs=5, callbacks=[stop])  # stopped: no verdict
        LinearRegression(solver="gd").fit(X, y, epochs=1)  # one epoch: nothing to compare


def test_lbfgs_iteration_limit_warns():
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.warns(mm.ConvergenceWarning, match="max_iter=3"):
        LogisticRegression(max_iter=3).fit(X, y)


def test_rank_deficient_and_ill_conditioned_data_give_sklearns_minimum_norm_solution():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 3))
    X = np.column_stack([X, X[:, 0], X[:, 1] * 1e-7 + X[:, 2]])  # a duplicate and a near-duplicate column
    y = X @ np.array([1.0, 2.0, 3.0, 4.0, 5.0]) + rng.standard_normal(50)
    ours = LinearRegression()
    ours.fit(X, y)
    ref = sk.LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.params["W"], ref.coef_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-9, atol=1e-9)
