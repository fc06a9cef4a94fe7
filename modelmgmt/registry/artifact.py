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
from typing import Any

import numpy as np

from modelmgmt.errors import (
    IntegrityError,
    InvalidArgumentError,
    ModelmgmtError,
    NotFittedError,
    NotFoundError,
)
from modelmgmt.registry.blobs import (
    ALLOWED_KINDS,
    BLOB_PREFIX,
    blob_key,
    digest_of,
    hash_and_write,
    hash_tensors,
    is_large,
    prepare_tensors,
    read_tensors,
    write_blobs,
)

__all__ = [
    "FORMAT_VERSION",
    "BLOB_PREFIX",
    "MANIFEST",
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
    "read_tensors",
    "build_model",
    "to_jsonable",
    "utc_now",
    "save",
    "load",
]

FORMAT = "modelmgmt-artifact"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def utc_now() -> str:
    """The current time as UTC ISO 8601 with microseconds (sorts as text)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


# --- JSON -------------------------------------------------------------------------------
def to_jsonable(value: Any, what: str) -> Any:
    """``value`` with numpy scalars/arrays turned into plain JSON types; TypeError otherwise."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in ALLOWED_KINDS:
            raise InvalidArgumentError(f"{what} must be JSON-serialisable; got an array of dtype {value.dtype}")
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, what) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidArgumentError(f"{what} keys must be str; got {type(k).__name__} key {k!r}")
            out[k] = to_jsonable(v, f"{what}[{k!r}]")
        return out
    raise InvalidArgumentError(f"{what} must be JSON-serialisable (str, number, bool, None, list, dict); "
                    f"got {type(value).__name__}")


# --- model types ------------------------------------------------------------------------
class ModelTypeError(ModelmgmtError, TypeError):
    """A manifest names a model type that is unknown, not importable or not a Model subclass."""


def _model_base() -> type:
    from modelmgmt.models.base import Model

    return Model


def model_type_name(model: Any) -> str:
    """How a manifest names ``model``'s class: its registered type name, else "module:Class"."""
    Model = _model_base()
    if not isinstance(model, Model):
        raise InvalidArgumentError(f"expected a modelmgmt.Model instance; got {type(model).__name__}")
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
        raise InvalidArgumentError(
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
        raise ModelTypeError(f"manifest model_type must be a non-empty str; got {type_name!r}")
    if ":" in type_name:
        module, _, attr = type_name.partition(":")
        if not module or not attr or not all(p.isidentifier() for p in module.split(".") + attr.split(".")):
            raise ModelTypeError(f"manifest model_type {type_name!r} is not a 'module:Class' import path")
        try:
            cls = _import_path(type_name)
        except Exception as exc:
            raise ModelTypeError(
                f"manifest model_type {type_name!r} cannot be imported: {type(exc).__name__}: {exc}"
            ) from None
    else:
        from modelmgmt import plugin_manager

        try:
            cls = plugin_manager.get_model_type(type_name)
        except NotFoundError as exc:
            raise ModelTypeError(f"manifest names an unknown model type: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ModelTypeError(
            f"manifest model_type {type_name!r} is {cls!r}, not a subclass of modelmgmt.Model; "
            "refusing to load it"
        )
    return cls


# --- manifests --------------------------------------------------------------------------
def build_manifest(model: Any, table: dict[str, dict[str, Any]], metadata: dict[str, Any]) -> dict[str, Any]:
    """The manifest dict for ``model`` with tensor ``table`` and JSON-able ``metadata``."""
    from modelmgmt import __version__

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
    if dtype is None or dtype.kind not in ALLOWED_KINDS or dtype.fields is not None or dtype.hasobject:
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
        raise InvalidArgumentError(f"save() expects a modelmgmt.Model; got {type(model).__name__}")
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
