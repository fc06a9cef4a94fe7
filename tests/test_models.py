"""Built-in models: gradients, config round trips, errors, and accuracy on real data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelmgmt as mm
from modelmgmt.models import MLP, LinearRegression, LinearSVM, LogisticRegression

SETTINGS = settings(max_examples=15, deadline=None)


def numeric_grads(model, X, y, eps=1e-6):
    out = {}
    for name, arr in model.params.items():
        g = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + eps
            up = model.loss_and_grad(X, y)[0]
            arr[i] = old - eps
            down = model.loss_and_grad(X, y)[0]
            arr[i] = old
            g[i] = (up - down) / (2 * eps)
        out[name] = g
    return out


def blobs(seed, n=12, d=3, k=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.arange(n) % k
    return rng, X, y


def randomize(model, rng):
    for arr in model.params.values():
        arr[...] = rng.normal(size=arr.shape)


def factories():
    return [
        ("linreg", lambda: LinearRegression(l2=0.3), "reg"),
        ("linreg_noint", lambda: LinearRegression(fit_intercept=False), "reg"),
        ("logreg", lambda: LogisticRegression(l2=0.1), "cls"),
        ("svm", lambda: LinearSVM(C=0.5), "bin"),
        ("mlp_relu", lambda: MLP(hidden=(5, 4), l2=0.01), "cls"),
        ("mlp_tanh", lambda: MLP(hidden=(4,), activation="tanh"), "cls"),
        ("mlp_sigmoid", lambda: MLP(hidden=(3,), activation="sigmoid"), "cls"),
    ]


def data_for(kind, seed):
    rng, X, y = blobs(seed)
    if kind == "reg":
        y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=len(X))
    elif kind == "bin":
        y = y % 2
    return rng, X, y


@pytest.mark.parametrize("name,make,kind", factories(), ids=[f[0] for f in factories()])
@SETTINGS
@given(seed=st.integers(0, 10_000))
def test_gradient_matches_finite_differences(name, make, kind, seed):
    rng, X, y = data_for(kind, seed)
    model = make()
    model.initialize(X, y, np.random.default_rng(seed))
    randomize(model, rng)
    if kind == "bin":  # keep every sample off the hinge's kink
        s = model.forward(X)[0]
        if np.min(np.abs(1 - np.abs(s))) < 1e-3:
            return
    value, grads = model.loss_and_grad(X, y)
    assert np.isfinite(value)
    assert set(grads) == set(model.params)
    num = numeric_grads(model, X, y)
    for key in grads:
        assert grads[key].shape == model.params[key].shape
        np.testing.assert_allclose(grads[key], num[key], rtol=1e-5, atol=1e-7, err_msg=key)


@pytest.mark.parametrize("name,make,kind", factories(), ids=[f[0] for f in factories()])
def test_from_config_rebuilds_an_equal_model(name, make, kind):
    rng, X, y = data_for(kind, 0)
    model = make()
    model.fit(X, y, epochs=3, seed=1, optimizer=mm.optim.Adam(lr=0.05))
    config = json.loads(json.dumps(model.config))  # JSON-serialisable, survives a round trip
    params = {k: v.copy() for k, v in model.params.items()}
    again = type(model).from_config(config, params)
    assert again.config == model.config
    assert np.array_equal(again.predict(X), model.predict(X))
    if model.is_classifier:
        assert np.array_equal(again.predict_proba(X), model.predict_proba(X))
    assert again.input_signature == model.input_signature == {"n_features": 3, "dtype": "float64"}


@pytest.mark.parametrize("name,make,kind", factories(), ids=[f[0] for f in factories()])
def test_not_fitted_and_wrong_feature_count(name, make, kind):
    _, X, y = data_for(kind, 0)
    model = make()
    assert model.params == {} and not model.is_fitted and model.input_signature is None
    with pytest.raises(mm.NotFittedError, match="not fitted"):
        model.predict(X)
    model.fit(X, y, epochs=1, seed=0)
    with pytest.raises(ValueError, match="X has 4 features, but .* fitted with 3"):
        model.predict(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="2-D"):
        model.predict(np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        model.predict(np.full((1, 3), np.nan))


def test_classifiers_keep_sorted_labels_of_any_kind():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = np.where(X[:, 0] > 0, "yes", "no")
    clf = LogisticRegression()
    clf.fit(X, y, epochs=50, seed=0, optimizer=mm.optim.Adam(lr=0.1))
    assert clf.classes_.tolist() == ["no", "yes"]
    assert set(clf.predict(X)) <= {"no", "yes"}
    assert (clf.predict(X) == y).mean() > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (30, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    again = LogisticRegression.from_config(json.loads(json.dumps(clf.config)), clf.params)
    assert again.predict(X).tolist() == clf.predict(X).tolist()


def test_multinomial_proba_has_one_column_per_class():
    _, X, y = blobs(0, n=30, k=4)
    for model in (LogisticRegression(), MLP(hidden=(4,))):
        model.fit(X, y + 10, epochs=2, seed=0)
        assert model.classes_.tolist() == [10, 11, 12, 13]
        assert model.predict_proba(X).shape == (30, 4)
        assert set(model.predict(X)) <= {10, 11, 12, 13}


def test_labels_outside_the_classes_seen_in_fit_are_refused():
    _, X, y = blobs(0)
    for model in (LogisticRegression(), MLP(hidden=(3,)), LinearSVM()):
        yy = y % 2 if isinstance(model, LinearSVM) else y
        model.fit(X, yy, epochs=1, seed=0)
        with pytest.raises(ValueError, match=r"labels not seen in fit: \[7\]"):
            model.loss_and_grad(X, np.full(len(X), 7))
        with pytest.raises(ValueError, match="do not match the classes|not seen in fit"):
            model.loss_and_grad(X, np.array(["a"] * len(X)))


def test_bad_hyperparameters_and_data():
    with pytest.raises(ValueError, match="l2"):
        LinearRegression(l2=-1)
    with pytest.raises(ValueError, match="C must be"):
        LinearSVM(C=0)
    with pytest.raises(ValueError, match="activation"):
        MLP(activation="softplus")
    with pytest.raises(ValueError, match="widths"):
        MLP(hidden=(0,))
    with pytest.raises(TypeError, match="fit_intercept"):
        LinearRegression(fit_intercept="yes")
    _, X, y = blobs(0)
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogisticRegression().fit(X, np.zeros(len(X)), epochs=1)
    with pytest.raises(ValueError, match="binary classifier; y has 3 classes"):
        LinearSVM().fit(X, y, epochs=1)
    with pytest.raises(ValueError, match="params do not match"):
        LogisticRegression.from_config({"l2": 0.0, "n_features_": 3, "classes_": [0, 1]}, {"W": np.zeros((2, 2)), "b": np.zeros(2)})


def test_mlp_layer_names_shapes_and_seeded_init():
    _, X, y = blobs(0, d=5, k=4)
    a, b = MLP(hidden=(8, 6)), MLP(hidden=(8, 6))
    a.initialize(X, y, np.random.default_rng(3))
    b.initialize(X, y, np.random.default_rng(3))
    shapes = {k: v.shape for k, v in a.params.items()}
    assert shapes == {
        "layers.0.W": (5, 8), "layers.0.b": (8,), "layers.1.W": (8, 6), "layers.1.b": (6,),
        "layers.2.W": (6, 4), "layers.2.b": (4,),
    }
    assert all(np.array_equal(a.params[k], b.params[k]) for k in shapes)
    # He init for relu: std close to sqrt(2 / fan_in) on a big layer
    big = MLP(hidden=(2000,))
    big.initialize(np.zeros((2, 50)), [0, 1], np.random.default_rng(0))
    assert big.params["layers.0.W"].std() == pytest.approx(np.sqrt(2 / 50), rel=0.02)


def test_linear_regression_recovers_least_squares_solution():
    from sklearn.linear_model import LinearRegression as SkLinear

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.5, -2.0, 0.5]) + 4.0 + rng.normal(scale=0.1, size=200)
    model = LinearRegression()
    model.fit(X, y, epochs=300, batch_size=None, optimizer=mm.optim.SGD(lr=0.1), seed=0)
    ref = SkLinear().fit(X, y)
    np.testing.assert_allclose(model.params["W"], ref.coef_, atol=1e-6)
    assert model.params["b"][0] == pytest.approx(ref.intercept_, abs=1e-6)


def test_logistic_regression_reaches_sklearn_optimum_with_l2():
    """Full-batch GD on mean CE + l2/2 ||W||² equals sklearn's multinomial optimum for C = 1/(n l2)."""
    from sklearn.linear_model import LogisticRegression as SkLogistic

    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 2))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=150) > 0).astype(int) + (X[:, 1] > 1)
    l2 = 0.05
    model = LogisticRegression(l2=l2)
    model.fit(X, y, epochs=2000, batch_size=None, optimizer=mm.optim.SGD(lr=0.5), seed=0)
    ref = SkLogistic(C=1.0 / (len(X) * l2), tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(X), atol=1e-5)


def test_breast_cancer_logistic_regression_after_scaling():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = mm.data.train_test_split(X, y, test_size=0.25, seed=0, stratify=y)
    scaler = mm.data.StandardScaler().fit(X_train)
    clf = LogisticRegression(l2=1e-3)
    clf.fit(scaler.transform(X_train), y_train, epochs=20, batch_size=32, optimizer=mm.optim.Adam(lr=0.01), seed=0)
    accuracy = (clf.predict(scaler.transform(X_test)) == y_test).mean()
    assert accuracy >= 0.95


def test_digits_mlp_hidden_32():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, X_test, y_train, y_test = mm.data.train_test_split(X, y, test_size=0.25, seed=0, stratify=y)
    model = MLP(hidden=(32,))
    model.fit(X_train, y_train, epochs=15, batch_size=32, optimizer=mm.optim.Adam(lr=0.01), seed=0)
    accuracy = (model.predict(X_test) == y_test).mean()
    assert accuracy >= 0.94


def test_linear_svm_separates_and_scores():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = mm.data.StandardScaler().fit_transform(X)
    svm = LinearSVM(C=1.0)
    svm.fit(X, y, epochs=20, optimizer=mm.optim.SGD(lr=0.05), seed=0)
    assert (svm.predict(X) == y).mean() > 0.95
    proba = svm.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(proba[:, 1] > 0.5, svm.decision_function(X) > 0)
    assert svm.config["n_samples_"] == len(X)


@pytest.mark.parametrize("name,make,kind", factories(), ids=[f[0] for f in factories()])
def test_save_and_load_give_the_same_predictions(name, make, kind, tmp_path):
    _, X, y = data_for(kind, 0)
    model = make()
    model.fit(X, y, epochs=2, seed=0)
    mm.save(model, tmp_path / name)
    loaded = mm.load(tmp_path / name)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert np.array_equal(loaded.predict(X), model.predict(X))
