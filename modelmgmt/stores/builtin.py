"""Built-in plugin: the stores for file://, plain paths, memory:// and s3:// (s3 extra)."""

from __future__ import annotations

from modelmgmt.hookspecs import hookimpl


@hookimpl
def modelmgmt_register_stores(register):
    register("file", "modelmgmt.stores.fsspec_store:LocalStore")
    register("local", "modelmgmt.stores.fsspec_store:LocalStore")
    register("memory", "modelmgmt.stores.fsspec_store:MemoryStore")
    register("s3", "modelmgmt.stores.s3:S3Store")
    register("s3a", "modelmgmt.stores.s3:S3Store")
