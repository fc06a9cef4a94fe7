"""The one model-type resolver: how a saved artifact names a class, and which class a name means.

A manifest (or a Pipeline step, or a quantized model's wrapped type) names its class by a
*registered* name: built-ins and plugins register through the ``modelmgmt_register_model_types``
hook, scripts and notebooks with :func:`register_model_type`. Resolving a name never imports a
module: a name that is not registered, or whose class is abstract or of the wrong kind, raises
:class:`~modelmgmt.errors.ModelTypeError` (an IntegrityError). A class that is not registered
is named by its qualified name ``"module:QualName"``; loading it works once a class with that
qualified name is registered under any name.
"""

from __future__ import annotations

import inspect
import sys
import threading
from typing import Any

from modelmgmt import plugin_manager
from modelmgmt.base import ArrayEstimator, Estimator, Transformer
from modelmgmt.errors import ConflictError, InvalidArgumentError, ModelmgmtError, ModelTypeError

__all__ = [
    "register_model_type",
    "registered_model_types",
    "model_type_name",
    "resolve_model_type",
    "ESTIMATOR",
]

#: what any registered type is (a Model or a Transformer); callers narrow it with ``kinds``
#: (the registry asks for a Model, a ColumnTransformer for a Transformer). This module sits
#: below models and data so that both resolve names through it.
ESTIMATOR: tuple[type, ...] = (Estimator,)
_BASES = (Estimator, ArrayEstimator, Transformer)

_lock = threading.Lock()
_runtime: dict[str, type] = {}  # names registered with register_model_type, this process only


def _qualified(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _check_class(cls: Any, kinds: tuple[type, ...]) -> str | None:
    """Why ``cls`` cannot be built from a manifest as one of ``kinds`` (None when it can)."""
    wanted = " or ".join(f"modelmgmt.{k.__name__}" for k in kinds)
    if not isinstance(cls, type) or not issubclass(cls, kinds):
        return f"{cls!r} is not a subclass of {wanted}"
    if cls in _BASES or inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ()))) or "it is a base class"
        return f"{cls.__qualname__} is abstract ({missing}) and cannot be built"
    return None


def register_model_type(name: str, cls: type) -> type:
    """Make ``cls`` loadable under ``name`` in this process (for classes defined in a script or
    notebook); returns ``cls``. Built-ins and plugins register through the hook instead."""
    if not isinstance(name, str) or not name or name != name.strip() or len(name) > 200:
        raise InvalidArgumentError(f"a model type name must be a non-empty str of at most 200 characters "
                                   f"without surrounding spaces; got {name!r}")
    problem = _check_class(cls, ESTIMATOR)
    if problem is not None:
        raise InvalidArgumentError(f"register_model_type({name!r}, ...) refused: {problem}")
    if name in plugin_manager.model_types():
        try:
            existing = plugin_manager.get_model_type(name)
        except ModelmgmtError:
            existing = None
        if existing is not cls:
            raise ConflictError(f"model type {name!r} is already registered by a plugin (as {existing!r}); "
                                "choose another name")
    with _lock:
        _runtime[name] = cls
    return cls


def registered_model_types() -> list[str]:
    """Every name a manifest may use: plugins' (built-ins included) and run-time registrations."""
    with _lock:
        names = set(_runtime)
    return sorted(names | set(plugin_manager.model_types()))


def _registered_class(name: str) -> type | None:
    with _lock:
        cls = _runtime.get(name)
    if cls is not None:
        return cls
    if name in plugin_manager.model_types():
        return plugin_manager.get_model_type(name)  # PluginError when that plugin is broken
    return None


def _by_qualified_name(path: str) -> type | None:
    """The registered class whose ``module:QualName`` is ``path``. Nothing is imported for it: a
    class that exists has its module in ``sys.modules`` already, so any other path matches none."""
    with _lock:
        for cls in _runtime.values():
            if _qualified(cls) == path:
                return cls
    if path.partition(":")[0] not in sys.modules:
        return None
    for name in plugin_manager.model_types():
        try:
            cls = plugin_manager.get_model_type(name)
        except ModelmgmtError:
            continue
        if isinstance(cls, type) and _qualified(cls) == path:
            return cls
    return None


def model_type_name(obj: Any) -> str:
    """How an artifact names ``obj``'s class: its registered name, else ``"module:QualName"``."""
    cls = type(obj)
    with _lock:
        for name, known in _runtime.items():
            if known is cls:
                return name
    for name in plugin_manager.model_types():
        try:
            if plugin_manager.get_model_type(name) is cls:
                return name
        except ModelmgmtError:  # a broken plugin type must not stop us naming ours
            continue
    return _qualified(cls)


def resolve_model_type(name: Any, kinds: tuple[type, ...] = ESTIMATOR, what: str = "model_type") -> type[Any]:
    """The registered class ``name`` stands for, checked to be a concrete ``kinds`` subclass.

    Never imports anything: unknown, abstract and wrong-kind types raise ModelTypeError
    (an IntegrityError) naming ``what`` (the manifest field) and the registered types.
    """
    if not isinstance(name, str) or not name:
        raise ModelTypeError(f"manifest field {what!r} must be a non-empty str; got {name!r}")
    cls = _registered_class(name)
    if cls is None and ":" in name:
        cls = _by_qualified_name(name)
    if cls is None:
        known = ", ".join(registered_model_types()) or "none"
        raise ModelTypeError(
            f"manifest field {what!r} names model type {name!r}, which is not registered in this "
            f"process (registered: {known}). Nothing is imported because a manifest says so: if "
            f"{name!r} is your own class, call mm.register_model_type({name.rpartition(':')[2].rpartition('.')[2]!r}, "
            "TheClass) before loading, or ship it in a plugin (modelmgmt_register_model_types)"
        )
    problem = _check_class(cls, kinds)
    if problem is not None:
        raise ModelTypeError(f"manifest field {what!r} names model type {name!r}: {problem}; refusing to load it")
    return cls
