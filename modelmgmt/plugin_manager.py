"""Plugin loading: built-ins and entry points through one pluggy manager, loaded on first need.

Hooks are called through pluggy (``pm.hook.X(register=...)``); the ``register`` callback
records which plugin registered each name. One plugin's failure (an import error, a
misspelled hook, a hook that raises or registers a bad name) disables that plugin's names
only, with a :class:`PluginWarning` naming it.

Precedence (documented in docs/plugins.md): plugins are loaded built-ins first (in
``DEFAULT_PLUGINS`` order), then entry points sorted by name, then plugins registered at
run time. When two plugins register one name, the first loaded keeps it and a PluginWarning
names both -- except that ``register(name, factory, override=True)`` from a third-party
plugin replaces a built-in's entry silently.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import warnings
from importlib.metadata import entry_points
from typing import Any, Callable, NamedTuple

import pluggy

from modelmgmt import hookspecs
from modelmgmt._importing import import_object, is_import_path
from modelmgmt.errors import NotFoundError, PluginError, PluginWarning

__all__ = [
    "DEFAULT_PLUGINS",
    "DISABLE_ENV",
    "PluginWarning",
    "get_plugin_manager",
    "plugins",
    "deployers",
    "store_schemes",
    "model_types",
    "exporters",
    "get_deployer_factory",
    "get_store_factory",
    "get_model_type",
    "get_exporter",
    "reset",
]

#: built-in plugins, registered through the same hooks as third-party ones
DEFAULT_PLUGINS = (
    "modelmgmt.stores.builtin",
    "modelmgmt.deployment.builtin",
    "modelmgmt.models.builtin",
    "modelmgmt.exporting",
)
#: comma-separated plugin (entry point) names that must not be loaded
DISABLE_ENV = "MODELMGMT_DISABLE_PLUGINS"
ENTRY_POINT_GROUP = "modelmgmt"

_lock = threading.RLock()
_state: dict[str, Any] = {}


class _Entry(NamedTuple):
    name: str
    factory: Any
    owner: str
    override: bool


class _BadRegistration(Exception):
    def __init__(self, owner: str | None, message: str) -> None:
        super().__init__(message)
        self.owner = owner


def _warn(message: str) -> None:
    warnings.warn(message, PluginWarning, stacklevel=3)


def _blocked() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def _entry_points() -> list[Any]:
    """Installed entry points of group ``modelmgmt``, sorted by name (the load order)."""
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, created (and every plugin loaded) on first call."""
    with _lock:
        pm = _state.get("pm")
        if pm is None:
            pm = _state["pm"] = _load()
        return pm


def _known_hooks() -> str:
    return ", ".join(n for n in dir(hookspecs) if n.startswith("modelmgmt_"))


def _load() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = _blocked()
    for name in DEFAULT_PLUGINS:
        if name not in blocked:
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
            _warn(
                f"modelmgmt plugin {ep.name!r} ({ep.value}) failed to load and was skipped: "
                f"{type(exc).__name__}: {exc}. Set {DISABLE_ENV}={ep.name} to silence this."
            )
            continue
        try:
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # pluggy.PluginValidationError: a hook with wrong arguments
            _warn(f"modelmgmt plugin {ep.name!r} ({ep.value}) is invalid and was skipped: {exc}")
    while True:  # a misspelled hook disables its plugin only
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin) or repr(exc.plugin)
            pm.unregister(exc.plugin)
            _warn(
                f"modelmgmt plugin {name!r} was skipped: {exc}. Hooks modelmgmt knows: "
                f"{_known_hooks()}. Fix the plugin or set {DISABLE_ENV}={name}."
            )
        else:
            return pm


def _code_of(fn: Any) -> Any:
    """The code object a hook implementation runs (functions, methods, partials, callables)."""
    for _ in range(5):
        code = getattr(fn, "__code__", None)
        if code is not None:
            return code
        fn = getattr(fn, "__func__", None) or getattr(fn, "func", None) or vars(type(fn)).get("__call__")
        if fn is None:
            return None
    return None


def _plugin_on_stack(frame: Any, codes: dict[Any, str]) -> str | None:
    """The plugin whose hook implementation is running in ``frame`` or one of its callers."""
    while frame is not None:
        owner = codes.get(frame.f_code)
        if owner is not None:
            return owner
        frame = frame.f_back
    return None


def _plugin_in_traceback(tb: Any, codes: dict[Any, str]) -> str | None:
    """The outermost hook implementation a traceback passes through."""
    while tb is not None:
        owner = codes.get(tb.tb_frame.f_code)
        if owner is not None:
            return owner
        tb = tb.tb_next
    return None


class _Registrar:
    """The ``register`` callback of one hook call: records each name with the plugin that gave it."""

    def __init__(self, caller: Any, what: str) -> None:
        self.what = what
        self.entries: list[_Entry] = []
        self.codes: dict[Any, str] = {}
        for impl in caller.get_hookimpls():
            code = _code_of(impl.function)
            if code is not None:
                self.codes[code] = impl.plugin_name

    def __call__(self, name: str, factory: Any, *, override: bool = False) -> None:
        what = self.what
        owner = _plugin_on_stack(sys._getframe(1), self.codes)
        if not isinstance(name, str) or not name:
            raise _BadRegistration(owner, f"registered a {what} with an invalid name {name!r}; expected a non-empty str")
        if not (callable(factory) or is_import_path(factory)):
            raise _BadRegistration(
                owner, f"registered {what} {name!r} as {factory!r}; expected a callable or a 'module:attribute' str"
            )
        if not isinstance(override, bool):
            raise _BadRegistration(owner, f"registered {what} {name!r} with override={override!r}; expected a bool")
        self.entries.append(_Entry(name, factory, owner or "<unknown plugin>", override))


def _call_hook(pm: pluggy.PluginManager, hook_name: str, what: str) -> list[_Entry]:
    """Call one registration hook through pluggy; a failing plugin is left out with a warning."""
    excluded: list[Any] = []
    while True:
        caller = getattr(pm.hook, hook_name)
        if excluded:
            caller = pm.subset_hook_caller(hook_name, excluded)
        register = _Registrar(caller, what)
        try:
            caller(register=register)
        except _BadRegistration as exc:
            bad, reason = exc.owner, str(exc)
        except Exception as exc:
            bad, reason = _plugin_in_traceback(exc.__traceback__, register.codes), f"{type(exc).__name__}: {exc}"
        else:
            return register.entries
        if bad is None or pm.get_plugin(bad) is None:
            raise PluginError(f"a modelmgmt plugin failed in {hook_name}: {reason}")
        _warn(
            f"modelmgmt plugin {bad!r} failed in {hook_name} ({reason}); its {what}s are not "
            f"available. Fix the plugin or set {DISABLE_ENV}={bad}."
        )
        excluded.append(pm.get_plugin(bad))


def _resolve_clashes(pm: pluggy.PluginManager, entries: list[_Entry], what: str) -> dict[str, _Entry]:
    """Apply the precedence rule: first loaded wins; ``override=True`` beats a built-in."""
    order = {name: i for i, (name, _) in enumerate(pm.list_name_plugin())}
    ranked = sorted(enumerate(entries), key=lambda ie: (order.get(ie[1].owner, len(order)), ie[0]))
    table: dict[str, _Entry] = {}
    for _, entry in ranked:
        prev = table.get(entry.name)
        if prev is None:
            table[entry.name] = entry
        elif entry.override and prev.owner in DEFAULT_PLUGINS and entry.owner not in DEFAULT_PLUGINS:
            table[entry.name] = entry
        elif prev.owner == entry.owner:
            _warn(f"modelmgmt plugin {entry.owner!r} registered {what} {entry.name!r} twice; the first is used")
        else:
            hint = " (pass override=True to replace a built-in)" if prev.owner in DEFAULT_PLUGINS else ""
            _warn(
                f"{what} {entry.name!r} is registered by two plugins: {prev.owner!r} and "
                f"{entry.owner!r}; using {prev.owner!r}, loaded first{hint}. Uninstall one or "
                f"block it with {DISABLE_ENV}."
            )
    return table


def _collect(hook_name: str, what: str) -> dict[str, _Entry]:
    """name -> entry for one registration hook, cached until the set of plugins changes."""
    with _lock:
        pm = get_plugin_manager()
        key = tuple((name, id(plugin)) for name, plugin in pm.list_name_plugin())
        cache = _state.setdefault("tables", {})
        hit = cache.get(hook_name)
        if hit is not None and hit[0] == key:
            return hit[1]
        table = _resolve_clashes(pm, _call_hook(pm, hook_name, what), what)
        cache[hook_name] = (key, table)
        return table


def _resolve(entry: _Entry, what: str) -> Any:
    """Import a ``"module:attr"`` factory string; objects pass through."""
    if not isinstance(entry.factory, str):
        return entry.factory
    try:
        return import_object(entry.factory)
    except Exception as exc:
        raise PluginError(
            f"{what} {entry.name!r} from plugin {entry.owner!r} points at {entry.factory!r}, "
            f"which cannot be imported: {type(exc).__name__}: {exc}"
        ) from exc


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


def exporters() -> list[str]:
    """Formats ``mm.export`` can write, from every plugin's ``modelmgmt_register_exporters``."""
    return sorted(_collect("modelmgmt_register_exporters", "export format"))


def _lookup(hook_name: str, what: str, name: str) -> Any:
    table = _collect(hook_name, what)
    if name not in table:
        raise NotFoundError(f"no {what} named {name!r}; known: {', '.join(sorted(table)) or 'none'}")
    return _resolve(table[name], what)


def get_deployer_factory(name: str) -> Callable[[], Any]:
    """The factory registered for deployment target ``name`` (NotFoundError if none)."""
    return _lookup("modelmgmt_register_deployers", "deployer", name)


def get_store_factory(scheme: str) -> Callable[..., Any] | None:
    """The Store factory registered for a URL scheme, or None when no plugin claims it."""
    table = _collect("modelmgmt_register_stores", "store scheme")
    return _resolve(table[scheme], "store scheme") if scheme in table else None


def get_model_type(name: str) -> type:
    """The Model class registered under ``name`` (NotFoundError if none)."""
    return _lookup("modelmgmt_register_model_types", "model type", name)


def get_exporter(format: str) -> Callable[..., None]:
    """The exporter ``(model, path, **options) -> None`` for ``format`` (NotFoundError if none)."""
    return _lookup("modelmgmt_register_exporters", "export format", format)


def reset() -> None:
    """Forget the loaded plugins; the next use loads them again (for tests and notebooks)."""
    with _lock:
        _state.clear()
