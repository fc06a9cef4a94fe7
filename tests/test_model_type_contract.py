"""ModelTypeContract on every built-in model type, and proof that it catches a broken one."""

from __future__ import annotations

import numpy as np
import pytest

import modelmgmt as mm
from modelmgmt.testing import ModelTypeContract

pytestmark = pytest.mark.filterwarnings("ignore:.*did not converge")


class TestLinearRegression(ModelTypeContract):
    task = "regression"

    def make_model(self):
        return mm.models.LinearRegression(l2=0.1)


class TestLogisticRegression(ModelTypeContract):
    def make_model(self):
        return mm.models.LogisticRegression()


class TestLinearSVM(ModelTypeContract):
    def make_model(self):
        return mm.models.LinearSVM(C=0.5)


class TestMLP(ModelTypeContract):
    def make_model(self):
        return mm.models.MLP(hidden=(8,))


class TestPipeline(ModelTypeContract):
    def make_model(self):
        return mm.models.Pipeline([mm.data.StandardScaler(), mm.models.LogisticRegression()])


class _Forgetful(mm.models.LinearRegression):
    """A broken model type: from_config drops the learned intercept."""

    @classmethod
    def from_config(cls, config, params):
        return super().from_config(config, {k: (np.zeros_like(v) if k == "b" else v) for k, v in params.items()})


def test_the_contract_catches_a_model_that_does_not_round_trip():
    contract = TestLinearRegression()
    X, y = contract.make_data()
    y = y + 5.0  # a large intercept, so losing it changes predictions
    model = contract.fit_model(_Forgetful(), X, y)
    assert set(model.params) >= {"b"}
    with pytest.raises(AssertionError):
        contract.test_from_config_rebuilds_an_equal_model(model, (X, y))


def test_the_contract_catches_predict_before_fit_that_does_not_raise():
    class Eager(mm.models.LinearRegression):
        def predict(self, X):
            return np.zeros(len(X))

    class C(ModelTypeContract):
        task = "regression"

        def make_model(self):
            return Eager()

    c = C()
    with pytest.raises(pytest.fail.Exception):
        c.test_predict_before_fit_raises_not_fitted(c.make_data())
