"""FsspecStore: the Store interface on any fsspec URL (file://, memory://, s3://, ...)."""

from __future__ import annotations

import builtins
import os
import threading
import uuid
from typing import IO, Any

from modelmgmt.errors import NotFoundError
from modelmgmt.stores.base import Store, prefix_folder, validate_key

__all__ = ["FsspecStore", "LocalStore", "MemoryStore"]


class FsspecStore(Store):
    """A Store rooted at ``url`` on an fsspec filesystem.

    The generic implementation writes through fsspec; ``put_if_absent`` uses exclusive
    create (``mode="xb"``) where the backend supports it. Local disk and memory have
    subclasses with stronger guarantees (see :class:`LocalStore`, :class:`MemoryStore`).
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        import fsspec

        self.url = url
        self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        self.root = root.rstrip("/")

    # -- helpers -----------------------------------------------------------------
    def _path(self, key: str) -> str:
        return f"{self.root}/{validate_key(key)}"

    def _key(self, path: str) -> str:
        path = self.fs._strip_protocol(path)
        root = self.fs._strip_protocol(self.root).rstrip("/")
        return path[len(root) + 1 :] if root else path.lstrip("/")

    def _missing(self, key: str) -> NotFoundError:
        return NotFoundError(f"no key {key!r} in store {self.url!r}")

    # -- Store -------------------------------------------------------------------
    def get(self, key: str) -> bytes:
        try:
            return self.fs.cat_file(self._path(key))
        except FileNotFoundError:
            raise self._missing(key) from None

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self.fs.pipe_file(self._path(key), bytes(data))

    def put_if_absent(self, key: str, data: bytes | bytearray | memoryview) -> bool:
        path = self._path(key)
        try:
            with self.fs.open(path, "xb") as f:
                f.write(data)
        except FileExistsError:
            return False
        return True

    def open(self, key: str) -> IO[bytes]:
        try:
            return self.fs.open(self._path(key), "rb")
        except FileNotFoundError:
            raise self._missing(key) from None

    def exists(self, key: str) -> bool:
        return self.fs.isfile(self._path(key))

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            raise self._missing(key) from None

    def list(self, prefix: str = "") -> list[str]:
        base = prefix_folder(prefix)
        top = f"{self.root}/{base}" if base else self.root
        try:
            found = self.fs.find(top)
        except FileNotFoundError:
            return []
        keys = (self._key(p) for p in found)
        return sorted(k for k in keys if k.startswith(prefix) and not _is_temp(k))

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        folder = prefix.rstrip("/")
        try:
            entries = self.fs.ls(f"{self.root}/{validate_key(folder)}" if folder else self.root, detail=True)
        except FileNotFoundError:
            return []
        return sorted(self._key(e["name"]).rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory")


def _is_temp(key: str) -> bool:
    return key.rsplit("/", 1)[-1].startswith(".tmp-")


class LocalStore(FsspecStore):
    """FsspecStore on local disk: atomic put by temp file + ``os.replace``; put_if_absent by
    ``os.link`` of a complete temp file, which fails if the target exists (atomic, and no
    reader ever sees a partial file)."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        super().__init__(url, **storage_options)
        os.makedirs(self.root, exist_ok=True)

    def _write_temp(self, path: str, data: bytes | bytearray | memoryview) -> str:
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
        except BaseException:  # a full disk (ENOSPC) must not leave the temp file behind
            _unlink_quietly(tmp)
            raise
        return tmp

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        path = self._path(key)
        tmp = self._write_temp(path, data)
        try:
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise

    def put_if_absent(self, key: str, data: bytes | bytearray | memoryview) -> bool:
        path = self._path(key)
        if os.path.exists(path):
            return False
        tmp = self._write_temp(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            _unlink_quietly(tmp)
        return True

    def open(self, key: str) -> IO[bytes]:
        try:
            return open(self._path(key), "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise self._missing(key) from None

    def get(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            raise self._missing(key) from None

    def local_path(self, key: str) -> str | None:
        return self._path(key)

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        folder = prefix.rstrip("/")
        top = os.path.join(self.root, *validate_key(folder).split("/")) if folder else self.root
        try:
            with os.scandir(top) as it:
                return sorted(e.name for e in it if e.is_dir() and not e.name.startswith(".tmp-"))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def list(self, prefix: str = "") -> list[str]:
        # os.walk, pruned to the prefix: much faster than fsspec's find on large trees
        base = prefix_folder(prefix)
        top = os.path.join(self.root, *base.split("/")) if base else self.root
        out: builtins.list[str] = []
        for dirpath, dirnames, filenames in os.walk(top):
            rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            rel = "" if rel == "." else rel + "/"
            dirnames[:] = [
                d for d in dirnames
                if (rel + d + "/").startswith(prefix) or prefix.startswith(rel + d + "/")
            ]
            out.extend(
                rel + f for f in filenames if not f.startswith(".tmp-") and (rel + f).startswith(prefix)
            )
        return sorted(out)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class MemoryStore(FsspecStore):
    """FsspecStore on fsspec's process-global memory filesystem. A lock makes put and
    put_if_absent atomic between threads (the memory filesystem is one process's)."""

    _lock = threading.Lock()

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        path = self._path(key)
        with self._lock:
            self.fs.pipe_file(path, bytes(data))

    def put_if_absent(self, key: str, data: bytes | bytearray | memoryview) -> bool:
        path = self._path(key)
        with self._lock:
            if self.fs.exists(path):
                return False
            self.fs.pipe_file(path, bytes(data))
        return True
