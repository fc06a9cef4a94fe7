"""VersionIndex: a per-model summary of every version (metrics, params, tags, attributes),
so that searching 10,000 versions reads one object instead of 10,000 manifests.

The summary (``models/<name>/index.json``) is a *cache* that any reader may rewrite; it is
never trusted blindly. It records how far it is complete:

- ``covered``: every claimed version number up to it was looked at, except ``pending``
  (numbers that were in flight then: they are looked at again by the next reader);
- ``changes``: the sequence number of the last record of the model's change log
  (``models/<name>/changes/``) it reflects. ``delete_version`` and ``set_tags`` append to
  that log after they change the store, and replaying a record re-reads the version.

A reader takes the summary, looks at the numbers claimed since (the claim counter is O(1)),
replays the change log since, and writes the summary back when enough changed. Register
writes nothing extra, so it stays as fast as before. The process also keeps the last
summary per model in memory and reuses it when nothing changed.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from modelmgmt.errors import NotFoundError
from modelmgmt.registry import layout
from modelmgmt.registry.log import Log

__all__ = ["VersionIndex", "summary_of"]

_FORMAT = 1
_REWRITE_AFTER = 64  # versions or changes a reader had to look at before it rewrites the summary


def summary_of(manifest: dict[str, Any], extra_tags: dict[str, Any]) -> dict[str, Any]:
    """What search needs of one version: its metrics, params, tags and attributes."""
    meta = manifest.get("metadata", {})
    return {
        "name": meta["name"],
        "version": int(meta["version"]),
        "created_at": meta.get("created_at", ""),
        "status": "ready",
        "run_id": meta.get("run_id"),
        "description": meta.get("description", ""),
        "model_type": manifest.get("model_type", ""),
        "metrics": dict(meta.get("metrics") or {}),
        "params": dict(meta.get("params") or {}),
        "tags": {**(meta.get("tags") or {}), **extra_tags},
    }


class VersionIndex:
    """The search summaries of one registry's models (see the module doc)."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self.store = registry.store
        self._memo: dict[str, tuple[tuple[int, int], dict[int, dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def _changes(self, name: str) -> Log:
        return Log(self.store, layout.changes_prefix(name))

    def changed(self, name: str, version: int, what: str) -> None:
        """Record that ``version`` was deleted or re-tagged (after the store was changed)."""
        self._changes(name).append(lambda last: {"version": version, "action": what})

    def _read_one(self, name: str, n: int) -> dict[str, Any] | None | str:
        """The summary of version ``n``; None when settled as absent; "pending" when in flight."""
        try:
            manifest = json.loads(self.store.get(layout.version_key(name, n, layout.MANIFEST)))
        except NotFoundError:
            if self.store.exists(layout.version_key(name, n, layout.DELETED)) or \
                    self.store.exists(layout.version_key(name, n, layout.ABORTED)):
                return None
            return "pending"
        except ValueError:
            return None  # a damaged manifest is not searchable (verify reports it)
        return summary_of(manifest, self.registry._extra_tags(name, n))

    def summaries(self, name: str) -> dict[int, dict[str, Any]]:
        """version → summary for every visible version of ``name``."""
        changes = self._changes(name).tail()
        changes_seq = changes["seq"] if changes else 0
        top = self.registry._top_claim(name)
        with self._lock:
            memo = self._memo.get(name)
        if memo is not None and memo[0] == (top, changes_seq):
            return memo[1]
        if memo is not None and memo[0][0] <= top and memo[0][1] <= changes_seq:  # catch up from memory
            snap: dict[str, Any] = {"covered": memo[0][0], "pending": [], "changes": memo[0][1]}
            versions = dict(memo[1])
        else:
            try:
                snap = json.loads(self.store.get(layout.index_key(name)))
                if snap.get("format") != _FORMAT:
                    raise ValueError("old format")
            except (NotFoundError, ValueError):
                snap = {"format": _FORMAT, "covered": 0, "pending": [], "changes": 0, "versions": {}}
            versions = {int(k): v for k, v in snap["versions"].items()}
        todo = sorted(set(snap["pending"]) | set(range(snap["covered"] + 1, top + 1)))
        replay = []
        if changes_seq > snap["changes"]:
            log = self._changes(name)
            replay = [r for r in (log.record(s) for s in range(snap["changes"] + 1, changes_seq + 1)) if r]
        again = sorted({int(r["version"]) for r in replay} - set(todo))
        look = todo + again
        if len(look) > 32 and not self.registry._local:  # remote: many reads in flight
            with ThreadPoolExecutor(8) as pool:
                found = list(pool.map(lambda n: self._read_one(name, n), look))
        else:
            found = [self._read_one(name, n) for n in look]
        pending: list[int] = []
        for n, got in zip(look, found):
            if got == "pending":
                versions.pop(n, None)
                pending.append(n)
            elif got is None:
                versions.pop(n, None)
            else:
                versions[n] = got  # type: ignore[assignment]  # "pending" was handled above
        if len(look) >= _REWRITE_AFTER or (look and not snap["covered"]):
            body = {"format": _FORMAT, "covered": top, "pending": pending, "changes": changes_seq,
                    "versions": {str(k): v for k, v in versions.items()}}
            self.store.put(layout.index_key(name), json.dumps(body, separators=(",", ":")).encode())
        if not pending:
            with self._lock:
                self._memo[name] = ((top, changes_seq), versions)
        return versions
