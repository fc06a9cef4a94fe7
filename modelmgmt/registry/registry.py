"""Registry: versioned models on any Store, with aliases, history, rollback, diff, verify, gc.

Store layout (every key relative to the registry's root)::

    blobs/sha256/<hex>                              tensor bytes, shared by all versions
    models/<name>/claimed                           hint: a recently claimed version number
    models/<name>/versions/<n>/claim.json           version number n taken (put-if-absent)
    models/<name>/versions/<n>/manifest.json        written last: the version is visible
    models/<name>/versions/<n>/deleted|aborted      markers (n is never reused)
    models/<name>/versions/<n>/attachments/<file>   files stored beside a version
    models/<name>/aliases/<alias>/<seq>.json        alias history, append-only
    runs/<experiment>/<run id>.json                 tracking runs
    deployments/<name>/<seq>.json                   deployment events, append-only
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Iterator

from modelmgmt._validation import validate_name
from modelmgmt.errors import (
    ConflictError,
    IntegrityError,
    InvalidArgumentError,
    NotFittedError,
    NotFoundError,
)
from modelmgmt.registry import artifact
from modelmgmt.registry.refs import (
    MODELS,
    Log,
    alias_prefix,
    check_version,
    parse_ref,
    replay_alias,
    version_key,
    version_prefix,
    writer_id,
)
from modelmgmt.registry.version import ModelVersion
from modelmgmt.stores.base import Store, validate_key

__all__ = ["Registry"]

CLAIM, MANIFEST, DELETED, ABORTED = "claim.json", "manifest.json", "deleted", "aborted"
HINT = "claimed"  # models/<name>/claimed: a recently claimed number, a lower bound of the top


def _clean_dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{what} must be a dict; got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError(f"{what} keys must be non-empty str; got {key!r}")
    return artifact.to_jsonable(value, what)


def _clean_metrics(value: Any) -> dict[str, float]:
    metrics = _clean_dict(value, "metrics")
    for key, v in metrics.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InvalidArgumentError(f"metrics[{key!r}] must be a number; got {type(v).__name__} {v!r}")
        metrics[key] = float(v)
    return metrics


class Registry:
    """Named, numbered model versions on a Store (a URL, a path, or a Store instance).

    >>> import modelmgmt as mm
    >>> reg = mm.Registry("memory://doctest-registry")
    >>> reg.models()
    []
    """

    def __init__(self, url_or_store: Any, **storage_options: Any) -> None:
        from modelmgmt.stores import open_store

        self.store: Store = open_store(url_or_store, **storage_options)
        self.url: str = self.store.url

    def __repr__(self) -> str:
        return f"Registry({self.url!r})"

    # --- helpers ---------------------------------------------------------------------
    def _numbers(self, name: str, leaf: str) -> list[int]:
        prefix = version_prefix(name)
        found = set()
        for key in self.store.list(prefix):
            number, _, rest = key[len(prefix):].partition("/")
            if rest == leaf and number.isdigit():
                found.add(int(number))
        return sorted(found)

    def _read_manifest(self, name: str, version: int) -> tuple[dict[str, Any], str]:
        key = version_key(name, version, MANIFEST)
        try:
            data = self.store.get(key)
        except NotFoundError:
            if not self._is_model(name):
                raise NotFoundError(f"no model named {name!r} in registry {self.url!r}") from None
            raise NotFoundError(f"model {name!r} has no version {version} in registry {self.url!r}") from None
        return artifact.parse_manifest(data, key), hashlib.sha256(data).hexdigest()

    def _has_version(self, name: str, version: int) -> bool:
        return self.store.exists(version_key(name, version, MANIFEST))

    def _is_model(self, name: str) -> bool:
        """Whether ``name`` has ever claimed a version (claims start at 1 and are never removed)."""
        try:
            validate_name(name)
        except (TypeError, ValueError):
            return False
        return self.store.exists(version_key(name, 1, CLAIM)) or bool(self.store.list(version_prefix(name)))

    def _resolve(self, ref: Any) -> tuple[str, int]:
        name, version, alias = parse_ref(ref, self._is_model)
        if alias is not None:
            target = self._alias_target(name, alias)
            if target is None:
                if not self._is_model(name):
                    raise NotFoundError(f"no model named {name!r} in registry {self.url!r}")
                raise NotFoundError(f"model {name!r} has no alias {alias!r}")
            return name, target
        if version is None:
            latest = self._latest(name)
            if latest is None:
                if self._is_model(name):
                    raise NotFoundError(f"model {name!r} has no visible version (all deleted or in flight)")
                raise NotFoundError(f"no model named {name!r} in registry {self.url!r}")
            return name, latest
        return name, version

    # --- register --------------------------------------------------------------------
    def register(self, name: str, model: Any, *, params: dict[str, Any] | None = None,
                 metrics: dict[str, float] | None = None, tags: dict[str, Any] | None = None,
                 description: str = "", run: Any = None) -> ModelVersion:
        """Store ``model`` as the next version of ``name``; visible only once complete."""
        from modelmgmt.models.base import Model

        validate_name(name, "model name")
        if not isinstance(model, Model):
            raise InvalidArgumentError(f"register() expects a modelmgmt.Model; got {type(model).__name__}")
        if not model.is_fitted:
            raise NotFittedError(f"{type(model).__name__} is not fitted; fit it before registering")
        if not isinstance(description, str):
            raise InvalidArgumentError(f"description must be a str; got {type(description).__name__}")
        run_id = getattr(run, "id", None) if run is not None else None
        if run is not None and not isinstance(run_id, str):
            raise InvalidArgumentError(f"run must be a tracking Run (from start_run); got {type(run).__name__}")
        metadata = {
            "name": name,
            "params": _clean_dict(params, "params"),
            "metrics": _clean_metrics(metrics),
            "tags": _clean_dict(tags, "tags"),
            "run_id": run_id,
            "description": description,
        }
        manifest = artifact.build_manifest(model, {}, metadata)  # checks config and class first
        arrays = artifact.prepare_tensors(model.params)
        reused: set[str] = set()
        pipeline = artifact.is_large(arrays)
        if pipeline:
            # claim first, then hash and write in one pipeline; each digest joins the claim
            # before its blob is written, so gc always sees what an in-flight writer uses
            version = self._claim(name, [])
        else:
            table, arrays = artifact.hash_tensors(arrays)
            version = self._claim(name, sorted({t["sha256"] for t in table.values()}))
        try:
            if pipeline:
                claim = ClaimUpdater(self, name, version)
                table = artifact.hash_and_write(self.store, arrays, claim.add, reused,
                                                self._unchanged_candidates(name, version, arrays))
            else:
                artifact.write_blobs(self.store, table, arrays, reused)
            missing = {d for d in reused if not self.store.exists(artifact.blob_key(d))}
            if missing:  # a concurrent gc removed a blob we meant to reuse: write it again
                artifact.write_blobs(self.store, {k: v for k, v in table.items() if v["sha256"] in missing},
                                     arrays)
            manifest["tensors"] = table
            manifest["metadata"]["version"] = version
            data = artifact.dump_manifest(manifest)
            self.store.put(version_key(name, version, MANIFEST), data)
        except BaseException:
            try:
                self.store.put(version_key(name, version, ABORTED), b"")
            except Exception:  # pragma: no cover - best effort; gc also handles dead writers
                pass
            raise
        mv = ModelVersion.from_manifest(manifest, hashlib.sha256(data).hexdigest())
        if run is not None and hasattr(run, "_registered"):
            run._registered(mv)
        return mv

    def _unchanged_candidates(self, name: str, version: int, arrays: dict[str, Any]) -> set[str]:
        """Tensor names whose dtype and shape match the previous version (probably unchanged)."""
        for n in range(version - 1, max(0, version - 4), -1):
            try:
                previous = json.loads(self.store.get(version_key(name, n, MANIFEST)))["tensors"]
            except (NotFoundError, ValueError, KeyError):
                continue
            return {
                t for t, arr in arrays.items()
                if t in previous and previous[t].get("dtype") == arr.dtype.str
                and previous[t].get("shape") == list(arr.shape)
            }
        return set()

    def _top_claim(self, name: str) -> int:
        """The highest claimed version number (0 when none). Claims are contiguous (each
        writer takes the first free number above a lower bound), so a hint plus a probe
        upward finds it in O(1) store calls instead of listing every version."""
        try:
            top = int(self.store.get(f"{MODELS}{name}/{HINT}"))
        except (NotFoundError, ValueError):
            claimed = self._numbers(name, CLAIM)
            return claimed[-1] if claimed else 0
        while self.store.exists(version_key(name, top + 1, CLAIM)):
            top += 1
        return top

    def _latest(self, name: str) -> int | None:
        """The newest visible version number, or None."""
        top = self._top_claim(name)
        for n in range(top, max(0, top - 16), -1):
            if self._has_version(name, n):
                return n
        numbers = self._numbers(name, MANIFEST) if top > 16 else []
        return numbers[-1] if numbers else None

    def _claim(self, name: str, digests: list[str]) -> int:
        version = self._top_claim(name) + 1
        data = _claim_body(digests)
        while not self.store.put_if_absent(version_key(name, version, CLAIM), data):
            version += 1
        self.store.put(f"{MODELS}{name}/{HINT}", str(version).encode())  # a lower bound only
        return version

    # --- reading -------------------------------------------------------------------------
    def get(self, ref: str) -> ModelVersion:
        """The version a reference names: "name" (latest), "name/3" or "name@alias"."""
        name, version = self._resolve(ref)
        manifest, digest = self._read_manifest(name, version)
        return ModelVersion.from_manifest(manifest, digest)

    def load(self, ref: str, verify: bool = True) -> Any:
        """The model a reference names, rebuilt without pickle; ``verify`` checks every blob."""
        name, version = self._resolve(ref)
        manifest, _ = self._read_manifest(name, version)
        artifact.resolve_model_type(manifest.get("model_type"))
        return artifact.build_model(manifest, artifact.read_tensors(self.store, manifest, verify=verify))

    def versions(self, name: str) -> list[ModelVersion]:
        """Every visible version of ``name``, ascending."""
        validate_name(name, "model name")
        if not self._is_model(name):
            raise NotFoundError(f"no model named {name!r} in registry {self.url!r}")

        def read(n: int) -> ModelVersion | None:
            try:
                manifest, digest = self._read_manifest(name, n)
            except NotFoundError:  # deleted meanwhile
                return None
            return ModelVersion.from_manifest(manifest, digest)

        numbers = self._numbers(name, MANIFEST)
        if len(numbers) > 32:  # object stores answer many small reads best in parallel
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(8) as pool:
                found = list(pool.map(read, numbers))
        else:
            found = [read(n) for n in numbers]
        return [v for v in found if v is not None]

    def models(self) -> list[str]:
        """Names of the models with at least one visible version, sorted."""
        names = set()
        for key in self.store.list(MODELS):
            parts = key[len(MODELS):].split("/")
            if len(parts) == 4 and parts[1] == "versions" and parts[3] == MANIFEST:
                names.add(parts[0])
        return sorted(names)

    # --- aliases ---------------------------------------------------------------------------
    def _alias_log(self, name: str, alias: str) -> Log:
        validate_name(name, "model name")
        validate_name(alias, "alias")
        return Log(self.store, alias_prefix(name, alias))

    def _alias_target(self, name: str, alias: str) -> int | None:
        stack = replay_alias(self._alias_log(name, alias).read(), lambda v: self._has_version(name, v))
        return stack[-1] if stack else None

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point ``name@alias`` at ``version`` (the previous target is kept for rollback)."""
        log = self._alias_log(name, alias)
        check_version(version)
        manifest, digest = self._read_manifest(name, version)
        log.append({"action": "set", "version": version})
        return ModelVersion.from_manifest(manifest, digest)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``name@alias`` (recorded in its history; setting it again starts afresh)."""
        log = self._alias_log(name, alias)
        exists = lambda v: self._has_version(name, v)  # noqa: E731

        def check(records: list[dict[str, Any]]) -> None:
            if not replay_alias(records, exists):
                raise NotFoundError(f"model {name!r} has no alias {alias!r}")

        log.append({"action": "remove"}, check)

    def aliases(self, name: str) -> dict[str, int]:
        """Every alias of ``name`` and the version it points at now."""
        validate_name(name, "model name")
        if not self._is_model(name):
            raise NotFoundError(f"no model named {name!r} in registry {self.url!r}")
        prefix = alias_prefix(name)
        names = sorted({key[len(prefix):].split("/", 1)[0] for key in self.store.list(prefix)})
        out = {}
        for alias in names:
            target = self._alias_target(name, alias)
            if target is not None:
                out[alias] = target
        return out

    def alias_history(self, name: str, alias: str) -> list[dict[str, Any]]:
        """The alias's records in order: action ("set"/"rollback"), version, time, writer."""
        records = self._alias_log(name, alias).read()
        if not records:
            raise NotFoundError(f"model {name!r} has no alias {alias!r}")
        return records

    def rollback(self, name: str, alias: str) -> ModelVersion:
        """Move ``name@alias`` back to where it pointed before its last move."""
        log = self._alias_log(name, alias)
        exists = lambda v: self._has_version(name, v)  # noqa: E731

        def check(records: list[dict[str, Any]]) -> None:
            if not records:
                raise NotFoundError(f"model {name!r} has no alias {alias!r}")
            after = replay_alias([*records, {"action": "rollback"}], exists)
            if not after:
                current = replay_alias(records, exists)
                raise ConflictError(
                    f"{name}@{alias} cannot roll back: it has no earlier target "
                    f"(it points at {current[-1] if current else 'nothing'})"
                )

        records = log.append({"action": "rollback"}, check)
        target = replay_alias(records, exists)[-1]
        return self.get(f"{name}/{target}")

    # --- deleting ------------------------------------------------------------------------
    def delete_version(self, name: str, version: int) -> None:
        """Hide a version for good (its number is never reused); refused while aliased."""
        validate_name(name, "model name")
        check_version(version)
        self._read_manifest(name, version)  # NotFoundError when absent
        pointing = sorted(a for a, v in self.aliases(name).items() if v == version)
        if pointing:
            raise ConflictError(
                f"cannot delete {name}/{version}: alias(es) {', '.join(pointing)} point at it; "
                "move them first (set_alias or rollback)"
            )
        self.store.put(version_key(name, version, DELETED), b"")
        self.store.delete(version_key(name, version, MANIFEST))

    # --- comparing and checking -------------------------------------------------------
    def diff(self, ref_a: str, ref_b: str) -> dict[str, Any]:
        """What changed from ``ref_a`` to ``ref_b``: config, params, metrics, tags, tensors."""
        (na, va), (nb, vb) = self._resolve(ref_a), self._resolve(ref_b)
        ma, da = self._read_manifest(na, va)
        mb, db = self._read_manifest(nb, vb)
        meta_a, meta_b = ma.get("metadata", {}), mb.get("metadata", {})
        ta, tb = ma["tensors"], mb["tensors"]
        changed = sorted(k for k in ta.keys() & tb.keys() if ta[k] != tb[k])
        return {
            "a": f"{na}/{va}",
            "b": f"{nb}/{vb}",
            "identical": da == db or _strip_meta(ma) == _strip_meta(mb),
            "model_type": _dict_diff({"model_type": ma.get("model_type")}, {"model_type": mb.get("model_type")}),
            "config": _dict_diff(ma["config"], mb["config"]),
            "params": _dict_diff(meta_a.get("params", {}), meta_b.get("params", {})),
            "metrics": _dict_diff(meta_a.get("metrics", {}), meta_b.get("metrics", {})),
            "tags": _dict_diff(meta_a.get("tags", {}), meta_b.get("tags", {})),
            "tensors": {
                "changed": changed,
                "added": sorted(tb.keys() - ta.keys()),
                "removed": sorted(ta.keys() - tb.keys()),
                "unchanged": sorted(k for k in ta.keys() & tb.keys() if ta[k] == tb[k]),
            },
        }

    def verify(self, ref: str) -> ModelVersion:
        """Check every blob of a version against its sha256; IntegrityError names a bad one."""
        name, version = self._resolve(ref)
        manifest, digest = self._read_manifest(name, version)
        for tensor, info in manifest["tensors"].items():
            key = artifact.blob_key(info["sha256"])
            try:
                with self.store.open(key) as f:
                    h, size = hashlib.sha256(), 0
                    for chunk in iter(lambda: f.read(8 << 20), b""):
                        h.update(chunk)
                        size += len(chunk)
            except NotFoundError:
                raise IntegrityError(f"{name}/{version}: blob {key} of tensor {tensor!r} is missing") from None
            if size != info["nbytes"] or h.hexdigest() != info["sha256"]:
                raise IntegrityError(
                    f"{name}/{version}: blob {key} of tensor {tensor!r} is damaged "
                    f"({size} bytes with sha256 {h.hexdigest()}; expected {info['nbytes']} bytes "
                    f"with sha256 {info['sha256']})"
                )
        return ModelVersion.from_manifest(manifest, digest)

    def gc(self, *, grace_period: float = 3600.0, dry_run: bool = False) -> list[str]:
        """Delete blobs no version references; returns their keys. See ``registry.gc``."""
        from modelmgmt.registry.gc import collect

        return collect(self, grace_period=grace_period, dry_run=dry_run)

    # --- attachments and deployment history ----------------------------------------------
    def _attachment_key(self, ref: str, name: str) -> str:
        model, version = self._resolve(ref)
        self._read_manifest(model, version)
        if not isinstance(name, str):
            raise InvalidArgumentError(f"attachment name must be a str; got {type(name).__name__}")
        try:
            validate_key(name)
        except ValueError as exc:
            raise InvalidArgumentError(f"invalid attachment name {name!r}: {exc}") from None
        return version_key(model, version, f"attachments/{name}")

    def attach(self, ref: str, name: str, data: bytes) -> None:
        """Store ``data`` as file ``name`` beside a version (reports, plots, notes)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise InvalidArgumentError(f"attachment data must be bytes; got {type(data).__name__}")
        self.store.put(self._attachment_key(ref, name), data)

    def attachment(self, ref: str, name: str) -> bytes:
        """The bytes of attachment ``name`` of a version (NotFoundError when absent)."""
        key = self._attachment_key(ref, name)
        try:
            return self.store.get(key)
        except NotFoundError:
            raise NotFoundError(f"{ref!r} has no attachment {name!r}") from None

    def attachments(self, ref: str) -> list[str]:
        """Names of a version's attachments, sorted."""
        model, version = self._resolve(ref)
        self._read_manifest(model, version)
        prefix = version_key(model, version, "attachments/")
        return [key[len(prefix):] for key in self.store.list(prefix)]

    def record_deployment(self, deployment_name: str, event: dict[str, Any]) -> None:
        """Append ``event`` (JSON-able dict) to a deployment's ordered history."""
        validate_name(deployment_name, "deployment name")
        if not isinstance(event, dict):
            raise InvalidArgumentError(f"event must be a dict; got {type(event).__name__}")
        Log(self.store, f"deployments/{deployment_name}/").append(
            {"event": artifact.to_jsonable(event, "event"), "recorded_at": artifact.utc_now()}
        )

    def deployment_history(self, deployment_name: str) -> list[dict[str, Any]]:
        """A deployment's events, oldest first ([] for an unknown deployment)."""
        validate_name(deployment_name, "deployment name")
        return [r["event"] for r in Log(self.store, f"deployments/{deployment_name}/").read()]

    # --- tracking ------------------------------------------------------------------------
    def start_run(self, experiment: str, params: dict[str, Any] | None = None,
                  tags: dict[str, Any] | None = None) -> Any:
        """A new tracking Run; use it as ``with reg.start_run("exp") as run:``."""
        from modelmgmt.registry.tracking import Run

        return Run._start(self, experiment, params=params, tags=tags)

    def runs(self, experiment: str) -> list[Any]:
        """The runs of ``experiment``, re-read from the store, oldest first."""
        from modelmgmt.registry.tracking import list_runs

        return list_runs(self, experiment)

    def get_run(self, run_id: str) -> Any:
        """The run with id ``run_id`` (NotFoundError when unknown)."""
        from modelmgmt.registry.tracking import find_run

        return find_run(self, run_id)

    def experiments(self) -> list[str]:
        """Names of the experiments that have runs, sorted."""
        return sorted({k.split("/")[1] for k in self.store.list("runs/") if k.count("/") == 2})

    def __iter__(self) -> Iterator[str]:
        return iter(self.models())


def _claim_body(digests: list[str]) -> bytes:
    body = {"created_at": artifact.utc_now(), "time": time.time(), "blobs": digests, **writer_id()}
    return json.dumps(body, sort_keys=True).encode()


class ClaimUpdater:
    """Adds blob digests to a version's claim (rewritten atomically) as a pipeline finds them."""

    def __init__(self, registry: Registry, name: str, version: int) -> None:
        self.store, self.key, self.digests = registry.store, version_key(name, version, CLAIM), []

    def add(self, digest: str) -> None:
        self.digests.append(digest)
        self.store.put(self.key, _claim_body(sorted(self.digests)))


def _strip_meta(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k not in ("metadata", "library_version")}


def _dict_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {
        "changed": {k: [a[k], b[k]] for k in sorted(a.keys() & b.keys()) if a[k] != b[k]},
        "added": {k: b[k] for k in sorted(b.keys() - a.keys())},
        "removed": {k: a[k] for k in sorted(a.keys() - b.keys())},
    }

