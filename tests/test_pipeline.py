"""Pipeline: preprocessing + model trained, saved (config + params) and rebuilt as one Model."""

from __future__ import annotations

import json

import numpy as np
import pytest

import modelmgmt as mm
from modelmgmt.data import SimpleImputer, StandardScaler
from modelmgmt.models import MLP, LinearRegression, LogisticRegression, Pipeline


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)) * [1, 10, 100, 0.1] + [0, 5, -50, 1]
    y = (X[:, 0] + X[:, 1] / 10 > 0.5).astype(int)
    X_missing = X.copy()
    X_missing[rng.uniform(size=X.shape) < 0.1] = np.nan
    return X, X_missing, y


def test_pipeline_trains_and_round_trips_through_config(data):
    _, X, y = data
    pipe = Pipeline([SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression()])
    history = pipe.fit(X, y, epochs=10, seed=0, optimizer=mm.optim.Adam(lr=0.05))
    assert len(history.history["loss"]) == 10
    assert pipe.is_fitted and pipe.is_classifier
    assert sorted(pipe.params) == ["0.statistics", "1.mean", "1.scale", "2.W", "2.b"]
    config = json.loads(json.dumps(pipe.config))
    assert [s["type"] for s in config["steps"]] == ["SimpleImputer", "StandardScaler", "LogisticRegression"]
    again = Pipeline.from_config(config, {k: v.copy() for k, v in pipe.params.items()})
    assert np.array_equal(again.predict(X), pipe.predict(X))
    assert np.array_equal(again.predict_proba(X), pipe.predict_proba(X))
    assert again.config == pipe.config
    assert again.input_signature == pipe.input_signature == {"n_features": 4, "dtype": "float64"}
    assert again.classes_.tolist() == [0, 1]
    assert (pipe.predict(X) == y).mean() > 0.85  # 10 % of the values are missing


def test_pipeline_types_resolve_through_the_plugin_registry(data):
    from modelmgmt.plugin_manager import get_model_type

    assert get_model_type("Pipeline") is Pipeline
    assert get_model_type("StandardScaler") is StandardScaler
    assert get_model_type("SimpleImputer") is SimpleImputer


def test_pipeline_equals_fitting_the_steps_by_hand(data):
    X, _, y = data
    pipe = Pipeline([StandardScaler(), MLP(hidden=(5,))])
    pipe.fit(X, y, epochs=3, batch_size=16, seed=4, optimizer=mm.optim.Adam(lr=0.01))
    scaler = StandardScaler().fit(X)
    model = MLP(hidden=(5,))
    model.fit(scaler.transform(X), y, epochs=3, batch_size=16, seed=4, optimizer=mm.optim.Adam(lr=0.01))
    for k, v in model.params.items():
        np.testing.assert_allclose(pipe.params[f"1.{k}"], v, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pipe.predict_proba(X), model.predict_proba(scaler.transform(X)), rtol=1e-12)


def test_pipeline_validation_data_early_stopping_and_regression(data):
    X, X_missing, _ = data
    target = X[:, 0] * 2 + X[:, 1] / 10
    pipe = Pipeline([SimpleImputer(), StandardScaler(), LinearRegression()])
    es = mm.callbacks.EarlyStopping(patience=2)
    history = pipe.fit(X_missing[:100], target[:100], validation_data=(X_missing[100:], target[100:]),
                       epochs=5, callbacks=[es], seed=0, optimizer=mm.optim.Adam(lr=0.1))
    assert len(history.history["val_loss"]) == len(history.epoch)
    assert pipe.predict(X_missing).shape == (120,)
    assert not pipe.is_classifier
    assert not hasattr(pipe.model, "predict_proba")
    with pytest.raises(AttributeError, match="predict_proba"):
        pipe.predict_proba(X)


def test_gradients_are_keyed_like_params(data):
    X, _, y = data
    pipe = Pipeline([StandardScaler(), LogisticRegression()])
    pipe.initialize(X, y, np.random.default_rng(0))
    value, grads = pipe.loss_and_grad(X, y)
    assert set(grads) == {"1.W", "1.b"} and set(grads) <= set(pipe.params)
    out, cache = pipe.forward(X)
    back = pipe.backward(cache, pipe.loss.grad(y, out))
    for k in grads:
        np.testing.assert_allclose(back[k], grads[k])
    assert pipe.compute_loss(X, y) == pytest.approx(value)


def test_pipeline_errors(data):
    X, X_missing, y = data
    with pytest.raises(mm.NotFittedError):
        Pipeline([StandardScaler(), LogisticRegression()]).predict(X)
    with pytest.raises(TypeError, match="last pipeline step must be a Model"):
        Pipeline([StandardScaler()])
    with pytest.raises(TypeError, match="step 0 must be a transformer"):
        Pipeline([LogisticRegression(), LogisticRegression()])
    with pytest.raises(ValueError, match="at least one step"):
        Pipeline([])
    with pytest.raises(ValueError, match="finite"):  # no imputer: NaN is refused up front
        Pipeline([StandardScaler(), LogisticRegression()]).fit(X_missing, y, epochs=1)
    pipe = Pipeline([StandardScaler(), LogisticRegression()])
    pipe.fit(X, y, epochs=1, seed=0)
    with pytest.raises(ValueError, match="X has 3 features"):
        pipe.predict(X[:, :3])
    with pytest.raises(mm.IntegrityError, match="model type 'Nope', which is not registered"):
        Pipeline.from_config({"steps": [{"type": "Nope", "config": {}}]}, {})
    with pytest.raises(ValueError, match="do not belong to any pipeline step"):
        Pipeline.from_config(pipe.config, {**pipe.params, "7.W": np.zeros(2)})
    with pytest.raises(ValueError, match="'steps' list"):
        Pipeline.from_config({}, {})
    with pytest.raises(mm.IntegrityError, match="'json:dumps', which is not registered"):
        Pipeline.from_config({"steps": [{"type": "json:dumps", "config": {}}]}, {})  # never imported


def test_saving_a_pipeline_saves_its_steps(data, tmp_path):
    _, X, y = data
    pipe = Pipeline([SimpleImputer(), StandardScaler(), MLP(hidden=(4,))])
    pipe.fit(X, y, epochs=2, seed=0)
    mm.save(pipe, tmp_path / "pipe")
    loaded = mm.load(tmp_path / "pipe")
    assert isinstance(loaded, Pipeline)
    assert [type(s) for s in loaded.steps] == [SimpleImputer, StandardScaler, MLP]
    assert np.array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    reg = mm.Registry(str(tmp_path / "registry"))
    reg.register("pipe", pipe)
    assert np.array_equal(reg.load("pipe").predict(X), pipe.predict(X))
