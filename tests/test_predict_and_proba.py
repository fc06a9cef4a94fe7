"""``predict_and_proba``: both classifier outputs from one pass, bit for bit the two calls.

A server asked for every output (OIP v2 with ``outputs`` omitted) runs the model once."""

import warnings

import numpy as np
import pytest

import modelmgmt as mm
from modelmgmt.base import predict_and_proba
from modelmgmt.deployment.served import ServedVersion


def _data(k=3, n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1], np.linspace(-1, 1, k - 1))
    return X, y


def _fitted():
    X3, y3 = _data(3)
    X2, y2 = _data(2)
    mlp = mm.models.MLP(hidden=(16, 8))
    logreg = mm.models.LogisticRegression()
    pipe = mm.models.Pipeline([mm.data.StandardScaler(), mm.models.MLP(hidden=(8,))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a couple of epochs are enough here
        mlp.fit(X3, np.array(["a", "b", "c"])[y3], epochs=2, seed=0)
        logreg.fit(X2, y2, epochs=3, seed=0)
        pipe.fit(X3, y3, epochs=2, seed=0)
    return {"mlp": mlp, "logreg": logreg, "pipeline": pipe, "quantized": mm.compress.quantize(mlp)}


@pytest.mark.parametrize("name", ["mlp", "logreg", "pipeline", "quantized"])
def test_one_pass_equals_the_two_calls_bit_for_bit(name):
    model = _fitted()[name]
    X = np.random.default_rng(5).normal(size=(37, 6))
    labels, proba = predict_and_proba(model, X)
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_array_equal(proba, model.predict_proba(X))
    assert hasattr(model, "predict_and_proba")  # the one-pass path, not the fallback


def test_a_served_classifier_runs_its_model_once_for_both_outputs():
    model = _fitted()["mlp"]
    calls = []
    forward = model.forward
    model.forward = lambda X: calls.append(len(X)) or forward(X)
    served = ServedVersion.of(type("V", (), {"name": "m", "version": 1})(), model)
    out = served.compute(np.zeros((4, 6)), ("predict", "predict_proba"))
    assert calls == [4] and set(out) == {"predict", "predict_proba"}


def test_regressors_have_no_predict_and_proba():
    X, y = _data(2)
    reg = mm.models.LinearRegression()
    pipe = mm.models.Pipeline([mm.data.StandardScaler(), mm.models.LinearRegression()])
    for model in (reg, pipe):
        model.fit(X, y.astype(float))
    assert not hasattr(reg, "predict_and_proba") and not hasattr(mm.compress.quantize(reg), "predict_and_proba")
    for model in (reg, pipe, mm.compress.quantize(reg)):
        with pytest.raises(AttributeError, match="predict_proba"):
            predict_and_proba(model, X)
