"""Aliases: named, movable pointers to versions ("churn@prod"), with their full history.

Each alias is a :class:`~modelmgmt.registry.log.Log`. Every record carries the state the
alias is in *after* it: ``version`` (the target, None once deleted), ``previous`` (the
target before) and ``below`` (the sequence number of the record whose state a rollback
returns to). So the current target is the log's last record (O(1) through the log's head),
a rollback follows ``below`` (skipping versions deleted since), and the history is the
log read in order. Concurrent movers each claim the next record with put-if-absent, so no
move is lost and a reader only ever sees a target some writer set.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from modelmgmt._validation import validate_name
from modelmgmt.errors import ConflictError, NotFoundError
from modelmgmt.registry import layout
from modelmgmt.registry.log import Log
from modelmgmt.stores.base import Store

__all__ = ["AliasBook"]


def iso_time(seconds: float) -> str:
    """Seconds since the epoch as ISO 8601 UTC (``2026-12-01T18:00:00.123456Z``)."""
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AliasBook:
    """The aliases of every model in one store; ``exists(name, version)`` tells which
    versions are still visible (rollback skips the others)."""

    def __init__(self, store: Store, exists: Callable[[str, int], bool]) -> None:
        self.store = store
        self.exists = exists

    def log(self, name: str, alias: str) -> Log:
        """The append-only log of ``name@alias``."""
        validate_name(name, "model name")
        validate_name(alias, "alias")
        return Log(self.store, layout.alias_prefix(name, alias))

    # --- reading ------------------------------------------------------------------------
    def target(self, name: str, alias: str) -> int | None:
        """The version ``name@alias`` points at now, or None."""
        log = self.log(name, alias)
        return self._state(log, log.tail())[0]

    def names(self, name: str) -> list[str]:
        """Every alias that ``name`` ever had (one delimiter listing), sorted."""
        return sorted(self.store.list_dirs(layout.alias_prefix(name)))

    def missing(self, name: str, alias: str) -> NotFoundError:
        """The error for an unknown alias, listing the live ones (read only on this error path)."""
        known = ", ".join(sorted(self.current(name))) or "none"
        return NotFoundError(f"model {name!r} has no alias {alias!r}; known: {known}")

    def current(self, name: str) -> dict[str, int]:
        """Every live alias of ``name`` and its target."""
        out = {}
        for alias in self.names(name):
            target = self.target(name, alias)
            if target is not None:
                out[alias] = target
        return out

    def history(self, name: str, alias: str) -> list[dict[str, Any]]:
        """Every move, oldest first: time (ISO 8601 UTC), version, previous, action, seq."""
        log = self.log(name, alias)
        records = log.read()
        if not records:
            raise self.missing(name, alias)
        states = self._legacy_states(log, records) if any("below" not in r for r in records) else None
        out, previous = [], None
        for r in records:
            action = "delete" if r.get("action") in ("remove", "delete") else r.get("action")
            version = r.get("version") if states is None else states[r["seq"]][0]
            out.append({
                "time": iso_time(float(r.get("time", 0.0))),
                "version": version,
                "previous": r.get("previous", previous),
                "action": action,
                "seq": r["seq"],
            })
            previous = version
        return out

    # --- moving ---------------------------------------------------------------------------
    def set(self, name: str, alias: str, version: int) -> dict[str, Any]:
        """Point ``name@alias`` at ``version`` (the caller checked that it exists)."""
        log = self.log(name, alias)

        def make(last: dict[str, Any] | None) -> dict[str, Any]:
            current, _ = self._state(log, last)
            below = last["seq"] if last is not None and current is not None else 0
            return {"action": "set", "version": version, "previous": current, "below": below}

        return log.append(make)

    def delete(self, name: str, alias: str) -> None:
        """Remove ``name@alias`` (recorded; setting it again starts a fresh stack)."""
        log = self.log(name, alias)

        def make(last: dict[str, Any] | None) -> dict[str, Any]:
            current, _ = self._state(log, last)
            if current is None:
                raise self.missing(name, alias)
            return {"action": "delete", "version": None, "previous": current, "below": 0}

        log.append(make)

    def rollback(self, name: str, alias: str) -> int:
        """Move ``name@alias`` back to its previous target that still exists; the new target."""
        log = self.log(name, alias)

        def make(last: dict[str, Any] | None) -> dict[str, Any]:
            if last is None:
                raise self.missing(name, alias)
            current, below = self._state(log, last)
            while below:
                record = log.record(below)
                version, below_next = self._state(log, record)
                if version is not None and self.exists(name, version):
                    return {"action": "rollback", "version": version, "previous": current,
                            "below": below_next}
                below = below_next
            raise ConflictError(
                f"{name}@{alias} cannot roll back: it has no earlier target "
                f"(it points at {current if current is not None else 'nothing'})"
            )

        return int(log.append(make)["version"])

    # --- state ------------------------------------------------------------------------------
    def _state(self, log: Log, record: dict[str, Any] | None) -> tuple[int | None, int]:
        """(target, below) after ``record``; logs written before the ``below`` field are replayed."""
        if record is None:
            return None, 0
        if "below" in record:
            version = record.get("version")
            return (int(version) if version is not None else None), int(record["below"])
        return self._legacy_states(log, log.read())[record["seq"]]

    def _legacy_states(self, log: Log, records: list[dict[str, Any]]) -> dict[int, tuple[int | None, int]]:
        """The state after each record, replaying from the start (old logs, mixed logs)."""
        states: dict[int, tuple[int | None, int]] = {}
        stack: list[int] = []  # seqs of the records whose states are stacked
        name = log.prefix.split("/")[1]
        for r in records:
            seq, action = r["seq"], r.get("action")
            if "below" in r:
                stack = _chain(states, r["below"]) + [seq] if r.get("version") is not None else []
                states[seq] = (r.get("version"), int(r["below"]))
                continue
            if action == "set":
                below = stack[-1] if stack else 0
                stack.append(seq)
                states[seq] = (int(r["version"]), below)
            elif action == "rollback":
                if stack:
                    stack.pop()
                while stack and not self.exists(name, states[stack[-1]][0]):
                    stack.pop()
                if stack:
                    states[seq] = (states[stack[-1]][0], stack[-2] if len(stack) > 1 else 0)
                    stack[-1] = seq
                else:
                    states[seq] = (None, 0)
            else:  # "remove" / "delete"
                stack.clear()
                states[seq] = (None, 0)
        return states


def _chain(states: dict[int, tuple[int | None, int]], seq: int) -> list[int]:
    out = []
    while seq:
        out.append(seq)
        seq = states.get(seq, (None, 0))[1]
    return out[::-1]
