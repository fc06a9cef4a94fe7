"""Log: an append-only, totally ordered log of JSON records under a store prefix.

Record ``seq`` lives at ``<prefix><seq:010d>.json`` and is claimed with ``put_if_absent``, so
of several concurrent writers (threads, processes, machines on object storage) exactly one
gets each number and nobody overwrites anybody. Sequence numbers have no gaps: a writer
tries ``seq + 1`` only after reading record ``seq``.

Reading the *last* record is O(1) in the log's length: ``<prefix>head.json`` holds a copy
of a recent record (written after each append, never moved backwards by a writer that saw
a newer head). A reader takes the head and probes the next numbers until one is missing,
so a head left behind by a crashed or slow writer only costs a probe, is repaired by the
reader, and is never wrong: every state a reader returns is one a writer appended.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from modelmgmt.errors import ConflictError, NotFoundError
from modelmgmt.registry import layout
from modelmgmt.stores.base import Store, validate_key

__all__ = ["Log", "writer_id"]



def writer_id() -> dict[str, Any]:
    """Who is writing: host name and process id (gc uses them to spot dead writers)."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


class Log:
    """Append-only records under ``prefix`` with an O(1) ``tail()``; see the module doc."""

    def __init__(self, store: Store, prefix: str) -> None:
        validate_key(prefix.rstrip("/"))
        self.store = store
        self.prefix = prefix

    def key(self, seq: int) -> str:
        """The key of record ``seq``."""
        return layout.log_record_key(self.prefix, seq)

    def record(self, seq: int) -> dict[str, Any] | None:
        """Record ``seq`` (with its ``seq``), or None when it does not exist."""
        try:
            record = json.loads(self.store.get(self.key(seq)))
        except NotFoundError:
            return None
        record["seq"] = seq
        return record

    def read(self, start: int = 1) -> list[dict[str, Any]]:
        """Every record from ``start`` on, in order (each has its ``seq``)."""
        records = []
        for key in self.store.list(self.prefix):
            leaf = key[len(self.prefix):]
            if "/" in leaf or not leaf.endswith(".json") or not leaf[:-5].isdigit():
                continue
            seq = int(leaf[:-5])
            if seq < start:
                continue
            try:
                record = json.loads(self.store.get(key))
            except NotFoundError:  # pragma: no cover - deleted between list and get
                continue
            record["seq"] = seq
            records.append(record)
        records.sort(key=lambda r: r["seq"])
        return records

    def _head(self) -> dict[str, Any] | None:
        try:
            head = json.loads(self.store.get(layout.log_head_key(self.prefix)))
        except (NotFoundError, ValueError):
            return None
        return head if isinstance(head, dict) and isinstance(head.get("seq"), int) else None

    def tail(self) -> dict[str, Any] | None:
        """The last record (None for an empty log): the head hint, then probes forward."""
        head = self._head()
        if head is None:  # no hint yet (an old log, or a writer died before writing it)
            records = self.read()
            last = records[-1] if records else None
            if last is not None:
                self._advance_head(last)
            return last
        last, moved = head, False
        while True:
            nxt = self.record(last["seq"] + 1)
            if nxt is None:
                break
            last, moved = nxt, True
        if moved:
            self._advance_head(last)
        return last

    def _advance_head(self, record: dict[str, Any]) -> None:
        """Write ``record`` as the head unless a newer head is already there (best effort:
        a lost race only leaves the head a little behind, which readers probe past)."""
        current = self._head()
        if current is not None and current["seq"] >= record["seq"]:
            return
        try:
            self.store.put(layout.log_head_key(self.prefix), json.dumps(record, sort_keys=True).encode())
        except Exception:  # pragma: no cover - the hint is optional; the log is the truth
            pass

    def append(self, make: Callable[[dict[str, Any] | None], dict[str, Any]],
               attempts: int = 1000) -> dict[str, Any]:
        """Append ``make(last record or None)``; ``make`` may raise to refuse. Returns the record."""
        last = self.tail()
        for _ in range(attempts):
            body = {**make(last), "time": time.time(), "writer": writer_id()}
            seq = last["seq"] + 1 if last else 1
            if self.store.put_if_absent(self.key(seq), json.dumps(body, sort_keys=True).encode()):
                record = {**body, "seq": seq}
                self._advance_head(record)
                return record
            # lost the race for ``seq``: move to the new tail and decide again
            nxt = self.record(seq)
            while nxt is not None:
                last = nxt
                nxt = self.record(last["seq"] + 1)
        raise ConflictError(f"could not append to {self.prefix!r} after {attempts} attempts (contention)")
