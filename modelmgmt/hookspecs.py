"""Hook specifications: what a modelmgmt plugin can provide (entry-point group ``modelmgmt``).

A plugin is a module (or object) with functions marked ``@modelmgmt.hookimpl`` whose names
are the hooks below. Each hook receives a ``register`` callback, so a plugin never touches
modelmgmt's internals, and an implementation may accept fewer arguments than the spec.
Factories may be given as objects or as ``"module:attribute"`` strings, imported on first use.
"""

from __future__ import annotations

from typing import Any, Protocol

import pluggy

__all__ = ["hookspec", "hookimpl", "PROJECT", "Register"]

PROJECT = "modelmgmt"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    """The callback every hook receives: ``register(name, factory, *, override=False)``.

    ``override=True`` lets a third-party plugin replace a built-in's entry of that name
    (without it, the first-loaded plugin keeps a contested name; see docs/plugins.md).
    """

    def __call__(self, name: str, factory: Any, *, override: bool = False) -> None: ...


@hookspec
def modelmgmt_register_stores(register: Register) -> None:
    """Register Store factories by URL scheme: ``register("myfs", factory)``.

    ``factory(url: str, **storage_options) -> Store`` is called for URLs ``myfs://...``.
    """


@hookspec
def modelmgmt_register_deployers(register: Register) -> None:
    """Register deployment targets by name: ``register("mytarget", factory)``.

    ``factory()`` returns a :class:`modelmgmt.Deployer` (a Deployer subclass works).
    """


@hookspec
def modelmgmt_register_model_types(register: Register) -> None:
    """Register loadable model types: ``register("MyModel", cls)``.

    ``cls`` is a :class:`modelmgmt.Model` subclass; the registry rebuilds saved models of
    type ``"MyModel"`` with ``cls.from_config(config, params)``, never with pickle.
    """


@hookspec
def modelmgmt_register_exporters(register: Register) -> None:
    """Register export formats: ``register("onnx", exporter)``.

    ``exporter(model, path, **options) -> None`` writes ``model`` to ``path``; it is what
    ``mm.export(model, path, format="onnx", **options)`` calls.
    """
