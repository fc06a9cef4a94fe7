"""S3Store: the Store contract on S3 (and S3-compatible servers) through s3fs.

``put`` is one PUT (atomic on S3: readers see the old or the new object). ``put_if_absent`` is
a conditional PUT with ``If-None-Match: *`` (s3fs ``mode="create"``): the server creates the
object only when the key is free and answers 412 Precondition Failed otherwise, so exactly
one of many concurrent writers wins, and nobody sees a partial object. s3fs caches
directory listings, so every listing and existence check here drops that cache first:
other writers (threads, processes, machines) are always seen.
"""

from __future__ import annotations

import builtins
from typing import IO, Any

from modelmgmt.errors import ModelmgmtError
from modelmgmt.stores.fsspec_store import FsspecStore

__all__ = ["S3Store"]


class S3Store(FsspecStore):
    """FsspecStore for ``s3://bucket/prefix`` URLs with conditional-write put_if_absent.

    Credentials, region and endpoint come from the usual AWS environment variables
    (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL`` ...) or from storage_options passed to s3fs,
    e.g. ``client_kwargs={"endpoint_url": "http://127.0.0.1:9000"}``.
    """

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        path = self._path(key)
        self.fs.pipe_file(path, bytes(data))
        self.fs.invalidate_cache(path)

    def put_if_absent(self, key: str, data: bytes | bytearray | memoryview) -> bool:
        path = self._path(key)
        try:
            self.fs.pipe_file(path, bytes(data), mode="create")
        except FileExistsError:  # 412 Precondition Failed: someone else created it
            return False
        except (NotImplementedError, TypeError) as exc:  # pragma: no cover - very old s3fs
            raise ModelmgmtError(
                f"put_if_absent on {self.url!r} needs s3fs with conditional writes "
                f"(pipe_file(mode='create')); upgrade s3fs: {exc}"
            ) from exc
        finally:
            self.fs.invalidate_cache(path)
        return True

    def open(self, key: str) -> IO[bytes]:
        self.fs.invalidate_cache(self._path(key))
        return super().open(key)

    def exists(self, key: str) -> bool:
        path = self._path(key)
        self.fs.invalidate_cache(path)
        return self.fs.isfile(path)

    def delete(self, key: str) -> None:
        path = self._path(key)
        if not self.exists(key):  # S3 answers DELETE of a missing key with 204, not 404
            raise self._missing(key)
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            raise self._missing(key) from None
        finally:
            self.fs.invalidate_cache(path)

    def list(self, prefix: str = "") -> list[str]:
        self.fs.invalidate_cache(self.root)
        return super().list(prefix)

    def list_dirs(self, prefix: str) -> builtins.list[str]:
        self.fs.invalidate_cache(self.root)
        return super().list_dirs(prefix)


def make_s3_store(url: str, **storage_options: Any) -> S3Store:
    """Open an S3Store; storage_options go to ``s3fs.S3FileSystem``."""
    return S3Store(url, **storage_options)
