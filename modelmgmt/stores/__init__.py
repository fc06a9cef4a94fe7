"""Stores: where the registry keeps manifests and blobs. ``open_store`` turns a URL into one."""

from __future__ import annotations

import os
from typing import Any

from modelmgmt import plugin_manager
from modelmgmt.errors import InvalidArgumentError, NotFoundError
from modelmgmt.stores.base import Store, validate_key
from modelmgmt.stores.fsspec_store import FsspecStore, LocalStore, MemoryStore

__all__ = ["Store", "open_store", "validate_key", "FsspecStore", "LocalStore", "MemoryStore"]


def open_store(url_or_store: "str | os.PathLike[str] | Store", **storage_options: Any) -> Store:
    """A Store for a URL ("file:///p", "/p", "memory://n", "s3://b/p", ...) or a Store as is.

    One dispatch path: the scheme is looked up among plugin-registered stores (the built-ins
    register file, local, memory, s3 and s3a); any other scheme that fsspec knows falls back to
    :class:`FsspecStore`. Unknown schemes raise NotFoundError listing the known ones.
    """
    if isinstance(url_or_store, Store):
        if storage_options:
            raise InvalidArgumentError("storage_options apply only when opening a store from a URL")
        return url_or_store
    if isinstance(url_or_store, os.PathLike):
        url_or_store = os.fspath(url_or_store)
    if not isinstance(url_or_store, str) or not url_or_store:
        raise InvalidArgumentError(
            f"expected a store URL (str), a path or a Store; got {type(url_or_store).__name__}"
        )
    url = url_or_store
    scheme, sep, _ = url.partition("://")
    if not sep:
        scheme, url = "file", os.path.abspath(os.path.expanduser(url))
    factory = plugin_manager.get_store_factory(scheme)
    if factory is not None:
        return factory(url, **storage_options)
    import fsspec

    if scheme not in fsspec.available_protocols():
        known = sorted(set(plugin_manager.store_schemes()) | set(fsspec.available_protocols()))
        raise NotFoundError(f"unknown store URL scheme {scheme!r} in {url!r}; known: {', '.join(known)}")
    return FsspecStore(url, **storage_options)
