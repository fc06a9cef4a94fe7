"""Store layout of a registry, reference parsing ("name", "name/3", "name@alias") and the
append-only alias history (records claimed with put-if-absent sequence numbers)."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any, Callable

from modelmgmt._validation import validate_name
from modelmgmt.errors import ConflictError, InvalidArgumentError, NotFoundError
from modelmgmt.stores.base import Store, validate_key

__all__ = [
    "MODELS",
    "version_prefix",
    "version_key",
    "parse_ref",
    "Log",
    "replay_alias",
    "writer_id",
]

MODELS = "models/"
_SEQ_WIDTH = 10


def version_prefix(name: str, version: int | None = None) -> str:
    """``models/<name>/versions/`` or, with a version, that version's folder (trailing '/')."""
    base = f"{MODELS}{name}/versions/"
    return base if version is None else f"{base}{version}/"


def version_key(name: str, version: int, leaf: str) -> str:
    """The key of ``leaf`` (claim.json, manifest.json, ...) in a version's folder."""
    return f"{version_prefix(name, version)}{leaf}"


def alias_prefix(name: str, alias: str | None = None) -> str:
    """``models/<name>/aliases/`` or one alias's history folder."""
    base = f"{MODELS}{name}/aliases/"
    return base if alias is None else f"{base}{alias}/"


def check_version(version: Any) -> int:
    """A version number: an int >= 1 (bool refused)."""
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidArgumentError(f"version must be an int >= 1; got {type(version).__name__} {version!r}")
    if version < 1:
        raise InvalidArgumentError(f"version must be an int >= 1; got {version}")
    return version


def parse_ref(ref: Any, is_model: Callable[[str], bool]) -> tuple[str, int | None, str | None]:
    """Split a reference into (name, version or None, alias or None).

    "name" → latest, "name/3" → version 3, "name@alias" → the alias's target. A name that
    itself contains '@' is taken whole when such a model exists.
    """
    if not isinstance(ref, str):
        raise InvalidArgumentError(f"a model reference must be a str like 'name', 'name/3' or 'name@alias'; "
                        f"got {type(ref).__name__}")
    if "/" in ref:
        name, _, number = ref.partition("/")
        validate_name(name, "model name")
        if not number.isdigit() or number.startswith("0"):
            raise InvalidArgumentError(f"a reference 'name/N' needs a version number N >= 1; got {ref!r}")
        return name, int(number), None
    if "@" in ref and not is_model(ref):
        name, _, alias = ref.rpartition("@")
        validate_name(name, "model name")
        validate_name(alias, "alias")
        return name, None, alias
    validate_name(ref, "model name")
    return ref, None, None


class Log:
    """An append-only, totally ordered log of JSON records under a store prefix.

    Each append claims the next sequence number with ``put_if_absent``; a writer that loses a
    race re-reads and tries the next number, so concurrent writers (threads, processes,
    machines on object storage) never overwrite each other and every reader sees one order.
    """

    def __init__(self, store: Store, prefix: str) -> None:
        validate_key(prefix.rstrip("/"))
        self.store = store
        self.prefix = prefix

    def _key(self, seq: int) -> str:
        return f"{self.prefix}{seq:0{_SEQ_WIDTH}d}.json"

    def read(self) -> list[dict[str, Any]]:
        """Every record, in order (each has its ``seq``)."""
        records = []
        for key in self.store.list(self.prefix):
            leaf = key[len(self.prefix):]
            if "/" in leaf or not leaf.endswith(".json") or not leaf[:-5].isdigit():
                continue
            try:
                record = json.loads(self.store.get(key))
            except NotFoundError:  # pragma: no cover - deleted between list and get
                continue
            record["seq"] = int(leaf[:-5])
            records.append(record)
        records.sort(key=lambda r: r["seq"])
        return records

    def append(self, record: dict[str, Any], check: Callable[[list[dict[str, Any]]], None] | None = None,
               attempts: int = 1000) -> list[dict[str, Any]]:
        """Append ``record`` after ``check(existing records)`` passes; returns the log including it."""
        for _ in range(attempts):
            records = self.read()
            if check is not None:
                check(records)
            seq = records[-1]["seq"] + 1 if records else 1
            body = {**record, "time": time.time(), "writer": writer_id()}
            if self.store.put_if_absent(self._key(seq), json.dumps(body, sort_keys=True).encode()):
                return [*records, {**body, "seq": seq}]
        raise ConflictError(f"could not append to {self.prefix!r} after {attempts} attempts (contention)")


def writer_id() -> dict[str, Any]:
    """Who is writing: host name and process id (gc uses them to spot dead writers)."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def replay_alias(records: list[dict[str, Any]], exists: Callable[[int], bool]) -> list[int]:
    """The alias's stack of targets after its history; the last entry is the current target.

    "set" pushes a version; "rollback" pops the current target, then drops versions that were
    deleted since, so the alias lands on the newest earlier target that still exists;
    "remove" empties the stack (the alias no longer exists).
    """
    stack: list[int] = []
    for record in records:
        if record.get("action") == "set":
            stack.append(int(record["version"]))
        elif record.get("action") == "rollback":
            if stack:
                stack.pop()
            while stack and not exists(stack[-1]):
                stack.pop()
        elif record.get("action") == "remove":
            stack.clear()
    return stack
