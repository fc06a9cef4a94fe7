"""Garbage collection of tensor blobs that no version references.

A blob is kept when any visible version's manifest lists it, or when an *in-flight*
registration claims it. Registrations write their claim (with the list of blob digests)
before any blob, so every blob being written is covered by a claim. A claim without a
manifest counts as in flight unless it is marked aborted/deleted, or its writer is known to
be dead (same host, process gone), or it is older than ``grace_period`` seconds (writers on
other machines). Claims are re-read just before deleting, and a registration re-checks its
blobs before writing its manifest (re-writing any that vanished), which closes the window
of a registration that starts while gc runs.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from modelmgmt.errors import InvalidArgumentError, NotFoundError
from modelmgmt.registry import artifact
from modelmgmt.registry.refs import MODELS

__all__ = ["collect"]


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
    folders: dict[str, set[str]] = {}
    for key in store.list(MODELS):
        parts = key[len(MODELS):].split("/")
        if len(parts) == 4 and parts[1] == "versions":
            folders.setdefault("/".join(key.split("/")[:-1]), set()).add(parts[3])
    keep: set[str] = set()
    now, in_flight = time.time(), 0
    for folder, leaves in folders.items():
        if "manifest.json" in leaves:
            try:
                manifest = json.loads(store.get(f"{folder}/manifest.json"))
            except NotFoundError:  # deleted meanwhile: fall through to the claim
                manifest = None
            if manifest is not None:
                keep.update(t["sha256"] for t in manifest.get("tensors", {}).values())
                continue
        if "claim.json" not in leaves or "aborted" in leaves or "deleted" in leaves:
            continue
        try:
            claim = json.loads(store.get(f"{folder}/claim.json"))
        except (NotFoundError, ValueError):
            continue
        if _in_flight_claim(claim, now, grace_period):
            keep.update(claim.get("blobs", []))
            in_flight += 1
    return keep, in_flight


def _stale_temp_files(registry: Any, grace_period: float, writers: int) -> list[str]:
    """Half-written temp files a killed writer left in a local store's blob folder."""
    path = registry.store.local_path(artifact.BLOB_PREFIX + "0" * 64)
    if path is None:
        return []
    folder = os.path.dirname(path)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    now, out = time.time(), []
    for name in names:
        if name.startswith(".tmp-"):
            full = os.path.join(folder, name)
            try:
                # with no registration in flight every temp file is a dead writer's leftover
                if not writers or now - os.path.getmtime(full) >= grace_period:
                    out.append(full)
            except FileNotFoundError:
                continue
    return out


def collect(registry: Any, *, grace_period: float = 3600.0, dry_run: bool = False) -> list[str]:
    """Delete unreferenced blobs (and stale local temp files); return the removed keys."""
    if isinstance(grace_period, bool) or not isinstance(grace_period, (int, float)) or grace_period < 0:
        raise InvalidArgumentError(f"grace_period must be a number of seconds >= 0; got {grace_period!r}")
    store = registry.store
    keep, writers = _referenced(registry, grace_period)
    blobs = store.list(artifact.BLOB_PREFIX)
    candidates = [k for k in blobs if k[len(artifact.BLOB_PREFIX):] not in keep]
    if not candidates:
        garbage: list[str] = []
    else:
        again, more = _referenced(registry, grace_period)  # registrations that started meanwhile
        keep |= again
        writers += more
        garbage = [k for k in candidates if k[len(artifact.BLOB_PREFIX):] not in keep]
    temps = _stale_temp_files(registry, grace_period, writers)
    if dry_run:
        return garbage + [artifact.BLOB_PREFIX + os.path.basename(t) for t in temps]
    removed = []
    for key in garbage:
        try:
            store.delete(key)
            removed.append(key)
        except NotFoundError:
            continue
    for path in temps:
        try:
            os.unlink(path)
            removed.append(artifact.BLOB_PREFIX + os.path.basename(path))
        except FileNotFoundError:
            continue
    return removed
