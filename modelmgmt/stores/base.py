"""The Store interface: a key -> bytes store with atomic writes, the registry's only storage."""

from __future__ import annotations

import abc
import builtins
import re
from typing import IO

from modelmgmt.errors import InvalidArgumentError

__all__ = ["Store", "validate_key", "prefix_folder"]

_BAD_KEY_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def validate_key(key: object) -> str:
    """Check a store key: relative, '/'-separated, no empty, '.' or '..' parts, no control chars."""
    if not isinstance(key, str):
        raise InvalidArgumentError(f"store key must be a str; got {type(key).__name__}")
    if not key or key.startswith("/") or key.endswith("/"):
        raise InvalidArgumentError(f"store key must be a non-empty relative path like 'a/b'; got {key!r}")
    if _BAD_KEY_CHARS.search(key):
        raise InvalidArgumentError(f"store key must not contain '\\\\', NUL or control characters; got {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidArgumentError(f"store key must not contain empty, '.' or '..' parts; got {key!r}")
    return key


def prefix_folder(prefix: object) -> str:
    """The folder part of a listing prefix ("a/b/c" -> "a/b", "ab" -> ""), checked as a key."""
    if not isinstance(prefix, str):
        raise InvalidArgumentError(f"prefix must be a str; got {type(prefix).__name__}")
    base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
    return validate_key(base) if base else ""


class Store(abc.ABC):
    """Key -> bytes storage. Keys are relative '/'-separated paths (see :func:`validate_key`).

    Contract (checked for every implementation by ``modelmgmt.testing.StoreContract``):

    - ``put(key, data)``: write atomically. Readers see the old bytes or the new bytes,
      never a mix or a prefix, even if the writer dies mid-way.
    - ``put_if_absent(key, data) -> bool``: write only if ``key`` does not exist; True if this
      call wrote it. Atomic with respect to other writers *and* readers: of many concurrent
      callers exactly one gets True, and nobody ever sees partial bytes.
    - ``get(key) -> bytes`` and ``open(key)`` (a binary file object for streaming reads);
      both raise :class:`~modelmgmt.errors.NotFoundError` for a missing key.
    - ``exists(key)``, ``delete(key)`` (NotFoundError when missing),
      ``list(prefix="")``: every key that starts with ``prefix``, sorted;
      ``list_dirs(prefix)``: the sub-folder names directly under a folder prefix.
    - ``local_path(key)``: a local filesystem path for the key when there is one (lets the
      registry memory-map blobs), else None.
    - invalid keys raise ValueError/TypeError before anything is touched.
    """

    #: the URL this store was opened from (for messages and manifests)
    url: str = ""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``."""

    @abc.abstractmethod
    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        """Store ``data`` under ``key`` atomically, replacing what was there."""

    @abc.abstractmethod
    def put_if_absent(self, key: str, data: bytes | bytearray | memoryview) -> bool:
        """Store ``data`` only if ``key`` is free; True when this call created it."""

    @abc.abstractmethod
    def open(self, key: str) -> IO[bytes]:
        """A readable binary file object for ``key`` (close it, or use ``with``)."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` holds a value."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """All keys starting with ``prefix``, sorted."""

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        """Names of the immediate sub-folders of ``prefix`` (ending in '/'), sorted; stores
        with a delimiter listing override this, so it costs O(folders), not O(keys)."""
        return sorted({k[len(prefix):].split("/", 1)[0] for k in self.list(prefix) if "/" in k[len(prefix):]})

    def local_path(self, key: str) -> str | None:
        """A local file path holding ``key``'s bytes, when the store is on local disk."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
