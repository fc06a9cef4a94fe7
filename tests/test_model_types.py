"""The one model-type resolver serves ColumnTransformer parts too: a transformer registered at
run time saves and loads inside a ColumnTransformer, an unregistered name is refused."""

from __future__ import annotations

import numpy as np
import pytest

import modelmgmt as mm
from modelmgmt.model_types import resolve_model_type


class DoublingScaler(mm.data.StandardScaler):
    """A user's own transformer, defined in a script."""

    def transform(self, X):
        return 2.0 * super().transform(X)


def test_runtime_registered_transformer_inside_a_column_transformer_round_trips():
    mm.register_model_type("DoublingScaler", DoublingScaler)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] > 0).astype(int)
    ct = mm.data.ColumnTransformer([("a", DoublingScaler(), [0, 1]), ("b", mm.data.MinMaxScaler(), [2])])
    pipe = mm.models.Pipeline([ct, mm.models.LogisticRegression()])
    pipe.fit(X, y)
    reg = mm.Registry("memory://model-types-ct")
    reg.register("ct", pipe)
    loaded = reg.load("ct")
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    assert pipe.config["steps"][0]["config"]["transformers"][0]["type"] == "DoublingScaler"


def test_column_transformer_config_naming_an_unregistered_type_is_refused():
    with pytest.raises(mm.ModelTypeError, match="not registered"):
        resolve_model_type("no.such.module:Thing", (mm.base.Transformer,), "config.transformers[].type")
    with pytest.raises(mm.ModelTypeError, match="not a subclass"):  # a Model is not a Transformer
        resolve_model_type("LogisticRegression", (mm.base.Transformer,), "config.transformers[].type")
