"""Plugin loading: built-ins and entry points through one pluggy manager, loaded on first need."""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from typing import Any, Callable

from modelmgmt.errors import NotFoundError, PluginError

__all__ = [
    "DEFAULT_PLUGINS",
    "DISABLE_ENV",
    "PluginWarning",
    "get_plugin_manager",
    "plugins",
    "deployers",
    "store_schemes",
    "model_types",
    "get_deployer_factory",
    "get_store_factory",
    "get_model_type",
    "reset",
]

#: built-in plugins, registered through the same hooks as third-party ones
DEFAULT_PLUGINS = (
    "modelmgmt.stores.builtin",
    "modelmgmt.deployment.builtin",
    "modelmgmt.models.builtin",
)
#: comma-separated plugin (entry point) names that must not be loaded
DISABLE_ENV = "MODELMGMT_DISABLE_PLUGINS"
ENTRY_POINT_GROUP = "modelmgmt"

_lock = threading.RLock()
_state: dict[str, Any] = {}


class PluginWarning(UserWarning):
    """A plugin could not be loaded and was skipped."""


def _blocked() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def _entry_points():
    from importlib.metadata import entry_points

    return entry_points(group=ENTRY_POINT_GROUP)


def get_plugin_manager():
    """The process's plugin manager, created (and every plugin loaded) on first call."""
    with _lock:
        pm = _state.get("pm")
        if pm is None:
            pm = _state["pm"] = _load()
        return pm


def _load():
    import pluggy

    from modelmgmt import hookspecs

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = _blocked()
    for name in DEFAULT_PLUGINS:
        if name in blocked:
            continue
        pm.register(importlib.import_module(name), name=name)
    for ep in _entry_points():
        if ep.name in blocked:
            pm.set_blocked(ep.name)
            continue
        if pm.has_plugin(ep.name) or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must never break the rest
            warnings.warn(
                f"modelmgmt plugin {ep.name!r} ({ep.value}) failed to load and was skipped: "
                f"{type(exc).__name__}: {exc}. Set {DISABLE_ENV}={ep.name} to silence this.",
                PluginWarning,
                stacklevel=3,
            )
            continue
        try:
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            raise PluginError(f"modelmgmt plugin {ep.name!r} ({ep.value}) is invalid: {exc}") from exc
    try:
        pm.check_pending()
    except Exception as exc:  # pluggy.PluginValidationError: a misspelled hook name
        raise PluginError(
            f"{exc}. Hooks modelmgmt knows: "
            f"{', '.join(n for n in dir(hookspecs) if n.startswith('modelmgmt_'))}. "
            f"Fix the plugin or set {DISABLE_ENV} to its name."
        ) from exc
    return pm


def _collect(hook_name: str, what: str) -> dict[str, tuple[Any, str]]:
    """Call one registration hook on every plugin; name -> (factory, plugin name)."""
    with _lock:
        cache = _state.setdefault("tables", {})
        if hook_name in cache:
            return cache[hook_name]
        pm = get_plugin_manager()
        table: dict[str, tuple[Any, str]] = {}
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            owner = impl.plugin_name

            def register(name: str, factory: Any, _owner: str = owner) -> None:
                if not isinstance(name, str) or not name:
                    raise PluginError(
                        f"plugin {_owner!r} registered a {what} with an invalid name {name!r}; "
                        "expected a non-empty str"
                    )
                if name in table:
                    raise PluginError(
                        f"{what} {name!r} is registered by two plugins: "
                        f"{table[name][1]!r} and {_owner!r}; uninstall one or block it with "
                        f"{DISABLE_ENV}"
                    )
                table[name] = (factory, _owner)

            kwargs = {"register": register}
            try:
                impl.function(**{a: kwargs[a] for a in impl.argnames})
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(f"plugin {owner!r} failed in {hook_name}: {exc}") from exc
        cache[hook_name] = table
        return table


def _resolve(factory: Any, what: str, name: str, owner: str) -> Any:
    """Import a ``"module:attr"`` factory string; objects pass through."""
    if not isinstance(factory, str):
        return factory
    module, _, attr = factory.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split(".") if attr else []:
            obj = getattr(obj, part)
    except Exception as exc:
        raise PluginError(
            f"{what} {name!r} from plugin {owner!r} points at {factory!r}, which cannot be "
            f"imported: {type(exc).__name__}: {exc}"
        ) from exc
    return obj


def plugins() -> list[str]:
    """Names of the plugins loaded, built-ins included."""
    pm = get_plugin_manager()
    return sorted(name for name, plugin in pm.list_name_plugin() if plugin is not None)


def deployers() -> list[str]:
    """Names of every deployment target found, plugins included."""
    return sorted(_collect("modelmgmt_register_deployers", "deployer"))


def store_schemes() -> list[str]:
    """URL schemes with a registered Store factory (others fall back to fsspec)."""
    return sorted(_collect("modelmgmt_register_stores", "store scheme"))


def model_types() -> list[str]:
    """Names of the registered loadable model types."""
    return sorted(_collect("modelmgmt_register_model_types", "model type"))


def _lookup(hook_name: str, what: str, name: str) -> Any:
    table = _collect(hook_name, what)
    if name not in table:
        raise NotFoundError(f"no {what} named {name!r}; known: {', '.join(sorted(table)) or 'none'}")
    factory, owner = table[name]
    return _resolve(factory, what, name, owner)


def get_deployer_factory(name: str) -> Callable[[], Any]:
    """The factory registered for deployment target ``name`` (NotFoundError if none)."""
    return _lookup("modelmgmt_register_deployers", "deployer", name)


def get_store_factory(scheme: str) -> Callable[..., Any] | None:
    """The Store factory registered for a URL scheme, or None when no plugin claims it."""
    table = _collect("modelmgmt_register_stores", "store scheme")
    if scheme not in table:
        return None
    factory, owner = table[scheme]
    return _resolve(factory, "store scheme", scheme, owner)


def get_model_type(name: str) -> type:
    """The Model class registered under ``name`` (NotFoundError if none)."""
    return _lookup("modelmgmt_register_model_types", "model type", name)


def reset() -> None:
    """Forget the loaded plugins; the next use loads them again (for tests and notebooks)."""
    with _lock:
        _state.clear()
