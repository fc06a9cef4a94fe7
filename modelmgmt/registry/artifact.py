"""The artifact format: ``manifest.json`` plus content-addressed tensor blobs, never pickle.

A saved model is a JSON manifest (format version, model type, config, a table of tensors
with dtype/shape/byte length/sha256, and metadata) and one blob per distinct tensor at
``blobs/sha256/<hex>``, holding the tensor's raw little-endian C-order bytes. Loading reads
bytes with an explicit dtype (``np.memmap``/``readinto``), so no byte is ever unpickled, and
the model class is either a registered model type name or an importable subclass of
:class:`modelmgmt.Model` (checked before anything is built).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import json
import math
import os
import sys
import threading
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from modelmgmt.errors import IntegrityError, ModelmgmtError, NotFittedError, NotFoundError
from modelmgmt.stores.base import Store

__all__ = [
    "FORMAT_VERSION",
    "BLOB_PREFIX",
    "MANIFEST",
    "blob_key",
    "model_type_name",
    "resolve_model_type",
    "prepare_tensors",
    "digest_of",
    "hash_tensors",
    "write_blobs",
    "hash_and_write",
    "build_manifest",
    "dump_manifest",
    "parse_manifest",
    "read_tensors",
    "build_model",
    "to_jsonable",
    "utc_now",
    "save",
    "load",
]

FORMAT = "modelmgmt-artifact"
FORMAT_VERSION = 1
BLOB_PREFIX = "blobs/sha256/"
MANIFEST = "manifest.json"
_ALLOWED_KINDS = "biufc"  # bool, signed/unsigned int, float, complex: plain bytes only
_HEX = frozenset("0123456789abcdef")
_WORKERS = max(1, min(4, os.cpu_count() or 1))
_CHUNK = 1 << 20  # bytes hashed and written at a time when streaming a blob


def utc_now() -> str:
    """The current time as UTC ISO 8601 with microseconds (sorts as text)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def blob_key(digest: str) -> str:
    """The store key of the blob whose sha256 is ``digest``."""
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
        raise IntegrityError(f"a blob digest must be 64 lowercase hex characters; got {digest!r}")
    return BLOB_PREFIX + digest


# --- JSON -------------------------------------------------------------------------------
def to_jsonable(value: Any, what: str) -> Any:
    """``value`` with numpy scalars/arrays turned into plain JSON types; TypeError otherwise."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"{what} must be JSON-serialisable; got an array of dtype {value.dtype}")
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, what) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{what} keys must be str; got {type(k).__name__} key {k!r}")
            out[k] = to_jsonable(v, f"{what}[{k!r}]")
        return out
    raise TypeError(f"{what} must be JSON-serialisable (str, number, bool, None, list, dict); "
                    f"got {type(value).__name__}")


# --- model types ------------------------------------------------------------------------
def _model_base() -> type:
    from modelmgmt.models.base import Model

    return Model


def model_type_name(model: Any) -> str:
    """How a manifest names ``model``'s class: its registered type name, else "module:Class"."""
    Model = _model_base()
    if not isinstance(model, Model):
        raise TypeError(f"expected a modelmgmt.Model instance; got {type(model).__name__}")
    cls = type(model)
    from modelmgmt import plugin_manager

    if cls.__name__ in plugin_manager.model_types():
        try:
            if plugin_manager.get_model_type(cls.__name__) is cls:
                return cls.__name__
        except ModelmgmtError:
            pass
    path = f"{cls.__module__}:{cls.__qualname__}"
    try:
        found = _import_path(path)
    except Exception:
        found = None
    if found is not cls:
        raise TypeError(
            f"{cls.__name__} cannot be saved: its class is not importable as {path!r}. Define it at "
            "module top level, or register it with the modelmgmt_register_model_types hook"
        )
    return path


def _import_path(path: str) -> Any:
    module, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def resolve_model_type(type_name: Any) -> type:
    """The Model subclass a manifest names; anything that is not one is refused."""
    Model = _model_base()
    if not isinstance(type_name, str) or not type_name:
        raise ModelmgmtError(f"manifest model_type must be a non-empty str; got {type_name!r}")
    if ":" in type_name:
        module, _, attr = type_name.partition(":")
        if not module or not attr or not all(p.isidentifier() for p in module.split(".") + attr.split(".")):
            raise ModelmgmtError(f"manifest model_type {type_name!r} is not a 'module:Class' import path")
        try:
            cls = _import_path(type_name)
        except Exception as exc:
            raise ModelmgmtError(
                f"manifest model_type {type_name!r} cannot be imported: {type(exc).__name__}: {exc}"
            ) from None
    else:
        from modelmgmt import plugin_manager

        try:
            cls = plugin_manager.get_model_type(type_name)
        except NotFoundError as exc:
            raise ModelmgmtError(f"manifest names an unknown model type: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ModelmgmtError(
            f"manifest model_type {type_name!r} is {cls!r}, not a subclass of modelmgmt.Model; "
            "refusing to load it"
        )
    return cls


# --- tensors ----------------------------------------------------------------------------
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
            import tempfile

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


def _as_le_contiguous(name: str, value: Any) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"model parameter {name!r} must be a numpy array; got {type(value).__name__}")
    if value.dtype.kind not in _ALLOWED_KINDS or value.dtype.fields is not None:
        raise TypeError(
            f"model parameter {name!r} has dtype {value.dtype}; only bool, integer, float and "
            "complex arrays can be saved (object and structured dtypes could hide pickles)"
        )
    if value.dtype.byteorder == ">" or (value.dtype.byteorder == "=" and sys.byteorder == "big"):
        value = value.astype(value.dtype.newbyteorder("<"))  # the format is little-endian
    return value if value.flags.c_contiguous else value.copy(order="C")


def prepare_tensors(params: Any) -> dict[str, np.ndarray]:
    """Check a model's params and return them as little-endian C-order arrays (no hashing)."""
    if not isinstance(params, dict):
        raise TypeError(f"model.params must be a dict of arrays; got {type(params).__name__}")
    arrays: dict[str, np.ndarray] = {}
    for name, value in params.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"model parameter names must be non-empty str; got {name!r}")
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
    return memoryview(arr.reshape(-1).view(np.uint8)) if arr.size else memoryview(b"")


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
    from modelmgmt.stores.fsspec_store import LocalStore

    if not isinstance(store, LocalStore):
        return None
    path = store.local_path(BLOB_PREFIX + "0" * 64)
    return os.path.dirname(path) if path else None


def _stream_to_blob(folder: str, arr: np.ndarray, announce: Any, skipped: set[str] | None) -> str:
    """Hash and write a tensor in one pass over its memory (each chunk hashed while it is hot
    in cache) into a temp file, then link it to its digest's name (fails if present)."""
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{uuid.uuid4().hex}")
    h, view = hashlib.sha256(), _bytes_of(arr)
    try:
        with open(tmp, "wb", buffering=0) as f:
            for start in range(0, len(view), _CHUNK):
                chunk = view[start:start + _CHUNK]
                h.update(chunk)
                while chunk:
                    chunk = chunk[f.write(chunk):]
        digest = h.hexdigest()
        announce(digest)  # before the blob becomes visible under its name
        try:
            os.link(tmp, os.path.join(folder, digest))
        except FileExistsError:
            if skipped is not None:
                skipped.add(digest)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:  # pragma: no cover
            pass
    return digest


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


# --- manifests --------------------------------------------------------------------------
def build_manifest(model: Any, table: dict[str, dict[str, Any]], metadata: dict[str, Any]) -> dict[str, Any]:
    """The manifest dict for ``model`` with tensor ``table`` and JSON-able ``metadata``."""
    from modelmgmt import __version__

    config = to_jsonable(model.config, "model.config")
    if not isinstance(config, dict):
        raise TypeError(f"model.config must be a dict; got {type(model.config).__name__}")
    signature = to_jsonable(model.input_signature, "model.input_signature")
    meta = {"created_at": utc_now(), "input_signature": signature, **metadata}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "model_type": model_type_name(model),
        "config": config,
        "tensors": table,
        "metadata": meta,
    }


def dump_manifest(manifest: dict[str, Any]) -> bytes:
    """Canonical manifest bytes (sorted keys), whose sha256 is the version's digest."""
    return json.dumps(manifest, sort_keys=True, indent=1, allow_nan=True).encode("utf-8")


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """Decode and check a manifest's structure; IntegrityError when it is malformed."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"manifest {where} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IntegrityError(f"{where} is not a modelmgmt manifest (no 'format': {FORMAT!r})")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelmgmtError(
            f"manifest {where} has format_version {version!r}; this modelmgmt reads up to "
            f"{FORMAT_VERSION} (upgrade modelmgmt)"
        )
    tensors = manifest.get("tensors")
    if not isinstance(tensors, dict) or not isinstance(manifest.get("config"), dict):
        raise IntegrityError(f"manifest {where} lacks a 'tensors' or 'config' table")
    for name, info in tensors.items():
        _check_tensor_info(name, info, where)
    if not isinstance(manifest.get("metadata", {}), dict):
        raise IntegrityError(f"manifest {where} has a malformed 'metadata' entry")
    return manifest


def _check_tensor_info(name: str, info: Any, where: str) -> np.dtype:
    if not isinstance(info, dict):
        raise IntegrityError(f"manifest {where}: tensor {name!r} entry is not an object")
    try:
        dtype = np.dtype(info["dtype"]) if isinstance(info.get("dtype"), str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in _ALLOWED_KINDS or dtype.fields is not None or dtype.hasobject:
        raise IntegrityError(
            f"manifest {where}: tensor {name!r} has dtype {info.get('dtype')!r}; only bool, int, "
            "uint, float and complex dtypes are loadable (never object)"
        )
    shape = info.get("shape")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise IntegrityError(f"manifest {where}: tensor {name!r} has a malformed shape {shape!r}")
    expected = math.prod(shape) * dtype.itemsize
    if info.get("nbytes") != expected:
        raise IntegrityError(
            f"manifest {where}: tensor {name!r} says {info.get('nbytes')!r} bytes but dtype "
            f"{dtype.str} and shape {tuple(shape)} need {expected}"
        )
    blob_key(info.get("sha256"))
    return dtype


# --- reading ----------------------------------------------------------------------------
def _read_one(store: Store, name: str, info: dict[str, Any], verify: bool, mmap: bool) -> np.ndarray:
    dtype, shape, nbytes, digest = np.dtype(info["dtype"]), tuple(info["shape"]), info["nbytes"], info["sha256"]
    key = blob_key(digest)
    path = store.local_path(key) if mmap else None
    if path is not None and nbytes > 0 and shape:
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            raise NotFoundError(f"blob {key} of tensor {name!r} is missing from {store.url!r}") from None
        if size != nbytes:
            raise IntegrityError(
                f"blob {key} of tensor {name!r} holds {size} bytes; the manifest says {nbytes}"
            )
        arr = np.memmap(path, dtype=dtype, mode="c", shape=shape)
    else:
        arr = np.empty(shape, dtype=dtype)
        view = _bytes_of(arr)
        try:
            f = store.open(key)
        except NotFoundError:
            raise NotFoundError(f"blob {key} of tensor {name!r} is missing from {store.url!r}") from None
        with f:
            got = 0
            while got < nbytes:
                n = f.readinto(view[got:])
                if not n:
                    break
                got += n
            extra = f.read(1)
        if got != nbytes or extra:
            raise IntegrityError(
                f"blob {key} of tensor {name!r} holds {'more than ' if extra else ''}{got} bytes; "
                f"the manifest says {nbytes}"
            )
    if verify:
        actual = hashlib.sha256(_bytes_of(arr)).hexdigest()
        if actual != digest:
            raise IntegrityError(
                f"blob {key} of tensor {name!r} is damaged: its sha256 is {actual}, expected {digest}"
            )
        if isinstance(arr, np.memmap):
            _remember_mapping(arr, digest)
    return arr


def read_tensors(store: Store, manifest: dict[str, Any], *, verify: bool = True,
                 mmap: bool = True) -> dict[str, np.ndarray]:
    """The manifest's tensors from ``store``; memory-mapped (copy-on-write) on local disk."""
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


def build_model(manifest: dict[str, Any], params: dict[str, np.ndarray]) -> Any:
    """Rebuild the model a manifest describes (its class checked to be a Model first)."""
    cls = resolve_model_type(manifest.get("model_type"))
    return cls.from_config(manifest["config"], params)


# --- single artifacts -------------------------------------------------------------------
def save(model: Any, path_or_url: Any, **storage_options: Any) -> str:
    """Save one model as an artifact (``manifest.json`` + ``blobs/``) at a path or URL.

    Returns the manifest's sha256. No pickle is involved; ``load`` reads it back.
    """
    from modelmgmt.stores import open_store

    if not isinstance(model, _model_base()):
        raise TypeError(f"save() expects a modelmgmt.Model; got {type(model).__name__}")
    if not model.is_fitted:
        raise NotFittedError(f"{type(model).__name__} is not fitted; fit it before saving")
    store = open_store(path_or_url, **storage_options)
    manifest = build_manifest(model, {}, {})  # checks config and class before any write
    arrays = prepare_tensors(model.params)
    if is_large(arrays):
        manifest["tensors"] = hash_and_write(store, arrays, lambda digest: None)
    else:
        manifest["tensors"], arrays = hash_tensors(arrays)
        write_blobs(store, manifest["tensors"], arrays)
    data = dump_manifest(manifest)
    store.put(MANIFEST, data)  # last: the artifact is complete once this exists
    return hashlib.sha256(data).hexdigest()


def load(path_or_url: Any, verify: bool = True, **storage_options: Any) -> Any:
    """Load a model saved with :func:`save`; ``verify`` checks every blob's sha256."""
    from modelmgmt.stores import open_store

    store = open_store(path_or_url, **storage_options)
    try:
        data = store.get(MANIFEST)
    except NotFoundError:
        raise NotFoundError(f"no artifact at {store.url!r}: {MANIFEST} is missing") from None
    manifest = parse_manifest(data, f"{store.url}/{MANIFEST}")
    resolve_model_type(manifest.get("model_type"))  # refuse bad types before reading blobs
    return build_model(manifest, read_tensors(store, manifest, verify=verify))
