"""Registry: versioned models on any Store, with aliases, history, rollback, diff, verify, gc,
search and experiment tracking. The store layout is in ``registry.layout``; aliases live in
``registry.aliases``, deployment events in ``registry.deployments``, search in
``registry.search`` and ``registry.index``.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import attrs

from modelmgmt._validation import check_int, validate_name
from modelmgmt.errors import (
    ConflictError,
    IntegrityError,
    InvalidArgumentError,
    NotFittedError,
    NotFoundError,
)
from modelmgmt.models.base import Model
from modelmgmt.registry import artifact, layout
from modelmgmt.registry.aliases import AliasBook
from modelmgmt.registry.deployments import DeploymentHistory
from modelmgmt.registry.gc import collect
from modelmgmt.registry.index import VersionIndex
from modelmgmt.registry.layout import ABORTED, CLAIM, DELETED, MANIFEST, TAGS, version_key, version_prefix
from modelmgmt.registry.log import writer_id
from modelmgmt.registry.refs import check_version, parse_ref
from modelmgmt.registry.run_index import RunIndex
from modelmgmt.registry.search import compile_filter, compile_order, select
from modelmgmt.registry.signing import SIGNATURE, Trust
from modelmgmt.registry.tracking import Run, find_run, list_experiments, list_runs, record_summary, run_records
from modelmgmt.registry.trust import VerifyResult, check_location, export_version, read_version, verify_version
from modelmgmt.registry.version import ModelVersion
from modelmgmt.stores import open_store
from modelmgmt.stores.base import Store

__all__ = ["Registry"]


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

    def __init__(self, url_or_store: Any, *, signing_key: Any = None, trusted_keys: Any = None,
                 require_signature: bool = False, **storage_options: Any) -> None:
        #: signing and signature checking (docs/security.md): keys are read once, here
        self.trust = Trust(signing_key, trusted_keys, require_signature)
        self.store: Store = open_store(url_or_store, **storage_options)
        self.url: str = self.store.url
        self.alias_book = AliasBook(self.store, self._has_version)
        self.deployments = DeploymentHistory(self.store)
        self.index = VersionIndex(self)
        #: on local disk many small reads are fastest in one thread (no GIL contention)
        self._local = self.store.local_path(layout.MODELS + "x") is not None
        self.run_index = RunIndex(self.store, parallel=not self._local)

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
        manifest = artifact.parse_manifest(data, key)
        check_location(manifest, name, version)
        return manifest, hashlib.sha256(data).hexdigest()

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
                raise self.alias_book.missing(name, alias)
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
            if self.trust.signs:  # before the manifest: a visible signed version is never unsigned
                self.store.put(version_key(name, version, SIGNATURE), self.trust.sign(data))
            self.store.put(version_key(name, version, MANIFEST), data)
        except BaseException:
            try:
                self.store.put(version_key(name, version, ABORTED), b"")
            except Exception:  # pragma: no cover - best effort; gc also handles dead writers
                pass
            raise
        mv = ModelVersion.from_manifest(manifest, hashlib.sha256(data).hexdigest())
        if isinstance(run, Run):
            run.record_version(mv)
        return mv

    def _unchanged_candidates(self, name: str, version: int, arrays: dict[str, Any]) -> set[str]:
        """Tensor names whose dtype and shape match the previous version (probably unchanged)."""
        for n in range(version - 1, max(0, version - 4), -1):
            try:
                key = version_key(name, n, MANIFEST)
                previous = artifact.parse_manifest(self.store.get(key), key)["tensors"]
            except (NotFoundError, IntegrityError):  # a damaged earlier version is only no hint
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
            top = int(self.store.get(layout.claim_hint_key(name)))
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
        self.store.put(layout.claim_hint_key(name), str(version).encode())  # a lower bound only
        return version

    # --- reading -------------------------------------------------------------------------
    def get(self, ref: str) -> ModelVersion:
        """The version a reference names: "name" (latest), "name/3" or "name@alias"."""
        name, version = self._resolve(ref)
        manifest, digest = self._read_manifest(name, version)
        return self._model_version(manifest, digest)

    def _extra_tags(self, name: str, version: int) -> dict[str, Any]:
        """Tags set after register (``set_tags``), kept beside the immutable manifest."""
        try:
            return json.loads(self.store.get(version_key(name, version, TAGS)))
        except (NotFoundError, ValueError):
            return {}

    def _model_version(self, manifest: dict[str, Any], digest: str) -> ModelVersion:
        mv = ModelVersion.from_manifest(manifest, digest)
        extra = self._extra_tags(mv.name, mv.version)
        return attrs.evolve(mv, tags={**mv.tags, **extra}) if extra else mv

    def _read_trusted(self, name: str, version: int) -> tuple[dict[str, Any], str, str | None]:
        """(manifest, digest, signer or None) with the signature checked before anything is read."""
        try:
            return read_version(self.store, self.trust, name, version)
        except NotFoundError:
            self._read_manifest(name, version)  # raises the NotFoundError naming what is missing
            raise

    def load(self, ref: str, verify: bool = True) -> Any:
        """The model a reference names, rebuilt without pickle; ``verify`` checks every blob
        (and the registry's ``trusted_keys`` the manifest's signature)."""
        name, version = self._resolve(ref)
        manifest, _, _ = self._read_trusted(name, version)
        artifact.resolve_model_type(manifest.get("model_type"))
        return artifact.build_model(manifest, artifact.read_tensors(self.store, manifest, verify=verify))

    def versions(self, name: str, *, offset: int = 0, limit: int | None = None) -> list[ModelVersion]:
        """Visible versions of ``name``, ascending, from the ``offset``-th on, at most ``limit``.

        Pages through the version numbers reading only the manifests
        of the page (version numbers are claimed contiguously, so nothing is listed): a model
        with 10,000 versions pages in bounded memory and time proportional to offset + limit."""
        validate_name(name, "model name")
        offset = check_int(offset, "offset", min=0)
        if limit is not None:
            limit = check_int(limit, "limit", min=0)
        if not self._is_model(name):
            raise NotFoundError(f"no model named {name!r} in registry {self.url!r}")
        numbers = range(1, self._top_claim(name) + 1)  # claims are contiguous from 1: no listing

        def read(n: int) -> ModelVersion | None:
            try:
                manifest, digest = self._read_manifest(name, n)
            except NotFoundError:  # deleted, in flight or aborted
                return None
            return self._model_version(manifest, digest)

        if limit is None and offset == 0:
            if len(numbers) > 32 and not self._local:  # object stores answer many small reads best in parallel
                with ThreadPoolExecutor(8) as pool:
                    found = list(pool.map(read, numbers))
            else:
                found = [read(n) for n in numbers]
            return [v for v in found if v is not None]
        out: list[ModelVersion] = []
        skipped = 0
        for n in numbers:
            if limit is not None and len(out) >= limit:
                break
            if skipped < offset:  # only count visible versions: a cheap existence check
                skipped += self._has_version(name, n)
                continue
            v = read(n)
            if v is not None:
                out.append(v)
        return out

    def models(self) -> list[str]:
        """Names of the models with at least one visible version, sorted (O(models))."""
        return [n for n in self.store.list_dirs(layout.MODELS) if self._has_visible(n)]

    def _has_visible(self, name: str) -> bool:
        try:
            validate_name(name)
        except (TypeError, ValueError):
            return False
        return self._latest(name) is not None

    # --- aliases (see registry.aliases) ---------------------------------------------------
    def _alias_target(self, name: str, alias: str) -> int | None:
        return self.alias_book.target(name, alias)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point ``name@alias`` at ``version`` (the previous target is kept for rollback)."""
        self.alias_book.log(name, alias)  # checks the names
        check_version(version)
        manifest, digest = self._read_manifest(name, version)
        self.alias_book.set(name, alias, version)
        return self._model_version(manifest, digest)

    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``name@alias`` (recorded in its history; setting it again starts afresh)."""
        self.alias_book.delete(name, alias)

    def aliases(self, name: str) -> dict[str, int]:
        """Every alias of ``name`` and the version it points at now."""
        validate_name(name, "model name")
        if not self._is_model(name):
            raise NotFoundError(f"no model named {name!r} in registry {self.url!r}")
        return self.alias_book.current(name)

    def alias_history(self, name: str, alias: str) -> list[dict[str, Any]]:
        """Every move of ``name@alias``, oldest first: ``time`` (ISO 8601 UTC), ``version``,
        ``previous``, ``action`` ("set" | "rollback" | "delete") and ``seq``."""
        return self.alias_book.history(name, alias)

    def rollback(self, name: str, alias: str) -> ModelVersion:
        """Move ``name@alias`` back to where it pointed before its last move."""
        target = self.alias_book.rollback(name, alias)
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
        self.index.changed(name, version, "delete")

    def delete_model(self, name: str) -> None:
        """Remove a model and all its versions (blobs go at the next gc); refused while any
        alias points into it."""
        validate_name(name, "model name")
        if not self._is_model(name):
            raise NotFoundError(f"no model named {name!r} in registry {self.url!r}; known: {self.models()}")
        live = self.alias_book.current(name)
        if live:
            raise ConflictError(
                f"cannot delete model {name!r}: alias(es) "
                f"{', '.join(f'{a} -> {v}' for a, v in sorted(live.items()))} point into it; delete them first"
            )
        keys = self.store.list(layout.model_prefix(name))
        manifests = [k for k in keys if k.endswith("/" + MANIFEST)]
        for key in manifests + [k for k in keys if not k.endswith("/" + MANIFEST)]:
            try:  # manifests first: every version disappears before its history does
                self.store.delete(key)
            except NotFoundError:
                continue

    def set_tags(self, ref: str, tags: dict[str, Any]) -> ModelVersion:
        """Add or change tags of a version after register (the manifest stays untouched)."""
        name, version = self._resolve(ref)
        self._read_manifest(name, version)  # NotFoundError when absent
        new = _clean_dict(tags, "tags")
        self.store.put(version_key(name, version, TAGS),
                       json.dumps({**self._extra_tags(name, version), **new}, sort_keys=True).encode())
        self.index.changed(name, version, "tags")
        return self.get(f"{name}/{version}")

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

    def verify(self, ref: str) -> VerifyResult:
        """Check a version's signature (with trusted keys), model type and every blob's size and
        sha256; IntegrityError names what is wrong. Returns ``.ok``, ``.signed_by``, ``.blobs_checked``."""
        name, version = self._resolve(ref)
        manifest, digest, signed_by = self._read_trusted(name, version)
        return verify_version(self.store, manifest, digest, signed_by, self._model_version(manifest, digest))

    def export(self, ref: str, destination: Any, **storage_options: Any) -> str:
        """Write a verified version as a plain folder (manifest, signature, blobs, attachments)
        that ``mm.load(folder)`` reads back verified; returns the folder's URL."""
        name, version = self._resolve(ref)
        manifest, digest, signed_by = self._read_trusted(name, version)
        verify_version(self.store, manifest, digest, signed_by, self._model_version(manifest, digest))
        return export_version(self.store, name, version, manifest, digest, self.attachments(f"{name}/{version}"),
                              destination, **storage_options)

    def gc(self, *, grace_period: float = 3600.0, dry_run: bool = False) -> list[str]:
        """Delete blobs no version references; returns their keys. See ``registry.gc``."""
        return collect(self, grace_period=grace_period, dry_run=dry_run)

    # --- attachments and deployment history ----------------------------------------------
    def _attachment_key(self, ref: str, name: str) -> str:
        model, version = self._resolve(ref)
        self._read_manifest(model, version)
        return layout.attachment_key(model, version, layout.check_file_name(name, "attachment"))

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
        prefix = layout.attachments_prefix(model, version)
        return [key[len(prefix):] for key in self.store.list(prefix)]

    def record_deployment(self, deployment_name: str, event: dict[str, Any]) -> None:
        """Append ``event`` to a deployment's history (see ``registry.deployments``)."""
        self.deployments.record(deployment_name, event)

    def deployment_names(self) -> list[str]:
        """Every deployment with a recorded history, sorted."""
        return self.deployments.names()

    def deployment_history(self, deployment_name: str) -> list[dict[str, Any]]:
        """A deployment's events, oldest first ([] for an unknown deployment)."""
        return self.deployments.history(deployment_name)

    def deployment_summary(self, deployment_name: str) -> dict[str, Any] | None:
        """``{"events": N, "last": event}`` of a deployment without reading its whole
        history (None for an unknown deployment): what a list of deployments shows."""
        return self.deployments.summary(deployment_name)

    # --- tracking ------------------------------------------------------------------------
    def start_run(self, experiment: str, params: dict[str, Any] | None = None,
                  tags: dict[str, Any] | None = None, *, parent: Any = None) -> Run:
        """A new tracking Run; use it as ``with reg.start_run("exp") as run:``. ``parent``
        (a Run or run id) nests it under another run (``run.parent_id``)."""
        return Run.start(self, experiment, params=params, tags=tags, parent=parent)

    def runs(self, experiment: str) -> list[Run]:
        """The runs of ``experiment``, re-read from the store, oldest first (NotFoundError
        listing the known experiments when it has none)."""
        return list_runs(self, experiment)

    def get_run(self, run_id: str) -> Run:
        """The run with id ``run_id`` (NotFoundError when unknown)."""
        return find_run(self, run_id)

    def experiments(self) -> list[str]:
        """Names of the experiments that have runs, sorted."""
        return list_experiments(self)

    # --- search (see registry.search) -------------------------------------------------------
    def search_versions(self, filter: str = "", *, name: str | None = None, order_by: Any = (),
                        limit: int | None = None) -> list[ModelVersion]:
        """Versions matching an MLflow-style ``filter`` (``"metrics.acc > 0.9 and
        tags.team = 'a'"``), sorted by ``order_by`` (``"metrics.acc DESC"``), at most ``limit``."""
        predicate = compile_filter(filter, "version")
        order = compile_order(order_by, "version")
        if limit is not None:
            limit = check_int(limit, "limit", min=0)
        if name is not None:
            validate_name(name, "model name")
            if not self._is_model(name):
                raise NotFoundError(f"no model named {name!r} in registry {self.url!r}; known: {self.models()}")
        names = [name] if name is not None else self.models()
        rows = [row for n in names for row in self.index.summaries(n).values()]
        chosen = select(rows, predicate, order, limit)

        def read(row: dict[str, Any]) -> ModelVersion | None:
            # a record to show, not a model to build: the plain JSON read the index also uses
            # (get/load/verify parse manifests with every integrity check)
            try:
                data = self.store.get(version_key(row["name"], row["version"], MANIFEST))
                mv = ModelVersion.from_manifest(json.loads(data), hashlib.sha256(data).hexdigest())
            except (NotFoundError, ValueError, KeyError):  # deleted meanwhile, or damaged
                return None
            # the summary's tags already include those set after register (set_tags)
            return attrs.evolve(mv, tags=dict(row["tags"]))

        if len(chosen) > 32 and not self._local:
            with ThreadPoolExecutor(8) as pool:
                found = list(pool.map(read, chosen))
        else:
            found = [read(r) for r in chosen]
        return [v for v in found if v is not None]

    def search_runs(self, filter: str = "", *, experiment: str | None = None, order_by: Any = (),
                    limit: int | None = None) -> list[Run]:
        """Runs matching an MLflow-style ``filter`` (``"params.lr < 0.1 and
        attributes.status = 'finished'"``), sorted by ``order_by``, at most ``limit``."""
        predicate = compile_filter(filter, "run")
        order = compile_order(order_by, "run")
        if limit is not None:
            limit = check_int(limit, "limit", min=0)
        experiments = [experiment] if experiment is not None else self.experiments()
        rows = [row for e in experiments
                for row in self.run_index.summaries(e, run_records(self, e), record_summary)]
        return [Run.from_dict(row["record"], self) for row in select(rows, predicate, order, limit)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.models())


def _claim_body(digests: list[str]) -> bytes:
    body = {"created_at": artifact.utc_now(), "time": time.time(), "blobs": digests, **writer_id()}
    return json.dumps(body, sort_keys=True).encode()


class ClaimUpdater:
    """Adds blob digests to a version's claim (rewritten atomically) as a pipeline finds them."""

    def __init__(self, registry: Registry, name: str, version: int) -> None:
        self.store, self.key = registry.store, version_key(name, version, CLAIM)
        self.digests: list[str] = []

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

