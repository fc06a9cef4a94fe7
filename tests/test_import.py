"""`import modelmgmt` is light: no scipy, no plugins, no fsspec until needed."""

from __future__ import annotations

import subprocess
import sys

import pytest

import modelmgmt as mm


def _fresh(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_import_does_not_load_heavy_modules():
    loaded = _fresh(
        "import sys, modelmgmt; "
        "print(','.join(m for m in ('scipy', 'fsspec', 'pluggy', 'modelmgmt.plugin_manager', "
        "'sklearn', 'torch') if m in sys.modules))"
    )
    assert loaded == ""


def test_interfaces_are_exported_abcs():
    import abc

    for name in ("Model", "Optimizer", "Metric", "Store", "Deployer"):
        cls = getattr(mm, name)
        assert isinstance(cls, abc.ABCMeta), name
        assert cls.__doc__ and "Contract" in cls.__doc__, f"{name} must document its contract"
        with pytest.raises(TypeError):
            cls()


def test_error_hierarchy():
    for err in (mm.NotFoundError, mm.NotFittedError, mm.IntegrityError, mm.PluginError, mm.ConflictError):
        assert issubclass(err, mm.ModelmgmtError)
    assert str(mm.NotFoundError("no model 'x'")) == "no model 'x'"


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mm.nope  # noqa: B018


def test_dir_lists_lazy_names():
    assert {"fit", "Registry", "deploy", "Monitor", "metrics"} <= set(dir(mm))
