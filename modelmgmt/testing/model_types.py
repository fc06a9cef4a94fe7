"""ModelTypeContract: what a model type (built-in or plugin) must do to be saved and served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelmgmt.errors import NotFittedError
from modelmgmt.models.base import Model
from modelmgmt.registry import load, save

__all__ = ["ModelTypeContract"]


class ModelTypeContract:
    """Every promise of :class:`modelmgmt.Model` a saved, loaded and served model relies on.

    Subclasses define ``make_model()`` (a new, unfitted model) and set ``task``
    ("classification" or "regression"); override ``make_data()`` -> ``(X, y)`` or
    ``fit_model(model, X, y)`` when the defaults do not suit. The model type must be
    registered (hook or ``mm.register_model_type``) for the save/load round trip::

        class TestMyModel(ModelTypeContract):
            task = "regression"

            def make_model(self):
                return MyModel(alpha=0.1)
    """

    task: str = "classification"
    n_samples: int = 80
    n_features: int = 4
    fit_kwargs: dict[str, Any] = {"epochs": 3, "seed": 0}

    # --- what subclasses may override --------------------------------------------------
    def make_model(self) -> Model:  # pragma: no cover - overridden
        raise NotImplementedError("ModelTypeContract subclasses must define make_model()")

    def make_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, y): a small learnable problem of the contract's ``task``."""
        rng = np.random.default_rng(0)
        X = rng.normal(size=(self.n_samples, self.n_features))
        signal = X @ np.linspace(1.0, -1.0, self.n_features) + 0.5
        if self.task == "classification":
            return X, (signal > 0).astype(np.int64)
        return X, signal + 0.1 * rng.normal(size=self.n_samples)

    def fit_model(self, model: Model, X: np.ndarray, y: np.ndarray) -> Model:
        """Train ``model`` on (X, y) and return it."""
        model.fit(X, y, **self.fit_kwargs)
        return model

    # --- fixtures --------------------------------------------------------------------------
    @pytest.fixture
    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.make_data()

    @pytest.fixture
    def fitted(self, data: tuple[np.ndarray, np.ndarray]) -> Model:
        model = self.make_model()
        assert isinstance(model, Model), f"make_model() must return a modelmgmt.Model; got {type(model)}"
        return self.fit_model(model, *data)

    # --- the contract ------------------------------------------------------------------------
    def test_predict_before_fit_raises_not_fitted(self, data) -> None:
        with pytest.raises(NotFittedError):
            self.make_model().predict(data[0])

    def test_unfitted_model_has_no_params(self) -> None:
        model = self.make_model()
        assert model.params == {}, "params must be {} before fit"
        assert not model.is_fitted

    def test_predict_shape(self, fitted, data) -> None:
        X, _ = data
        pred = np.asarray(fitted.predict(X))
        assert pred.shape == (len(X),), f"predict must return (n_samples,); got {pred.shape}"

    def test_params_are_named_arrays(self, fitted) -> None:
        params = fitted.params
        assert params and all(isinstance(k, str) and k for k in params), "params need str names"
        for name, value in params.items():
            assert isinstance(value, np.ndarray), f"param {name!r} is {type(value).__name__}, not an ndarray"

    def test_config_is_json(self, fitted) -> None:
        config = fitted.config
        assert isinstance(config, dict)
        assert json.loads(json.dumps(config)) == config, "config must survive a JSON round trip"

    def test_from_config_rebuilds_an_equal_model(self, fitted, data) -> None:
        X, _ = data
        clone = type(fitted).from_config(json.loads(json.dumps(fitted.config)), fitted.params)
        assert clone.is_fitted
        assert clone.config == fitted.config
        assert clone.params.keys() == fitted.params.keys()
        for name, value in fitted.params.items():
            np.testing.assert_array_equal(clone.params[name], value, err_msg=f"param {name!r}")
        np.testing.assert_array_equal(clone.predict(X), fitted.predict(X))

    def test_classifier_probabilities(self, fitted, data) -> None:
        X, y = data
        if not getattr(fitted, "is_classifier", False):
            assert self.task != "classification", "a classification model must set is_classifier = True"
            return
        proba = np.asarray(fitted.predict_proba(X))
        assert proba.shape == (len(X), len(np.unique(y)))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
        assert (proba >= 0).all()
        np.testing.assert_array_equal(np.asarray(fitted.classes_)[proba.argmax(axis=1)], fitted.predict(X))

    def test_wrong_feature_count_is_refused(self, fitted, data) -> None:
        X, _ = data
        with pytest.raises(ValueError):
            fitted.predict(np.hstack([X, X]))

    def test_input_signature(self, fitted) -> None:
        sig = fitted.input_signature
        assert sig is not None and sig["n_features"] == self.n_features

    def test_save_and_load_round_trip(self, fitted, data, tmp_path: Path) -> None:
        X, _ = data
        save(fitted, str(tmp_path / "artifact"))
        loaded = load(str(tmp_path / "artifact"))
        assert type(loaded) is type(fitted)
        np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
