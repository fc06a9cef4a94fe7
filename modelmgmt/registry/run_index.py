"""RunIndex: one summary object per experiment holding the records of its *ended* runs, so
that searching 10,000 runs reads one object (plus a listing of run ids) instead of 10,000.

Like the version index it is a cache any reader may rewrite. It holds only runs whose status
is final ("finished", "failed"); a running run is read from its own record every time. A run
that is written again after it ended (a tag, a late metric) appends its id to the
experiment's change log (``run-changes/<experiment>/``) after the write, and readers re-read
the runs named there since the summary was made. New runs are found by listing the
experiment's run ids, which is a listing of names, not a read per run.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from modelmgmt.errors import NotFoundError
from modelmgmt.registry import layout
from modelmgmt.registry.log import Log
from modelmgmt.stores.base import Store

__all__ = ["RunIndex", "run_changed"]

_FORMAT = 1
_REWRITE_AFTER = 64
_FINAL = ("finished", "failed")


def run_changed(store: Store, experiment: str, run_id: str) -> None:
    """Record that an ended run's record was rewritten (call after the write)."""
    Log(store, layout.run_changes_prefix(experiment)).append(lambda last: {"run_id": run_id})


class RunIndex:
    """The run summaries of one registry's experiments (see the module doc)."""

    def __init__(self, store: Store, parallel: bool) -> None:
        self.store = store
        self.parallel = parallel
        self._memo: dict[str, tuple[int, dict[str, dict[str, Any]]]] = {}
        self._rows: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _read(self, experiment: str, run_id: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.store.get(layout.run_key(experiment, run_id)))
        except (NotFoundError, ValueError):
            return None

    def records(self, experiment: str, keys: list[str]) -> list[dict[str, Any]]:
        """The records of the runs stored under ``keys`` (the experiment's run record keys)."""
        prefix = layout.runs_prefix(experiment)
        ids = [k[len(prefix):-len(".json")] for k in keys]
        changes = Log(self.store, layout.run_changes_prefix(experiment))
        tail = changes.tail()
        changes_seq = tail["seq"] if tail else 0
        with self._lock:
            memo = self._memo.get(experiment)
        if memo is not None and memo[0] <= changes_seq:
            done_seq, ended = memo[0], dict(memo[1])
        else:
            try:
                snap = json.loads(self.store.get(layout.run_index_key(experiment)))
                if snap.get("format") != _FORMAT:
                    raise ValueError("old format")
                done_seq, ended = int(snap["changes"]), dict(snap["runs"])
            except (NotFoundError, ValueError, KeyError, TypeError):
                done_seq, ended = 0, {}
        again = set()
        if changes_seq > done_seq:
            again = {r["run_id"] for r in (changes.record(s) for s in range(done_seq + 1, changes_seq + 1)) if r}
        look = [i for i in ids if i not in ended or i in again]
        if self.parallel and len(look) > 64:  # object stores: many reads in flight
            with ThreadPoolExecutor(8) as pool:
                found = list(pool.map(lambda i: self._read(experiment, i), look))
        else:
            found = [self._read(experiment, i) for i in look]
        fresh: dict[str, dict[str, Any]] = {}
        newly_ended = 0
        for run_id, record in zip(look, found):
            ended.pop(run_id, None)
            if record is None:
                continue
            if record.get("status") in _FINAL:
                ended[run_id] = record
                newly_ended += 1
            else:
                fresh[run_id] = record
        if newly_ended >= _REWRITE_AFTER or (changes_seq > done_seq and newly_ended):
            body = {"format": _FORMAT, "changes": changes_seq, "runs": ended}
            self.store.put(layout.run_index_key(experiment), json.dumps(body, separators=(",", ":")).encode())
        with self._lock:
            self._memo[experiment] = (changes_seq, ended)
        present = set(ids)
        return [r for i, r in ended.items() if i in present] + list(fresh.values())

    def summaries(self, experiment: str, records: list[dict[str, Any]], summarize: Any) -> list[dict[str, Any]]:
        """``summarize(record)`` for each record, remembered for ended runs' unchanged records."""
        with self._lock:
            cache = self._rows.setdefault(experiment, {})
        out = []
        for record in records:
            hit = cache.get(record.get("id"))
            if hit is not None and hit["record"] is record:  # the same stored record as before
                out.append(hit)
                continue
            row = summarize(record)
            if record.get("status") in _FINAL:
                cache[record.get("id")] = row
            out.append(row)
        return out
