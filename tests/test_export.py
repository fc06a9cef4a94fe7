"""mm.export and mm.exporters: formats come from the modelmgmt_register_exporters hook."""

from __future__ import annotations

import numpy as np
import pytest

import modelmgmt as mm
from modelmgmt import plugin_manager


@pytest.fixture()
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    model = mm.models.LinearRegression()
    model.fit(X, X @ np.array([1.5, -0.5]), epochs=2)
    return model, X


class _Recorder:
    def __init__(self):
        self.calls = []

    @mm.hookimpl
    def modelmgmt_register_exporters(self, register):
        register("record", lambda model, path, **options: self.calls.append((model, path, options)))


def test_builtin_format_round_trips(fitted, tmp_path):
    model, X = fitted
    assert "modelmgmt" in mm.exporters()
    out = mm.export(model, tmp_path / "art", format="modelmgmt")
    assert out == str(tmp_path / "art")
    np.testing.assert_allclose(mm.load(out).predict(X), model.predict(X))


def test_plugin_exporter_gets_model_path_and_options(fitted, tmp_path):
    model, _ = fitted
    rec = _Recorder()
    plugin_manager.get_plugin_manager().register(rec, name="recorder")
    assert {"modelmgmt", "record"} <= set(mm.exporters())
    mm.export(model, tmp_path / "m.bin", format="record", opset=17)
    assert rec.calls == [(model, str(tmp_path / "m.bin"), {"opset": 17})]


def test_reference_is_loaded_from_the_registry(fitted, tmp_path):
    model, X = fitted
    reg = mm.Registry(f"file://{tmp_path / 'reg'}")
    reg.register("lin", model)
    rec = _Recorder()
    plugin_manager.get_plugin_manager().register(rec, name="recorder")
    mm.export("lin/1", tmp_path / "x", format="record", registry=reg)
    (loaded, _, _), = rec.calls
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))


def test_unknown_format_lists_known_ones(fitted, tmp_path):
    model, _ = fitted
    with pytest.raises(mm.NotFoundError, match="no export format named 'nope'; known: .*modelmgmt"):
        mm.export(model, tmp_path / "x", format="nope")


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (("lin/1", "out"), {"format": "modelmgmt"}, "pass registry="),
        ((42, "out"), {"format": "modelmgmt"}, "model_or_ref must be a modelmgmt.Model"),
        ((None, "out"), {"format": 3}, "format must be a non-empty str"),
        ((None, ""), {"format": "modelmgmt"}, "path must be a non-empty"),
    ],
)
def test_bad_arguments(args, kwargs, match):
    with pytest.raises(mm.InvalidArgumentError, match=match):
        mm.export(*args, **kwargs)


def test_registry_with_a_model_object_is_refused(fitted):
    model, _ = fitted
    with pytest.raises(mm.InvalidArgumentError, match="registry= applies only"):
        mm.export(model, "out", format="modelmgmt", registry=object())
