"""Tensor blobs: content-addressed storage of arrays as raw little-endian C-order bytes.

Each distinct tensor is stored once at ``blobs/sha256/<hex>``. Writing hashes the bytes
(several tensors at once on threads; on local disk each large tensor in one pass that hashes
and writes every chunk while it is hot in cache); reading uses an explicit dtype
(``np.memmap`` copy-on-write on local disk, ``readinto`` elsewhere), so nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
import uuid
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from modelmgmt.errors import IntegrityError, InvalidArgumentError, NotFoundError
from modelmgmt.registry import layout
from modelmgmt.stores.base import Store
from modelmgmt.stores.fsspec_store import LocalStore

__all__ = [
    "BLOB_PREFIX",
    "ALLOWED_KINDS",
    "DTYPES",
    "check_dtype",
    "blob_key",
    "prepare_tensors",
    "digest_of",
    "is_large",
    "hash_tensors",
    "write_blobs",
    "hash_and_write",
    "read_tensors",
    "verify_blobs",
]

BLOB_PREFIX = layout.BLOB_PREFIX
ALLOWED_KINDS = "biufc"  # bool, signed/unsigned int, float, complex: plain bytes only
#: the only dtypes a manifest may name: little-endian (or single-byte) plain numbers
DTYPES = frozenset({"|b1", "|i1", "|u1", "<i2", "<i4", "<i8", "<u2", "<u4", "<u8",
                    "<f2", "<f4", "<f8", "<c8", "<c16"})
_HEX = frozenset("0123456789abcdef")
_WORKERS = max(1, min(4, os.cpu_count() or 1))
_CHUNK = 1 << 20  # bytes hashed and written at a time when streaming a blob
_PARALLEL_HASH_BYTES = 16 << 20  # from this size a blob is hashed and written on two threads


def blob_key(digest: str) -> str:
    """The store key of the blob whose sha256 is ``digest``."""
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
        raise IntegrityError(f"a blob digest must be 64 lowercase hex characters; got {digest!r}")
    return layout.blob_key(digest)


# --- writing ----------------------------------------------------------------------------
# Arrays memory-mapped (copy-on-write) from verified blobs: id -> (ref, digest, address, nbytes).
# A pristine mapping still equals its blob, so re-registering it needs no re-hashing.
_MAPPED: dict[int, tuple[Any, str, int, int]] = {}
_MAPPED_LOCK = threading.Lock()


def _remember_mapping(arr: np.ndarray, digest: str) -> None:
    key = id(arr)

    def _forget(_ref: Any, key: int = key) -> None:
        with _MAPPED_LOCK:
            entry = _MAPPED.get(key)
            if entry is not None and entry[0] is _ref:
                del _MAPPED[key]

    with _MAPPED_LOCK:
        _MAPPED[key] = (weakref.ref(arr, _forget), digest, arr.ctypes.data, arr.nbytes)


def _pages_untouched(address: int, nbytes: int) -> bool:
    """True when no page of a private file mapping was written (Linux /proc/self/pagemap)."""
    page = os.sysconf("SC_PAGE_SIZE")
    first, last = address // page, (address + nbytes - 1) // page
    try:
        with open("/proc/self/pagemap", "rb") as f:
            f.seek(first * 8)
            raw = f.read((last - first + 1) * 8)
    except OSError:
        return False
    if len(raw) != (last - first + 1) * 8:
        return False
    entries = np.frombuffer(raw, dtype="<u8")
    present = (entries >> np.uint64(63)) & np.uint64(1)
    swapped = (entries >> np.uint64(62)) & np.uint64(1)
    file_page = (entries >> np.uint64(61)) & np.uint64(1)
    # a written copy-on-write page becomes anonymous: present (or swapped) and not file-backed
    return not bool(np.any(((present | swapped) == 1) & (file_page == 0)))


_PAGEMAP_OK: list[bool] = []


def _pagemap_works() -> bool:
    """Self-test, once per process: does pagemap tell a written copy-on-write page apart?"""
    if not _PAGEMAP_OK:
        ok = False
        try:
            page = os.sysconf("SC_PAGE_SIZE")
            with tempfile.TemporaryFile() as f:
                f.write(b"\0" * 4 * page)
                f.flush()
                probe = np.memmap(f, dtype=np.uint8, mode="c", shape=(4 * page,))
                int(probe.sum())  # fault every page in, unmodified
                clean = _pages_untouched(probe.ctypes.data, probe.nbytes)
                probe[page + 1] = 1
                ok = clean and not _pages_untouched(probe.ctypes.data, probe.nbytes)
                del probe
        except Exception:
            ok = False
        _PAGEMAP_OK.append(ok)
    return _PAGEMAP_OK[0]


def _known_digest(arr: np.ndarray) -> str | None:
    if not _MAPPED or not _pagemap_works():
        return None
    with _MAPPED_LOCK:
        entry = _MAPPED.get(id(arr))
    if entry is None or entry[0]() is not arr or arr.nbytes == 0:
        return None
    _, digest, address, nbytes = entry
    if arr.ctypes.data != address or arr.nbytes != nbytes:
        return None
    return digest if _pages_untouched(address, nbytes) else None


def check_dtype(dtype: Any, where: str) -> np.dtype:
    """The numpy dtype a manifest's dtype string names; IntegrityError unless it is on the
    allow-list (little-endian bool, int, uint, float16/32/64, complex64/128: never object)."""
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise IntegrityError(
            f"{where} is {dtype!r}; only plain little-endian numbers are loadable (never object): "
            f"{', '.join(sorted(DTYPES))}"
        )
    return np.dtype(dtype)


def _as_le_contiguous(name: str, value: Any) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise InvalidArgumentError(f"model parameter {name!r} must be a numpy array; got {type(value).__name__}")
    if value.dtype.kind not in ALLOWED_KINDS or value.dtype.fields is not None:
        raise InvalidArgumentError(
            f"model parameter {name!r} has dtype {value.dtype}; only bool, integer, float and "
            "complex arrays can be saved (object and structured dtypes could hide pickles)"
        )
    if value.dtype.byteorder == ">" or (value.dtype.byteorder == "=" and sys.byteorder == "big"):
        value = value.astype(value.dtype.newbyteorder("<"))  # the format is little-endian
    if value.dtype.str not in DTYPES:
        raise InvalidArgumentError(
            f"model parameter {name!r} has dtype {value.dtype}; the artifact format stores "
            f"{', '.join(sorted(DTYPES))} (extended precision is platform-dependent)"
        )
    return value if value.flags.c_contiguous else value.copy(order="C")


def prepare_tensors(params: Any) -> dict[str, np.ndarray]:
    """Check a model's params and return them as little-endian C-order arrays (no hashing)."""
    if not isinstance(params, dict):
        raise InvalidArgumentError(f"model.params must be a dict of arrays; got {type(params).__name__}")
    arrays: dict[str, np.ndarray] = {}
    for name, value in params.items():
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"model parameter names must be non-empty str; got {name!r}")
        arrays[name] = _as_le_contiguous(name, value)
    return arrays


def digest_of(arr: np.ndarray) -> str:
    """sha256 of an array's stored bytes (skipped for pristine verified memory maps)."""
    known = _known_digest(arr)
    if known is not None:
        return known
    return hashlib.sha256(_bytes_of(arr)).hexdigest()


def _info(arr: np.ndarray, digest: str) -> dict[str, Any]:
    return {"dtype": arr.dtype.str, "shape": list(arr.shape), "nbytes": int(arr.nbytes), "sha256": digest}


def is_large(arrays: dict[str, np.ndarray]) -> bool:
    """Whether tensors are worth threads (hashlib and file writes release the GIL)."""
    return len(arrays) > 1 and sum(a.nbytes for a in arrays.values()) > (8 << 20)


def hash_tensors(params: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """The tensor table (dtype, shape, nbytes, sha256 per name) and the arrays as they are stored."""
    arrays = prepare_tensors(params)
    names = list(arrays)
    if is_large(arrays):
        with ThreadPoolExecutor(_WORKERS) as pool:
            digests = list(pool.map(digest_of, (arrays[n] for n in names)))
    else:
        digests = [digest_of(arrays[n]) for n in names]
    return {n: _info(arrays[n], d) for n, d in zip(names, digests)}, arrays


def _bytes_of(arr: np.ndarray) -> memoryview:
    return memoryview(arr.reshape(-1).view(np.uint8)) if arr.size else memoryview(b"")  # type: ignore[arg-type]


def _put_blob(store: Store, digest: str, arr: np.ndarray, skipped: set[str] | None) -> int:
    key = blob_key(digest)
    if store.exists(key) or not store.put_if_absent(key, _bytes_of(arr)):
        if skipped is not None:
            skipped.add(digest)
        return 0
    return arr.nbytes


def write_blobs(store: Store, table: dict[str, dict[str, Any]], arrays: dict[str, np.ndarray],
                skipped: set[str] | None = None) -> int:
    """Write each distinct tensor once at ``blobs/sha256/<hex>``; blobs already present are
    skipped (their digests are added to ``skipped`` when given). Returns the bytes written."""
    todo: dict[str, np.ndarray] = {}
    for name, info in table.items():
        todo.setdefault(info["sha256"], arrays[name])
    if is_large(todo):
        with ThreadPoolExecutor(_WORKERS) as pool:
            return sum(pool.map(lambda item: _put_blob(store, item[0], item[1], skipped), todo.items()))
    return sum(_put_blob(store, d, a, skipped) for d, a in todo.items())


def _local_blob_dir(store: Store) -> str | None:
    """The blob folder of a local-disk store, where blobs can be streamed in one pass."""
    if not isinstance(store, LocalStore):
        return None
    path = store.local_path(BLOB_PREFIX + "0" * 64)
    return os.path.dirname(path) if path else None


def _sha256_hex(view: memoryview) -> str:
    h = hashlib.sha256()
    for start in range(0, len(view), _CHUNK):
        h.update(view[start:start + _CHUNK])  # releases the GIL for each chunk
    return h.hexdigest()


def _stream_to_blob(folder: str, arr: np.ndarray, announce: Any, skipped: set[str] | None) -> str:
    """Hash and write a tensor into a temp file, then link it to its digest's name (fails if
    present). A large tensor is hashed on a second thread while this one writes (both only
    read its memory); a small one is hashed chunk by chunk while each chunk is hot in cache."""
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{uuid.uuid4().hex}")
    view = _bytes_of(arr)
    hashing: Future[str] | None = None
    h = hashlib.sha256()
    if len(view) >= _PARALLEL_HASH_BYTES:
        hashing = Future()
        threading.Thread(target=_run_into, args=(hashing, _sha256_hex, view), daemon=True).start()
    try:
        # the file stays open until it is linked: gc never removes a temp file that is open
        with open(tmp, "wb", buffering=0) as f:
            for start in range(0, len(view), _CHUNK):
                chunk = view[start:start + _CHUNK]
                if hashing is None:
                    h.update(chunk)
                while chunk:
                    chunk = chunk[f.write(chunk):]
            digest = hashing.result() if hashing is not None else h.hexdigest()
            announce(digest)  # before the blob becomes visible under its name
            try:
                os.link(tmp, os.path.join(folder, digest))
            except FileExistsError:
                if skipped is not None:
                    skipped.add(digest)
    finally:
        if hashing is not None:
            hashing.exception()  # never leave the hashing thread reading freed memory
        try:
            os.unlink(tmp)
        except FileNotFoundError:  # pragma: no cover
            pass
    return digest


def _run_into(future: Future, fn: Any, *args: Any) -> None:
    """Run ``fn(*args)`` and put its result (or exception) into ``future``."""
    try:
        future.set_result(fn(*args))
    except BaseException as exc:  # pragma: no cover - hashing a memoryview does not fail
        future.set_exception(exc)


def hash_and_write(store: Store, arrays: dict[str, np.ndarray], announce: Any,
                   skipped: set[str] | None = None, likely_present: Any = ()) -> dict[str, dict[str, Any]]:
    """Hash and write tensors in one pipeline; returns the tensor table.

    ``announce(digest)`` runs before each blob becomes visible (the registry records the digest
    in its claim there, so gc never removes a blob that is being written). On local disk a
    tensor is hashed and written in a single pass, except pristine verified memory maps
    (digest known, nothing to hash) and, for fresh arrays, those named in ``likely_present``
    (same name, dtype and shape as in the previous version), which are hashed first so that
    nothing is written when their blob already exists.
    """
    lock = threading.Lock()
    seen: set[str] = set()
    folder = _local_blob_dir(store)

    def announce_once(digest: str) -> None:
        with lock:
            if digest not in seen:
                seen.add(digest)
                announce(digest)

    known = {name: _known_digest(arr) for name, arr in arrays.items()}
    # a model loaded from a registry: its pristine tensors are known, the others were changed
    from_registry = any(d is not None for d in known.values())

    def one(name: str) -> tuple[str, dict[str, Any]]:
        arr = arrays[name]
        if (folder is not None and known[name] is None and arr.nbytes >= _CHUNK
                and (from_registry or name not in likely_present)):
            digest = _stream_to_blob(folder, arr, announce_once, skipped)
        else:
            digest = known[name] or digest_of(arr)
            announce_once(digest)
            _put_blob(store, digest, arr, skipped)
        return name, _info(arr, digest)

    # biggest first, so the pipeline ends on small tensors; 2 threads per core: hash + write
    order = sorted(arrays, key=lambda n: -arrays[n].nbytes)
    with ThreadPoolExecutor(max(2, 2 * _WORKERS)) as pool:
        done = dict(pool.map(one, order))
    return {n: done[n] for n in arrays}


# --- reading ----------------------------------------------------------------------------
def _missing(key: str, name: str, store: Store) -> IntegrityError:
    return IntegrityError(f"blob {key} of tensor {name!r} is missing from {store.url!r}")


def _check_size(key: str, name: str, size: int, extra: bool, nbytes: int) -> None:
    if size != nbytes or extra:
        raise IntegrityError(
            f"blob {key} of tensor {name!r} holds {'more than ' if extra else ''}{size} bytes; "
            f"the manifest says {nbytes}"
        )


def _check_digest(key: str, name: str, actual: str, expected: str) -> None:
    """The one digest comparison (load and verify both end here)."""
    if actual != expected:
        raise IntegrityError(f"blob {key} of tensor {name!r} is damaged: its sha256 is {actual}, expected {expected}")


def _blob_size(f: Any) -> int | None:
    """The size of an open blob without reading it (None when the file cannot seek)."""
    try:
        size = f.seek(0, os.SEEK_END)
        f.seek(0)
    except (OSError, AttributeError, ValueError):
        return None
    return size if isinstance(size, int) else None


def _read_into(f: Any, view: memoryview) -> int:
    got = 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def _read_one(store: Store, name: str, info: dict[str, Any], verify: bool, mmap: bool) -> np.ndarray:
    dtype, shape, nbytes, digest = np.dtype(info["dtype"]), tuple(info["shape"]), info["nbytes"], info["sha256"]
    key = blob_key(digest)
    path = store.local_path(key) if mmap else None
    if path is not None and nbytes > 0 and shape:
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            raise _missing(key, name, store) from None
        _check_size(key, name, size, False, nbytes)
        arr: np.ndarray = np.memmap(path, dtype=dtype, mode="c", shape=shape)
    else:
        try:
            f = store.open(key)
        except NotFoundError:
            raise _missing(key, name, store) from None
        with f:
            size = _blob_size(f)
            if size is not None:
                _check_size(key, name, size, False, nbytes)  # before allocating what the manifest says
                arr = np.empty(shape, dtype=dtype)
                got = _read_into(f, _bytes_of(arr))
                _check_size(key, name, got, bool(f.read(1)), nbytes)
            else:  # cannot ask the size: read what is there, never more than the manifest says + 1
                buf = bytearray()
                while len(buf) <= nbytes:
                    chunk = f.read(min(_CHUNK, nbytes + 1 - len(buf)))
                    if not chunk:
                        break
                    buf += chunk
                _check_size(key, name, min(len(buf), nbytes), len(buf) > nbytes, nbytes)
                arr = np.frombuffer(buf, dtype=dtype).reshape(shape) if nbytes else np.empty(shape, dtype=dtype)
    if verify:
        _check_digest(key, name, hashlib.sha256(_bytes_of(arr)).hexdigest(), digest)
        if isinstance(arr, np.memmap):
            _remember_mapping(arr, digest)
    return arr


def read_tensors(store: Store, manifest: dict[str, Any], *, verify: bool = True,
                 mmap: bool = True) -> dict[str, np.ndarray]:
    """The manifest's tensors from ``store``; memory-mapped (copy-on-write) on local disk.

    A missing, short, long or (with ``verify``) damaged blob raises IntegrityError naming it;
    sizes are checked before anything the size of a tensor is allocated.
    """
    items = list(manifest["tensors"].items())
    total = sum(info["nbytes"] for _, info in items)

    def one(item: tuple[str, dict[str, Any]]) -> np.ndarray:
        return _read_one(store, item[0], item[1], verify, mmap)

    if len(items) > 1 and total > (8 << 20) and (verify or store.local_path(BLOB_PREFIX + "0" * 64) is None):
        with ThreadPoolExecutor(_WORKERS) as pool:
            arrays = list(pool.map(one, items))
    else:
        arrays = [one(item) for item in items]
    return {name: arr for (name, _), arr in zip(items, arrays)}


def _check_one(store: Store, name: str, info: dict[str, Any]) -> str:
    key = blob_key(info["sha256"])
    try:
        f = store.open(key)
    except NotFoundError:
        raise _missing(key, name, store) from None
    h, size = hashlib.sha256(), 0
    with f:
        known = _blob_size(f)
        if known is not None:
            _check_size(key, name, known, False, info["nbytes"])
        for chunk in iter(lambda: f.read(8 << 20), b""):
            h.update(chunk)
            size += len(chunk)
            if size > info["nbytes"]:
                break
    _check_size(key, name, min(size, info["nbytes"]), size > info["nbytes"], info["nbytes"])
    _check_digest(key, name, h.hexdigest(), info["sha256"])
    return info["sha256"]


def verify_blobs(store: Store, manifest: dict[str, Any]) -> int:
    """Stream every distinct blob a manifest names and check its size and sha256 (nothing the
    size of a tensor is held in memory); returns how many blobs were checked."""
    todo: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, info in manifest["tensors"].items():
        todo.setdefault(info["sha256"], (name, info))
    items = list(todo.values())
    if len(items) > 1 and sum(i["nbytes"] for _, i in items) > (8 << 20):
        with ThreadPoolExecutor(_WORKERS) as pool:
            list(pool.map(lambda item: _check_one(store, *item), items))
    else:
        for item in items:
            _check_one(store, *item)
    return len(items)
