"""from_sklearn: fitted scikit-learn estimators become native models with the same predictions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import datasets, linear_model, neural_network, pipeline, preprocessing, svm, tree
from sklearn.impute import SimpleImputer

import modelmgmt as mm
from modelmgmt.models.sklearn_import import from_sklearn

IRIS = datasets.load_iris(return_X_y=True)
CANCER = datasets.load_breast_cancer(return_X_y=True)
DIABETES = datasets.load_diabetes(return_X_y=True)


def _same(native, est, X):
    np.testing.assert_array_equal(native.predict(X), est.predict(X)) if est.predict(X).dtype.kind not in "f" \
        else np.testing.assert_allclose(native.predict(X), est.predict(X), rtol=1e-9, atol=1e-9)
    if hasattr(est, "predict_proba") and getattr(native, "is_classifier", False) and not isinstance(
            est[-1] if isinstance(est, pipeline.Pipeline) else est, svm.LinearSVC):
        np.testing.assert_allclose(native.predict_proba(X), est.predict_proba(X), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("est", [
    linear_model.LinearRegression(), linear_model.LinearRegression(fit_intercept=False),
    linear_model.Ridge(alpha=3.0),
])
def test_regressors(est):
    X, y = DIABETES
    est.fit(X, y)
    native = from_sklearn(est)
    assert isinstance(native, mm.models.LinearRegression)
    _same(native, est, X)


@pytest.mark.parametrize("data", [IRIS, CANCER])
def test_logistic_regression_binary_and_multinomial(data):
    X, y = data
    X = preprocessing.StandardScaler().fit_transform(X)
    est = linear_model.LogisticRegression(C=0.5, max_iter=500).fit(X, y)
    native = from_sklearn(est)
    _same(native, est, X)
    names = np.array(["cat", "dog", "emu"])[y % 3] if len(np.unique(y)) == 3 else np.array(["no", "yes"])[y]
    est = linear_model.LogisticRegression(max_iter=500).fit(X, names)
    _same(from_sklearn(est), est, X)


def test_linear_svc_and_mlp_classifier():
    X, y = CANCER
    X = preprocessing.StandardScaler().fit_transform(X)
    est = svm.LinearSVC(C=0.3).fit(X, y)
    _same(from_sklearn(est), est, X)
    np.testing.assert_allclose(from_sklearn(est).decision_function(X), est.decision_function(X), rtol=1e-9, atol=1e-9)
    for activation in ("relu", "tanh", "logistic"):
        for data in (IRIS, CANCER):
            Xd = preprocessing.StandardScaler().fit_transform(data[0])
            mlp = neural_network.MLPClassifier(hidden_layer_sizes=(7, 5), activation=activation, max_iter=50,
                                               random_state=0).fit(Xd, data[1])
            _same(from_sklearn(mlp), mlp, Xd)


def test_pipelines_with_imputer_and_scaler_register_and_load(tmp_path):
    X, y = IRIS
    X = X.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.1] = np.nan
    for strategy in ("mean", "median", "most_frequent"):
        est = pipeline.make_pipeline(SimpleImputer(strategy=strategy), preprocessing.StandardScaler(),
                                     linear_model.LogisticRegression(max_iter=300)).fit(X, y)
        native = from_sklearn(est)
        assert isinstance(native, mm.models.Pipeline)
        _same(native, est, X)
    reg = mm.Registry(tmp_path / "reg")
    reg.register("iris", native)
    _same(reg.load("iris"), est, X)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(5, 60), f=st.integers(1, 6), seed=st.integers(0, 10_000), intercept=st.booleans())
def test_random_linear_problems(n, f, seed, intercept):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)) * rng.uniform(0.1, 100)
    y = X @ rng.normal(size=f) + rng.normal(size=n)
    est = linear_model.LinearRegression(fit_intercept=intercept).fit(X, y)
    _same(from_sklearn(est), est, X)
    labels = (X[:, 0] > np.median(X[:, 0])).astype(int)
    if len(np.unique(labels)) == 2:
        est = linear_model.LogisticRegression().fit(X, labels)
        _same(from_sklearn(est), est, X)


# --- bad input, next to the good -------------------------------------------------------------
def test_refuses_what_it_cannot_convert():
    X, y = IRIS
    with pytest.raises(mm.InvalidArgumentError, match="from_sklearn converts fitted scikit-learn"):
        from_sklearn(tree.DecisionTreeClassifier().fit(X, y))
    with pytest.raises(mm.InvalidArgumentError, match="from_sklearn converts"):
        from_sklearn(object())
    with pytest.raises(mm.InvalidArgumentError, match="not fitted"):
        from_sklearn(linear_model.LinearRegression())
    with pytest.raises(mm.InvalidArgumentError, match="LinearSVM is binary"):
        from_sklearn(svm.LinearSVC().fit(X, y))
    with pytest.raises(mm.InvalidArgumentError, match="only one target"):
        from_sklearn(linear_model.LinearRegression().fit(X, np.column_stack([y, y])))
    with pytest.raises(mm.InvalidArgumentError, match="add_indicator"):
        from_sklearn(SimpleImputer(add_indicator=True).fit(X))
    with pytest.raises(mm.InvalidArgumentError, match="identity"):
        from_sklearn(neural_network.MLPClassifier(activation="identity", max_iter=5).fit(X, y))
