"""Checking a registered version end to end, and exporting it as a plain verifiable folder.

``read_version`` is the registry's trusted read: the signature is checked over the exact
manifest bytes before anything the manifest names is read, then every field is checked, then
the manifest must say it is the version it is stored as (a signed manifest copied into another
version's folder is refused). ``verify_version`` adds the model type and every blob;
``export_version`` writes ``manifest.json``, ``manifest.sig`` (when signed), one blob per
distinct tensor under ``blobs/sha256/`` and the attachments -- the layout :func:`modelmgmt.load`
reads, so ``mm.load(folder, trusted_keys=[...])`` loads it back verified.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from typing import Any

import attrs

from modelmgmt.errors import ConflictError, IntegrityError, InvalidArgumentError, NotFoundError
from modelmgmt.registry import artifact, layout
from modelmgmt.registry.signing import SIGNATURE, Trust
from modelmgmt.registry.version import ModelVersion
from modelmgmt.stores import open_store
from modelmgmt.stores.base import Store

__all__ = ["VerifyResult", "read_version", "check_location", "verify_version", "export_version"]


@attrs.frozen(eq=False)
class VerifyResult:
    """What ``Registry.verify`` checked. A failed check raises IntegrityError instead, so a
    result in hand has ``ok`` True; ``signed_by`` is the trusted key's fingerprint or None.
    It equals the verified :class:`ModelVersion` (what ``verify`` returned before), and
    another result for the same version, signer and count."""

    ok: bool
    signed_by: str | None
    blobs_checked: int
    name: str
    version: int
    digest: str
    model_version: ModelVersion = attrs.field(repr=False)

    @property
    def ref(self) -> str:
        """The exact reference of the verified version, "name/N"."""
        return f"{self.name}/{self.version}"

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ModelVersion):
            return self.model_version == other
        if isinstance(other, VerifyResult):
            return (self.ok, self.signed_by, self.blobs_checked, self.model_version) == (
                other.ok, other.signed_by, other.blobs_checked, other.model_version)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.model_version)


def read_version(store: Store, trust: Trust, name: str, version: int) -> tuple[dict[str, Any], str, str | None]:
    """(manifest, its sha256, signer's fingerprint or None) of ``name/version``, fully checked."""
    where = f"{name}/{version} ({layout.version_key(name, version, artifact.MANIFEST)})"
    manifest, digest, signed_by = artifact.read_checked(
        store, layout.version_key(name, version, artifact.MANIFEST),
        layout.version_key(name, version, SIGNATURE), trust, where,
    )
    check_location(manifest, name, version)
    return manifest, digest, signed_by


def check_location(manifest: dict[str, Any], name: str, version: int) -> None:
    """IntegrityError unless the manifest says it is ``name/version`` (where it is stored)."""
    meta = manifest.get("metadata", {})
    if meta.get("name") != name or meta.get("version") != version or isinstance(meta.get("version"), bool):
        raise IntegrityError(
            f"manifest of {name}/{version}: fields 'metadata.name'/'metadata.version' say "
            f"{meta.get('name')!r}/{meta.get('version')!r}; a manifest copied from another version is refused"
        )


def verify_version(store: Store, manifest: dict[str, Any], digest: str, signed_by: str | None,
                   model_version: ModelVersion) -> VerifyResult:
    """Check that the manifest's type is loadable and every blob it names is intact."""
    artifact.resolve_model_type(manifest.get("model_type"))
    try:
        checked = artifact.verify_blobs(store, manifest)
    except IntegrityError as exc:
        raise IntegrityError(f"{model_version.ref}: {exc}") from None
    return VerifyResult(ok=True, signed_by=signed_by, blobs_checked=checked, name=model_version.name,
                        version=model_version.version, digest=digest, model_version=model_version)


def _copy(src: Store, dst: Store, key: str) -> None:
    """Copy one key between stores (a file copy between local folders, else get/put)."""
    a, b = src.local_path(key), dst.local_path(key)
    if a is not None and b is not None:
        os.makedirs(os.path.dirname(b), exist_ok=True)
        tmp = os.path.join(os.path.dirname(b), f".tmp-{uuid.uuid4().hex}")
        try:
            shutil.copyfile(a, tmp)
            os.replace(tmp, b)
        except FileNotFoundError:
            raise IntegrityError(f"{key} vanished while it was exported") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return
    dst.put(key, src.get(key))


def export_version(store: Store, name: str, version: int, manifest: dict[str, Any], digest: str,
                   attachments: list[str], destination: Any, **storage_options: Any) -> str:
    """Write a verified version as a plain folder (or any store URL); returns its URL.

    The manifest and its signature are copied byte for byte, so the folder verifies with the
    same keys; the manifest is written last, so a half-written export is never loadable.
    """
    if not isinstance(destination, (str, os.PathLike)):
        raise InvalidArgumentError(f"export destination must be a folder path or URL; got {type(destination).__name__}")
    dst = open_store(os.fspath(destination), **storage_options)
    if dst.list(""):
        raise ConflictError(f"export destination {dst.url!r} is not empty; export into a new or empty folder")
    for blob in sorted({info["sha256"] for info in manifest["tensors"].values()}):
        _copy(store, dst, artifact.blob_key(blob))
    artifact.verify_blobs(dst, manifest)  # what arrived is what the manifest names
    for file in attachments:
        dst.put(f"attachments/{file}", store.get(layout.attachment_key(name, version, file)))
    try:
        dst.put(SIGNATURE, store.get(layout.version_key(name, version, SIGNATURE)))
    except NotFoundError:
        pass
    data = store.get(layout.version_key(name, version, artifact.MANIFEST))
    if hashlib.sha256(data).hexdigest() != digest:
        raise IntegrityError(f"the manifest of {name}/{version} changed while it was exported")
    dst.put(artifact.MANIFEST, data)
    return dst.url
