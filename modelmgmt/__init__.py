"""modelmgmt: the whole life of a machine-learning model in one small library.

Train, evaluate, tune, compress, version, deploy, monitor, roll back. Everything below is
imported lazily on first use, so ``import modelmgmt`` stays fast and never loads scipy or
plugins until they are needed.

>>> import modelmgmt as mm
>>> issubclass(mm.NotFoundError, mm.ModelmgmtError)
True
"""

from __future__ import annotations

import importlib as _importlib

from modelmgmt.errors import (
    ConflictError,
    ConvergenceWarning,
    IntegrityError,
    InvalidArgumentError,
    ModelmgmtError,
    ModelTypeError,
    NotFittedError,
    NotFoundError,
    PluginError,
)

TYPE_CHECKING = False  # typing is not imported at run time: it would double the import time
if TYPE_CHECKING:
    from typing import Any as _Any

__version__ = "0.1.0"

# public name -> "module:attribute" (attribute empty for a submodule)
_LAZY: dict[str, str] = {
    # the five interfaces
    "Model": "modelmgmt.models.base:Model",
    "Optimizer": "modelmgmt.optim.base:Optimizer",
    "Metric": "modelmgmt.metrics.base:Metric",
    "Store": "modelmgmt.stores.base:Store",
    "Deployer": "modelmgmt.deployment.base:Deployer",
    "Deployment": "modelmgmt.deployment.base:Deployment",
    # plugins
    "hookimpl": "modelmgmt.hookspecs:hookimpl",
    "plugins": "modelmgmt.plugin_manager:plugins",
    "deployers": "modelmgmt.plugin_manager:deployers",
    "register_model_type": "modelmgmt.model_types:register_model_type",
    "export": "modelmgmt.exporting:export",
    "exporters": "modelmgmt.plugin_manager:exporters",
    # lifecycle, in data-flow order
    "fit": "modelmgmt.training:fit",
    "History": "modelmgmt.training:History",
    "evaluate": "modelmgmt.metrics:evaluate",
    "Registry": "modelmgmt.registry:Registry",
    "ModelVersion": "modelmgmt.registry:ModelVersion",
    "save": "modelmgmt.registry:save",
    "load": "modelmgmt.registry:load",
    "deploy": "modelmgmt.deployment:deploy",
    "Monitor": "modelmgmt.monitor:Monitor",
    "DriftReport": "modelmgmt.monitor:DriftReport",
    "drift": "modelmgmt.monitor.drift:",
    # submodules reachable as attributes (mm.metrics.f1, mm.optim.Adam, ...)
    **{
        m: f"modelmgmt.{m}:"
        for m in (
            "base", "data", "models", "losses", "optim", "callbacks", "training", "metrics",
            "tuning", "compress", "registry", "stores", "deployment", "monitor",
            "testing", "hookspecs", "plugin_manager", "errors", "ui", "plot", "viz", "explain",
        )
    },
}

__all__ = [
    "ModelmgmtError", "NotFoundError", "NotFittedError", "IntegrityError", "PluginError",
    "ConflictError", "InvalidArgumentError", "ModelTypeError", "ConvergenceWarning", "__version__",
    *(n for n in _LAZY if n != "testing"),  # testing needs pytest: reachable, not star-imported
]


def __getattr__(name: str) -> _Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'modelmgmt' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    module = _importlib.import_module(module_name)
    value = getattr(module, attr) if attr else module
    if attr:  # cache functions/classes; submodules are set on the package by import itself
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_LAZY))
