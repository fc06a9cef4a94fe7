"""ModelVersion: the immutable record of one registered version, read from its manifest."""

from __future__ import annotations

from typing import Any

import attrs

from modelmgmt.viz import version_html

__all__ = ["ModelVersion"]


@attrs.frozen
class ModelVersion:
    """One registered version of a model: number, manifest digest, metadata and lineage.

    ``digest`` is the sha256 of the version's manifest, which itself lists the sha256 of every
    tensor, so equal digests mean byte-identical versions. Hashable (by its scalar fields), so
    versions can be set members and dict keys.
    """

    name: str
    version: int
    digest: str
    created_at: str
    params: dict[str, Any] = attrs.field(factory=dict, hash=False)
    metrics: dict[str, float] = attrs.field(factory=dict, hash=False)
    tags: dict[str, Any] = attrs.field(factory=dict, hash=False)
    run_id: str | None = None
    description: str = ""
    model_type: str = ""
    input_signature: dict[str, Any] | None = attrs.field(default=None, hash=False)
    tensors: dict[str, dict[str, Any]] = attrs.field(factory=dict, repr=False, hash=False)

    @property
    def ref(self) -> str:
        """The exact reference of this version, "name/N"."""
        return f"{self.name}/{self.version}"

    @property
    def size(self) -> int:
        """Total bytes of the version's tensors."""
        return sum(int(t["nbytes"]) for t in self.tensors.values())

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], digest: str) -> "ModelVersion":
        """Build the record from a parsed version manifest."""
        meta = manifest.get("metadata", {})
        return cls(
            name=meta["name"],
            version=int(meta["version"]),
            digest=digest,
            created_at=meta.get("created_at", ""),
            params=dict(meta.get("params") or {}),
            metrics=dict(meta.get("metrics") or {}),
            tags=dict(meta.get("tags") or {}),
            run_id=meta.get("run_id"),
            description=meta.get("description", ""),
            model_type=manifest.get("model_type", ""),
            input_signature=meta.get("input_signature"),
            tensors=dict(manifest.get("tensors", {})),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field (for the CLI and reports)."""
        return attrs.asdict(self)

    def _repr_html_(self) -> str:
        """A card of facts, metrics, params, tags and tensors, for notebooks."""
        return version_html(self)
