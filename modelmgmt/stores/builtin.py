"""Built-in plugin: the fsspec-backed stores for file://, plain paths and memory://."""

from __future__ import annotations

from modelmgmt.hookspecs import hookimpl


@hookimpl
def modelmgmt_register_stores(register):
    register("file", "modelmgmt.stores.fsspec_store:LocalStore")
    register("local", "modelmgmt.stores.fsspec_store:LocalStore")
    register("memory", "modelmgmt.stores.fsspec_store:MemoryStore")
