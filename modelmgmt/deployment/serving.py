"""What every built-in deployment shares: loading, input checks, atomic swap, rollback, history.

A :class:`ServingDeployment` holds exactly one reference to the :class:`ServedVersion` being
served. ``predict`` reads that reference once, so a request always runs from start to end
on one fully loaded version. ``update`` loads and verifies the new version *before* taking
the swap lock, then replaces the reference in one assignment (atomic in CPython): no
request fails and none sees a half-loaded model.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
from typing import Any, Iterable

import attrs
import numpy as np

from modelmgmt._validation import check_int, check_real
from modelmgmt.deployment.base import Deployment
from modelmgmt.deployment.batching import Batcher
from modelmgmt.deployment.served import (
    InputSignatureError,
    ServedVersion,
    UnknownOutputError,
    load_version,
)
from modelmgmt.deployment.stats import RequestStats
from modelmgmt.deployment.traffic import Shadow, Split
from modelmgmt.errors import InvalidArgumentError, ModelmgmtError, NotFoundError
from modelmgmt.monitor.monitor import Monitor

__all__ = [
    "ServedVersion",
    "ServingDeployment",
    "InputSignatureError",
    "UnknownOutputError",
    "load_version",
    "followable",
    "check_options",
    "resolve_resume_ref",
]

#: how many previous versions stay loaded in memory for an instant rollback
KEEP_LOADED = 2


def check_options(target: str, options: dict[str, Any], known: Iterable[str]) -> None:
    """Raise InvalidArgumentError naming every option the target does not know."""
    known = tuple(known)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InvalidArgumentError(
            f"unknown option(s) for deployment target {target!r}: {', '.join(map(repr, unknown))}; "
            f"known options: {', '.join(known) or 'none'}"
        )


def followable(ref: str) -> bool:
    """True for refs that can move: "name@alias" and "name" (latest), not "name/3"."""
    return "@" in ref or "/" not in ref


def resolve_resume_ref(registry: Any, name: str | None) -> str:
    """The ``name/version`` the deployment ``name`` served last, from the registry's history."""
    if name is None:
        raise InvalidArgumentError("ref=None resumes a named deployment; pass name=... as well")
    history = _history(registry, name)
    for event in reversed(history):
        if event.get("event") in ("deploy", "update", "rollback", "resume", "follow") and "model" in event:
            return f"{event['model']}/{event['version']}"
    raise NotFoundError(f"deployment {name!r} has no recorded history to resume from; pass a ref")


def _history(registry: Any, name: str) -> list[dict[str, Any]]:
    fn = getattr(registry, "deployment_history", None)
    if fn is None:
        return []
    try:
        return list(fn(name))
    except NotFoundError:
        return []


class ServingDeployment(Deployment):
    """A thread-safe endpoint around one served version: swap, rollback, follow, batching,
    canary split, shadow traffic and statistics.

    ``on_change(method, args)``, when set, is told of every update/rollback/split/shadow
    (worker processes repeat them); ``record=False`` keeps events out of the registry.
    """

    target = "inprocess"

    def __init__(self, registry: Any, served: ServedVersion, *, name: str | None = None,
                 monitor: Any = None, ref: str | None = None, max_batch_size: int = 1,
                 max_batch_delay_ms: float = 0.0, record: bool = True) -> None:
        if monitor is not None and not callable(getattr(monitor, "observe", None)):
            raise InvalidArgumentError(
                f"monitor must have an observe(X, y_pred=None, y_true=None) method; got {type(monitor).__name__}"
            )
        max_batch_size = check_int(max_batch_size, "max_batch_size", min=1)
        max_batch_delay_ms = check_real(max_batch_delay_ms, "max_batch_delay_ms", min=0.0, max=10_000.0)
        self._registry = registry
        self._current: ServedVersion | None = served
        self._previous: list[ServedVersion] = []
        self._swap_lock = threading.Lock()
        self.name = name if name is not None else served.version.name
        self.ref = ref if ref is not None else served.label
        self.monitor = monitor
        self.stats = RequestStats()
        self.predictions = 0
        self.monitor_errors = 0
        self._monitor_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.started_at = time.time()
        self._t0 = time.perf_counter()
        self._stopped = False
        self._record_events = record
        self.on_change: Any = None
        self._split: Split | None = None
        self._shadow: Shadow | None = None
        self.batcher = Batcher(max_batch_size, max_batch_delay_ms, self.name) if max_batch_size > 1 else None

    def _started(self, event: str = "deploy") -> None:
        """Record the deploy (or resume) event once the target is up."""
        self._record(event, self.served())

    # --- serving --------------------------------------------------------------------
    def served(self) -> ServedVersion:
        """The version being served right now (raise when stopped)."""
        cur = self._current
        if cur is None:
            raise ModelmgmtError(f"deployment {self.name!r} is stopped; deploy again to serve")
        return cur

    def pick(self) -> ServedVersion:
        """The version the next request runs on: the canary split's choice, else the current one."""
        cur = self.served()
        split = self._split
        return split.pick() if split is not None else cur

    def predict(self, X: Any) -> np.ndarray:
        """Predictions of the served version; ValueError naming expected/received on bad input."""
        return self.run(X)[1]["predict"]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of the served version (classifiers only)."""
        return self.run(X, outputs=("predict_proba",))[1]["predict_proba"]

    def run(self, X: Any, outputs: tuple[str, ...] | None = ("predict",), *,
            endpoint: str = "predict") -> tuple[ServedVersion, dict[str, np.ndarray]]:
        """Run one request on one version; returns that version and the requested outputs
        (every output the model has when ``outputs`` is None)."""
        return self.run_on(self.pick(), X, outputs, endpoint=endpoint)

    def run_on(self, served: ServedVersion, X: Any, outputs: tuple[str, ...] | None = ("predict",), *,
               endpoint: str = "predict") -> tuple[ServedVersion, dict[str, np.ndarray]]:
        """``run`` on a given loaded version (the current one or one of a canary split)."""
        t0 = time.perf_counter()
        try:
            wanted = served.check_outputs(outputs)
            Xa = served.check_input(X)
            if self.batcher is not None:
                result = self.batcher.submit(served, Xa, wanted)
            else:
                result = served.compute(Xa, wanted)
        except BaseException:
            self.stats.record(endpoint, time.perf_counter() - t0, code="error", error=True)
            raise
        self.stats.record(endpoint, time.perf_counter() - t0, code="ok")
        with self._count_lock:
            self.predictions += 1
        shadow = self._shadow
        if shadow is not None:
            shadow.offer(Xa, result.get("predict"))
        if self.monitor is not None:
            self._observe(served, Xa, result)
        return served, result

    def _observe(self, served: ServedVersion, X: np.ndarray, result: dict[str, np.ndarray]) -> None:
        """Give the monitor the rows, the predictions and, for classifiers, the class
        probabilities (computed here when the request did not ask for them), so that it can
        estimate performance before labels arrive (CBPE)."""
        try:
            if not isinstance(self.monitor, Monitor):  # any object with observe(X, y_pred=None, y_true=None)
                self.monitor.observe(X, y_pred=result.get("predict"))
                return
            scores = result.get("predict_proba")
            if scores is None and served.is_classifier:
                scores = served.compute(X, ("predict_proba",))["predict_proba"]
            self.monitor.observe(X, y_pred=result.get("predict"), y_score=scores)
        except Exception as exc:  # the monitor must never fail a request
            with self._monitor_lock:
                self.monitor_errors += 1
                first = self.monitor_errors == 1
            if first:
                warnings.warn(f"deployment {self.name!r}: monitor.observe failed ({type(exc).__name__}: {exc}); "
                              "further failures are only counted", RuntimeWarning, stacklevel=3)

    # --- lifecycle --------------------------------------------------------------------
    @property
    def version(self) -> Any:
        """The ModelVersion being served."""
        return self.served().version

    @property
    def model(self) -> Any:
        """The loaded Model being served."""
        return self.served().model

    def _load(self, ref: str) -> ServedVersion:
        """The loaded version for ``ref``, reusing one already in memory when it is the same."""
        v = self._registry.get(ref)
        for s in (self._current, *self._previous):
            if s is not None and s.model is not None and s.version.name == v.name \
                    and s.version.version == v.version and s.version.digest == v.digest:
                return s
        split = self._split
        for s in (split.served if split is not None else ()):
            if s.version.name == v.name and s.version.version == v.version:
                return s
        return load_version(self._registry, f"{v.name}/{v.version}")

    def update(self, ref: str, *, event: str = "update") -> Any:
        """Load and verify ``ref`` completely, then switch to it atomically (ending any
        canary split); returns its ModelVersion. The deployment then follows ``ref``
        (so ``update("m/3")`` on a following deployment pins it; ``update("m@prod")`` follows again)."""
        self.served()
        if not isinstance(ref, str):
            raise InvalidArgumentError(f"ref must be a str like 'name', 'name/3' or 'name@alias'; got {type(ref).__name__}")
        new = self._load(ref)  # slow part, outside the lock: requests keep flowing
        # worker processes swap first: once this one reports the new version, every worker serves it
        self._changed("update", new.label)
        with self._swap_lock:
            old = self.served()
            self._current = new
            self._split = None
            if event != "follow":  # an operator's choice: follow that ref from now on (if it moves)
                self.ref = ref
            if old is not new:
                self._previous.append(old)
            self._trim()
        self._record(event, new)
        return new.version

    def follow_check(self) -> Any:
        """Re-resolve the deployment's ref; swap when it names another version. Returns the new
        ModelVersion, or None when nothing moved (or the ref cannot move)."""
        cur = self._current
        if cur is None or not followable(self.ref):
            return None
        v = self._registry.get(self.ref)
        if (v.name, v.version) == (cur.version.name, cur.version.version):
            return None
        return self.update(f"{v.name}/{v.version}", event="follow")

    def rollback(self) -> Any:
        """Serve the version served before the last switch; ModelmgmtError when there is none."""
        self.served()
        with self._swap_lock:
            if not self._previous:
                raise ModelmgmtError(
                    f"deployment {self.name!r} has no earlier version to roll back to; "
                    f"it is serving {self.served().label}"
                )
            prev = self._previous[-1]
        target = prev
        if prev.model is None:  # dropped from memory: reload the exact version first
            target = load_version(self._registry, prev.label)
        with self._swap_lock:
            if not self._previous or self._previous[-1] is not prev:
                raise ModelmgmtError(f"deployment {self.name!r} changed version during rollback; "
                                     f"now serving {self.served().label}, retry if still needed")
            self._previous.pop()
            self._current = target
            self._split = None
            self.ref = target.label  # pinned: following stops until update() names an alias again
        self._record("rollback", target)
        self._changed("update", target.label)
        return target.version

    def split(self, weights: dict[str, float] | None) -> dict[str, float] | None:
        """Route each request to one of several versions with these weights (a canary);
        ``None`` or ``{}`` ends the split. Returns the normalised weights."""
        self.served()
        if not weights:
            self._split = None
            self._changed("split", None)
            return None
        if not isinstance(weights, dict):
            raise InvalidArgumentError(f"split weights must be a dict {{ref: weight}}; got {type(weights).__name__}")
        entries = []
        for ref, w in weights.items():
            if not isinstance(ref, str):
                raise InvalidArgumentError(f"split keys must be refs (str); got {ref!r}")
            w = check_real(w, f"split weight of {ref!r}", min=0.0)
            served = self._load(ref)
            if served.version.name != self.served().version.name:
                raise InvalidArgumentError(f"split ref {ref!r} names model {served.version.name!r}; "
                                           f"this deployment serves {self.served().version.name!r}")
            entries.append((ref, served, w))
        if sum(w for _, _, w in entries) <= 0:
            raise InvalidArgumentError(f"split weights must add up to more than 0; got {weights}")
        self._split = Split(entries)
        self._record("split", self.served(), weights={k: float(v) for k, v in weights.items()})
        self._changed("split", {k: float(v) for k, v in weights.items()})
        return dict(self._split.weights)

    def shadow(self, ref: str | None) -> Any:
        """Mirror every request to ``ref`` off the response path and compare its ``predict``
        with the served one (see ``status()["shadow"]``); ``None`` stops. Returns its version."""
        self.served()
        old = self._shadow
        if ref is None:
            self._shadow = None
            if old is not None:
                old.stop()
            self._changed("shadow", None)
            return None
        if not isinstance(ref, str):
            raise InvalidArgumentError(f"shadow ref must be a str like 'name/3'; got {type(ref).__name__}")
        served = self._load(ref)
        self._shadow = Shadow(ref, served)
        if old is not None:
            old.stop()
        self._record("shadow", served, shadow_of=self.served().label)
        self._changed("shadow", ref)
        return served.version

    def _changed(self, method: str, arg: Any) -> None:
        fn = self.on_change
        if fn is not None:
            fn(method, arg)

    def _trim(self) -> None:
        for i in range(len(self._previous) - KEEP_LOADED):
            p = self._previous[i]
            if p.model is not None:
                self._previous[i] = attrs.evolve(p, model=None)

    def history(self) -> list[dict[str, Any]]:
        """Deployment events recorded in the registry for this deployment's name (oldest first)."""
        return _history(self._registry, self.name)

    def status(self) -> dict[str, Any]:
        """Name, version, uptime, request/error counts, p50/p90/p99 latency in ms, and the
        canary split (requests per ref), shadow comparison and batching statistics."""
        cur = self._current
        snap = self.stats.snapshot()
        split, shadow = self._split, self._shadow
        return {
            "name": self.name,
            "model": cur.version.name if cur else None,
            "version": cur.version.version if cur else None,
            "ref": self.ref,
            "target": self.target,
            "running": cur is not None,
            "uptime_s": time.perf_counter() - self._t0,
            "requests": snap["requests"],
            "errors": snap["errors"],
            "predictions": self.predictions,
            "latency_ms": snap["latency_ms"],
            **{f"{k}_ms": v for k, v in snap["latency_ms"].items()},  # flat copies: p50_ms, ...
            "monitor_errors": self.monitor_errors,
            "previous_versions": [p.version.version for p in self._previous],
            "split": split.counts() if split is not None else None,
            "shadow": shadow.snapshot() if shadow is not None else None,
            "batching": self.batcher.stats() if self.batcher is not None else None,
            # CPU seconds the served version's model spent per 1,000 predicted rows
            "cpu_seconds_per_1k": cur.cost.per_1k() if cur else None,
        }

    def stop(self) -> None:
        """Stop serving (idempotent); records a ``stop`` event."""
        with self._swap_lock:
            if self._stopped:
                return
            self._stopped = True
            last = self._current
        self._close()
        with self._swap_lock:
            self._current = None
        if self.batcher is not None:
            self.batcher.stop()
        if self._shadow is not None:
            self._shadow.stop()
        if last is not None:
            self._record("stop", last)

    def _close(self) -> None:
        """Release target resources (servers, sockets); called once by stop()."""

    def _event(self, event: str, served: ServedVersion) -> dict[str, Any]:
        return {
            "event": event,
            "deployment": self.name,
            "model": served.version.name,
            "version": served.version.version,
            "digest": getattr(served.version, "digest", None),
            "ref": self.ref,
            "target": self.target,
            "time": time.time(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }

    def _record(self, event: str, served: ServedVersion, **extra: Any) -> None:
        if not self._record_events:
            return
        fn = getattr(self._registry, "record_deployment", None)
        if fn is None:
            return
        try:
            fn(self.name, {**self._event(event, served), **extra})
        except Exception as exc:  # a read-only registry must not stop serving
            warnings.warn(f"deployment {self.name!r}: could not record {event!r} in the registry: "
                          f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=3)

    def __repr__(self) -> str:
        cur = self._current
        shown = cur.label if cur else "stopped"
        return f"<{type(self).__name__} {self.name!r} serving {shown}>"
