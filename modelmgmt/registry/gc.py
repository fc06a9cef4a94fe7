"""Garbage collection of tensor blobs that no version references.

A blob is kept when any visible version's manifest lists it, or when an *in-flight*
registration claims it. Registrations write their claim (with the list of blob digests)
before any blob, so every blob being written is covered by a claim. A claim without a
manifest counts as in flight unless it is marked aborted/deleted, or its writer is known to
be dead (same host, process gone), or it is older than ``grace_period`` seconds (writers on
other machines). Claims are re-read just before deleting, and a registration re-checks its
blobs before writing its manifest (re-writing any that vanished), which closes the window
of a registration that starts while gc runs.

On local disk gc also removes temp files (``.tmp-*``) that failed or killed writers left in
any folder (blobs, versions, aliases, runs) once they are older than ``grace_period`` (blob
temp files at once when no registration is in flight), never one that a process on this
machine still has open, and reports their paths under the root with the removed blobs.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from modelmgmt.errors import InvalidArgumentError, NotFoundError
from modelmgmt.registry import artifact, layout

__all__ = ["collect"]

TEMP_PREFIX = ".tmp-"  # how LocalStore and blob streaming name a file before it is renamed into place


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _in_flight_claim(claim: dict[str, Any], now: float, grace_period: float) -> bool:
    if claim.get("host") == socket.gethostname() and isinstance(claim.get("pid"), int):
        return _pid_alive(claim["pid"])  # same machine: in flight exactly while its writer lives
    return now - float(claim.get("time", 0.0)) < grace_period


def _referenced(registry: Any, grace_period: float) -> tuple[set[str], int]:
    """Digests referenced by visible versions and in-flight claims; the number of the latter."""
    store = registry.store
    folders: dict[tuple[str, int], set[str]] = {}
    for key in store.list(layout.MODELS):
        parsed = layout.parse_version_key(key)
        if parsed is not None:
            folders.setdefault(parsed[:2], set()).add(parsed[2])
    keep: set[str] = set()
    now, in_flight = time.time(), 0
    for (name, version), leaves in folders.items():
        if layout.MANIFEST in leaves:
            key = layout.version_key(name, version, layout.MANIFEST)
            try:
                # a damaged manifest stops gc (IntegrityError): what it references is unknown
                manifest = artifact.parse_manifest(store.get(key), key)
            except NotFoundError:  # deleted meanwhile: fall through to the claim
                manifest = None
            if manifest is not None:
                keep.update(t["sha256"] for t in manifest.get("tensors", {}).values())
                continue
        if layout.CLAIM not in leaves or layout.ABORTED in leaves or layout.DELETED in leaves:
            continue
        try:
            claim = json.loads(store.get(layout.version_key(name, version, layout.CLAIM)))
        except (NotFoundError, ValueError):
            continue
        if _in_flight_claim(claim, now, grace_period):
            keep.update(claim.get("blobs", []))
            in_flight += 1
    return keep, in_flight


def _open_files() -> set[str] | None:
    """Paths of the files any process on this machine has open (None where /proc cannot tell)."""
    if not os.path.isdir("/proc/self/fd"):
        return None
    found: set[str] = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or not ours to see
            continue
        for fd in fds:
            try:
                found.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue
    return found


def _stale_temp_files(registry: Any, grace_period: float, writers: int) -> list[tuple[str, str]]:
    """(key, path) of temp files failed or killed writers left anywhere under a local registry.

    A temp file is never removed while a process on this machine has it open (it is being
    written); otherwise it is stale once older than ``grace_period``. In the blob folder it is
    stale at once when no registration is in flight: only registrations write blobs, and
    writers on other machines are covered by their claims.
    """
    probe = registry.store.local_path("probe")
    if probe is None:
        return []
    root = os.path.dirname(probe)
    temps: list[str] = []
    for folder, _, files in os.walk(root):
        temps.extend(os.path.join(folder, f) for f in files if f.startswith(TEMP_PREFIX))
    if not temps:
        return []
    busy = _open_files()
    now, out = time.time(), []
    for path in temps:
        try:
            age = now - os.path.getmtime(path)
        except FileNotFoundError:  # renamed into place meanwhile
            continue
        if busy is not None and os.path.realpath(path) in busy:
            continue
        key = os.path.relpath(path, root).replace(os.sep, "/")
        if age >= grace_period or (not writers and key.startswith(layout.BLOB_PREFIX)):
            out.append((key, path))
    return out


def collect(registry: Any, *, grace_period: float = 3600.0, dry_run: bool = False) -> list[str]:
    """Delete unreferenced blobs and stale temp files (anywhere under a local registry); return
    the removed keys (a temp file's key is its path under the registry root)."""
    if isinstance(grace_period, bool) or not isinstance(grace_period, (int, float)) or grace_period < 0:
        raise InvalidArgumentError(f"grace_period must be a number of seconds >= 0; got {grace_period!r}")
    store = registry.store
    keep, writers = _referenced(registry, grace_period)
    blobs = store.list(layout.BLOB_PREFIX)
    candidates = [k for k in blobs if k[len(layout.BLOB_PREFIX):] not in keep]
    if not candidates:
        garbage: list[str] = []
    else:
        again, more = _referenced(registry, grace_period)  # registrations that started meanwhile
        keep |= again
        writers += more
        garbage = [k for k in candidates if k[len(layout.BLOB_PREFIX):] not in keep]
    temps = _stale_temp_files(registry, grace_period, writers)
    if dry_run:
        return garbage + [key for key, _ in temps]
    removed = []
    for key in garbage:
        try:
            store.delete(key)
            removed.append(key)
        except NotFoundError:
            continue
    for key, path in temps:
        try:
            os.unlink(path)
            removed.append(key)
        except FileNotFoundError:
            continue
    return removed
