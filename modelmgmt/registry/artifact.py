"""The artifact format: ``manifest.json`` plus content-addressed tensor blobs, never pickle.

A saved model is a JSON manifest (format version, model type, config, a table of tensors
with dtype/shape/byte length/sha256, and metadata) and one blob per distinct tensor at
``blobs/sha256/<hex>``, holding the tensor's raw little-endian C-order bytes. Loading reads
bytes with an explicit dtype (``np.memmap``/``readinto``), so no byte is ever unpickled, and
the model class is a *registered* model type (:mod:`modelmgmt.model_types`): a
manifest never causes an import. Optionally ``manifest.sig`` beside the manifest signs its
exact bytes (:mod:`modelmgmt.registry.signing`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import re
from typing import Any

import numpy as np

from modelmgmt import __version__, model_types
from modelmgmt.errors import (
    IntegrityError,
    InvalidArgumentError,
    ModelTypeError,
    NotFittedError,
    NotFoundError,
)
from modelmgmt.model_types import model_type_name
from modelmgmt.models.base import Model
from modelmgmt.registry.blobs import (
    ALLOWED_KINDS,
    BLOB_PREFIX,
    blob_key,
    check_dtype,
    digest_of,
    hash_and_write,
    hash_tensors,
    is_large,
    prepare_tensors,
    read_tensors,
    verify_blobs,
    write_blobs,
)
from modelmgmt.registry.signing import SIGNATURE, Trust
from modelmgmt.stores import open_store
from modelmgmt.stores.base import Store

__all__ = [
    "FORMAT_VERSION",
    "BLOB_PREFIX",
    "MANIFEST",
    "SIGNATURE",
    "MAX_MANIFEST_BYTES",
    "MAX_JSON_DEPTH",
    "blob_key",
    "model_type_name",
    "resolve_model_type",
    "ModelTypeError",
    "prepare_tensors",
    "digest_of",
    "is_large",
    "hash_tensors",
    "write_blobs",
    "hash_and_write",
    "build_manifest",
    "dump_manifest",
    "parse_manifest",
    "read_checked",
    "read_tensors",
    "verify_blobs",
    "build_model",
    "to_jsonable",
    "utc_now",
    "save",
    "load",
]

FORMAT = "modelmgmt-artifact"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 64 << 20  # a manifest lists tensors and a config, never tensor data
MAX_JSON_DEPTH = 64
MAX_NDIM = 32  # numpy's own limit is 64
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')  # JSON strings, skipped when measuring depth


def resolve_model_type(name: Any, what: str = "model_type") -> type[Model]:
    """The registered Model class a manifest's ``model_type`` names (see :mod:`modelmgmt.model_types`)."""
    return model_types.resolve_model_type(name, (Model,), what)


def utc_now() -> str:
    """The current time as UTC ISO 8601 with microseconds (sorts as text)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


# --- JSON -------------------------------------------------------------------------------
def to_jsonable(value: Any, what: str, _depth: int = 0) -> Any:
    """``value`` with numpy scalars/arrays turned into plain JSON types; InvalidArgumentError for
    anything else, and for nesting deeper than a manifest may hold (cycles included)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if _depth >= MAX_JSON_DEPTH - 8:  # the manifest wraps configs and metadata a few levels deep
        raise InvalidArgumentError(f"{what} nests more than {MAX_JSON_DEPTH - 8} levels deep (or refers to itself)")
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in ALLOWED_KINDS:
            raise InvalidArgumentError(f"{what} must be JSON-serialisable; got an array of dtype {value.dtype}")
        if value.ndim >= MAX_JSON_DEPTH - 8 - _depth:
            raise InvalidArgumentError(f"{what} nests more than {MAX_JSON_DEPTH - 8} levels deep")
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, what, _depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidArgumentError(f"{what} keys must be str; got {type(k).__name__} key {k!r}")
            out[k] = to_jsonable(v, f"{what}[{k!r}]", _depth + 1)
        return out
    raise InvalidArgumentError(f"{what} must be JSON-serialisable (str, number, bool, None, list, dict); "
                               f"got {type(value).__name__}")


# --- manifests --------------------------------------------------------------------------
def build_manifest(model: Any, table: dict[str, dict[str, Any]], metadata: dict[str, Any]) -> dict[str, Any]:
    """The manifest dict for ``model`` with tensor ``table`` and JSON-able ``metadata``."""
    config = to_jsonable(model.config, "model.config")
    if not isinstance(config, dict):
        raise InvalidArgumentError(f"model.config must be a dict; got {type(model.config).__name__}")
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


def _json_depth(data: bytes) -> int:
    """How deeply a JSON text nests (strings skipped), found without parsing it."""
    text = np.frombuffer(_STRINGS.sub(b'""', data), dtype=np.uint8)
    marks = text[(text == 0x5B) | (text == 0x7B) | (text == 0x5D) | (text == 0x7D)]
    if not marks.size:
        return 0
    steps = np.where((marks == 0x5B) | (marks == 0x7B), 1, -1).astype(np.int64)
    return int(np.cumsum(steps).max())


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise IntegrityError(f"key {twice!r} appears twice in one object (readers could disagree on its value)")
    return out


def _field(where: str, field: str, problem: str) -> IntegrityError:
    return IntegrityError(f"manifest {where}: field {field!r} {problem}")


_METADATA_TYPES: dict[str, Any] = {
    "name": str, "version": int, "created_at": str, "description": str, "run_id": (str, type(None)),
    "params": dict, "metrics": dict, "tags": dict, "input_signature": (dict, type(None)),
}


def parse_manifest(data: bytes, where: str) -> dict[str, Any]:
    """Decode and check every field of a manifest; IntegrityError naming the field otherwise.

    Size and nesting are bounded before the JSON is parsed (no RecursionError, no huge
    allocation), keys must be unique, dtypes come from an allow-list and every tensor's
    shape, dtype and byte length must agree.
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise IntegrityError(f"manifest {where} is {len(data)} bytes; manifests are at most {MAX_MANIFEST_BYTES}")
    depth = _json_depth(bytes(data))
    if depth > MAX_JSON_DEPTH:
        raise IntegrityError(f"manifest {where} nests {depth} levels deep; at most {MAX_JSON_DEPTH} are allowed")
    try:
        manifest = json.loads(bytes(data).decode("utf-8"), object_pairs_hook=_unique_keys)
    except IntegrityError as exc:
        raise IntegrityError(f"manifest {where}: {exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise IntegrityError(f"manifest {where} is not valid JSON: {type(exc).__name__}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IntegrityError(f"{where} is not a modelmgmt manifest (field 'format' is not {FORMAT!r})")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _field(where, "format_version", f"must be an int >= 1; got {version!r}")
    if version > FORMAT_VERSION:
        raise IntegrityError(
            f"manifest {where} has format_version {version!r}; this modelmgmt reads up to "
            f"{FORMAT_VERSION} (upgrade modelmgmt)"
        )
    if not isinstance(manifest.get("model_type"), str) or not manifest["model_type"]:
        raise ModelTypeError(f"manifest {where}: field 'model_type' must be a non-empty str; "
                             f"got {manifest.get('model_type')!r}")
    if not isinstance(manifest.get("config"), dict):
        raise _field(where, "config", f"must be an object; got {type(manifest.get('config')).__name__}")
    tensors = manifest.get("tensors")
    if not isinstance(tensors, dict):
        raise _field(where, "tensors", f"must be an object; got {type(tensors).__name__}")
    for name, info in tensors.items():
        _check_tensor_info(name, info, where)
    metadata = manifest.get("metadata", {})
    if not isinstance(metadata, dict):
        raise _field(where, "metadata", "must be an object")
    for field, types in _METADATA_TYPES.items():
        if field in metadata and not isinstance(metadata[field], types) or isinstance(metadata.get(field), bool):
            raise _field(where, f"metadata.{field}", f"has the wrong type ({type(metadata[field]).__name__})")
    return manifest


def _check_tensor_info(name: str, info: Any, where: str) -> np.dtype:
    field = f"tensors.{name}"
    if not isinstance(info, dict):
        raise _field(where, field, "must be an object")
    dtype = check_dtype(info.get("dtype"), f"manifest {where}: field '{field}.dtype' (tensor {name!r} has dtype)")
    shape = info.get("shape")
    if (not isinstance(shape, list) or len(shape) > MAX_NDIM
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
        raise _field(where, f"{field}.shape", f"must be a list of at most {MAX_NDIM} ints >= 0; got {shape!r}")
    nbytes = info.get("nbytes")
    expected = math.prod(shape) * dtype.itemsize
    if not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes != expected:
        raise _field(
            where, f"{field}.nbytes",
            f"says tensor {name!r} has {nbytes!r} bytes but dtype {dtype.str} and shape {tuple(shape)} need {expected}",
        )
    try:
        blob_key(info.get("sha256"))
    except IntegrityError as exc:
        raise _field(where, f"{field}.sha256", str(exc)) from None
    return dtype


def build_model(manifest: dict[str, Any], params: dict[str, np.ndarray]) -> Any:
    """Rebuild the model a checked manifest describes: its type must be registered and concrete,
    and a config its class cannot build from is an IntegrityError (never another exception)."""
    cls = resolve_model_type(manifest.get("model_type"))
    try:
        model = cls.from_config(manifest["config"], params)
    except IntegrityError:
        raise
    except Exception as exc:
        raise IntegrityError(
            f"manifest field 'config' does not describe a {manifest['model_type']}: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(model, cls):
        raise IntegrityError(f"{cls.__qualname__}.from_config returned {type(model).__name__}, not a "
                             f"{cls.__qualname__}; refusing it")
    return model


def read_checked(store: Store, manifest_key: str, signature_key: str, trust: Trust,
                 where: str) -> tuple[dict[str, Any], str, str | None]:
    """Read a manifest, check its signature (before anything it names is read), then its fields.

    Returns (manifest, its sha256, fingerprint of the trusted key that signed it or None);
    NotFoundError when the manifest is absent, IntegrityError for anything else.
    """
    data = store.get(manifest_key)
    signature = None
    if trust.checks:
        try:
            signature = store.get(signature_key)
        except NotFoundError:
            signature = None
    signed_by = trust.check(data, signature, where)
    return parse_manifest(data, where), hashlib.sha256(data).hexdigest(), signed_by


# --- single artifacts -------------------------------------------------------------------
def save(model: Any, path_or_url: Any, *, signing_key: Any = None, **storage_options: Any) -> str:
    """Save one model as an artifact (``manifest.json`` + ``blobs/``) at a path or URL.

    Returns the manifest's sha256. No pickle is involved; ``load`` reads it back. With
    ``signing_key`` (a PEM private key path) ``manifest.sig`` signs the manifest.
    """
    if not isinstance(model, Model):
        raise InvalidArgumentError(f"save() expects a modelmgmt.Model; got {type(model).__name__}")
    if not model.is_fitted:
        raise NotFittedError(f"{type(model).__name__} is not fitted; fit it before saving")
    trust = Trust(signing_key=signing_key)
    store = open_store(path_or_url, **storage_options)
    manifest = build_manifest(model, {}, {})  # checks config and class before any write
    arrays = prepare_tensors(model.params)
    if is_large(arrays):
        manifest["tensors"] = hash_and_write(store, arrays, lambda digest: None)
    else:
        manifest["tensors"], arrays = hash_tensors(arrays)
        write_blobs(store, manifest["tensors"], arrays)
    data = dump_manifest(manifest)
    if trust.signs:
        store.put(SIGNATURE, trust.sign(data))
    store.put(MANIFEST, data)  # last: the artifact is complete once this exists
    return hashlib.sha256(data).hexdigest()


def load(path_or_url: Any, verify: bool = True, *, trusted_keys: Any = None, require_signature: bool = False,
         **storage_options: Any) -> Any:
    """Load a model saved with :func:`save` (or a version written by ``Registry.export``).

    ``verify`` checks every blob's sha256; ``trusted_keys`` (PEM public key paths) check the
    signature, and ``require_signature`` refuses an unsigned or untrusted artifact.
    """
    trust = Trust(trusted_keys=trusted_keys, require_signature=require_signature)
    store = open_store(path_or_url, **storage_options)
    where = f"{store.url}/{MANIFEST}"
    try:
        manifest, _, _ = read_checked(store, MANIFEST, SIGNATURE, trust, where)
    except NotFoundError:
        raise NotFoundError(f"no artifact at {store.url!r}: {MANIFEST} is missing") from None
    resolve_model_type(manifest.get("model_type"))  # refuse bad types before reading blobs
    return build_model(manifest, read_tensors(store, manifest, verify=verify))
