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

from modelmgmt.deployment.base import Deployment
from modelmgmt.deployment.stats import RequestStats
from modelmgmt.errors import InvalidArgumentError, ModelmgmtError, NotFoundError

__all__ = [
    "ServedVersion",
    "ServingDeployment",
    "InputSignatureError",
    "load_version",
    "check_options",
    "resolve_resume_ref",
]

#: how many previous versions stay loaded in memory for an instant rollback
KEEP_LOADED = 2


class InputSignatureError(ValueError):
    """Input does not match the served version's signature (feature count or dtype)."""


def check_options(target: str, options: dict[str, Any], known: Iterable[str]) -> None:
    """Raise TypeError naming every option the target does not know."""
    known = tuple(known)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InvalidArgumentError(
            f"unknown option(s) for deployment target {target!r}: {', '.join(map(repr, unknown))}; "
            f"known options: {', '.join(known) or 'none'}"
        )


@attrs.frozen(eq=False)
class ServedVersion:
    """A fully loaded model version plus the input signature requests are checked against."""

    version: Any
    model: Any
    n_features: int | None
    dtype: np.dtype | None
    loaded_at: float = attrs.field(factory=time.time)

    @property
    def is_classifier(self) -> bool:
        """True when the model has ``predict_proba``."""
        return bool(getattr(self.model, "is_classifier", False)) or hasattr(self.model, "predict_proba")

    @property
    def label(self) -> str:
        """``name/version`` of the registered version."""
        return f"{self.version.name}/{self.version.version}"

    def check_input(self, X: Any) -> np.ndarray:
        """Return X as a 2-D numeric array matching the signature or raise InputSignatureError."""
        try:
            a = X if type(X) is np.ndarray else np.asarray(X)
        except Exception as exc:
            raise InputSignatureError(f"expected a 2-D numeric array; received {type(X).__name__} ({exc})") from None
        kind = a.dtype.kind
        n = self.n_features
        if kind not in "biuf" or a.ndim != 2 or (n is not None and a.shape[1] != n) or a.shape[0] == 0:
            self._reject(a)
        want = self.dtype
        if kind != "f":
            a = a.astype(want if want is not None and want.kind == "f" else np.float64)
        elif want is not None and want.kind == "f" and a.dtype.itemsize < want.itemsize:
            a = a.astype(want)  # float32 request for a float64 model: widen, never narrow
        return a  # NaN/inf are the model's to refuse (built-in models raise ValueError)

    def _reject(self, a: np.ndarray) -> None:
        """Raise the InputSignatureError that names what was expected and what came."""
        want = "?" if self.n_features is None else self.n_features
        dname = str(self.dtype) if self.dtype is not None else "numeric"
        if a.dtype.kind not in "biuf":
            raise InputSignatureError(
                f"expected input of dtype {dname} with {want} features; received dtype {a.dtype}"
            )
        if a.ndim != 2:
            raise InputSignatureError(
                f"expected 2-D input of shape (n_samples, {want}); received {a.ndim}-D shape {a.shape}"
            )
        if self.n_features is not None and a.shape[1] != self.n_features:
            raise InputSignatureError(
                f"expected {self.n_features} features (input shape (n_samples, {self.n_features})); "
                f"received {a.shape[1]} (shape {a.shape})"
            )
        raise InputSignatureError(f"expected at least one row; received shape {a.shape}")


def _signature(model: Any, version: Any) -> tuple[int | None, np.dtype | None]:
    sig = getattr(model, "input_signature", None)
    if not sig:
        sig = getattr(version, "input_signature", None) or getattr(version, "signature", None)
    if not sig:
        return None, None
    n = sig.get("n_features")
    dt = sig.get("dtype")
    try:
        dtype = np.dtype(dt) if dt else None
    except TypeError:
        dtype = None
    return (int(n) if n is not None else None), dtype


def load_version(registry: Any, ref: str) -> ServedVersion:
    """Resolve ``ref`` once, then load and verify exactly that version (never a newer one)."""
    if not isinstance(ref, str):
        raise InvalidArgumentError(f"ref must be a str like 'name', 'name/3' or 'name@alias'; got {type(ref).__name__}")
    version = registry.get(ref)
    model = registry.load(f"{version.name}/{version.version}", verify=True)
    n, dtype = _signature(model, version)
    return ServedVersion(version=version, model=model, n_features=n, dtype=dtype)


def resolve_resume_ref(registry: Any, name: str | None) -> str:
    """The ``name/version`` the deployment ``name`` served last, from the registry's history."""
    if name is None:
        raise InvalidArgumentError("ref=None resumes a named deployment; pass name=... as well")
    history = _history(registry, name)
    for event in reversed(history):
        if event.get("event") in ("deploy", "update", "rollback", "resume") and "model" in event:
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
    """A thread-safe endpoint around one served version, with swap, rollback and statistics."""

    target = "inprocess"

    def __init__(self, registry: Any, served: ServedVersion, *, name: str | None = None,
                 monitor: Any = None) -> None:
        if monitor is not None and not callable(getattr(monitor, "observe", None)):
            raise InvalidArgumentError(
                f"monitor must have an observe(X, y_pred=None, y_true=None) method; got {type(monitor).__name__}"
            )
        self._registry = registry
        self._current: ServedVersion | None = served
        self._previous: list[ServedVersion] = []
        self._swap_lock = threading.Lock()
        self.name = name if name is not None else served.version.name
        self.monitor = monitor
        self.stats = RequestStats()
        self.monitor_errors = 0
        self._monitor_lock = threading.Lock()
        self.started_at = time.time()
        self._t0 = time.perf_counter()
        self._stopped = False

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

    def predict(self, X: Any) -> np.ndarray:
        """Predictions of the served version; ValueError naming expected/received on bad input."""
        return self.run(X)[1]["predict"]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of the served version (classifiers only)."""
        return self.run(X, outputs=("predict_proba",))[1]["predict_proba"]

    def run(self, X: Any, outputs: tuple[str, ...] = ("predict",), *, endpoint: str = "predict") -> tuple[ServedVersion, dict[str, np.ndarray]]:
        """Run one request on one version; returns that version and the requested outputs."""
        served = self.served()
        t0 = time.perf_counter()
        try:
            Xa = served.check_input(X)
            result = {}
            for out in outputs:
                if out == "predict":
                    result[out] = served.model.predict(Xa)
                elif out == "predict_proba" and served.is_classifier:
                    result[out] = served.model.predict_proba(Xa)
                else:
                    known = "predict, predict_proba" if served.is_classifier else "predict"
                    raise InputSignatureError(f"unknown output {out!r} for {served.label}; expected one of: {known}")
        except BaseException:
            self.stats.record(endpoint, time.perf_counter() - t0, code="error", error=True)
            raise
        self.stats.record(endpoint, time.perf_counter() - t0, code="ok")
        if self.monitor is not None:
            self._observe(Xa, result.get("predict"))
        return served, result

    def _observe(self, X: np.ndarray, y_pred: Any) -> None:
        try:
            self.monitor.observe(X, y_pred=y_pred)
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

    def update(self, ref: str) -> Any:
        """Load and verify ``ref`` completely, then switch to it atomically; returns its ModelVersion."""
        self.served()
        new = load_version(self._registry, ref)  # slow part, outside the lock: requests keep flowing
        with self._swap_lock:
            old = self.served()
            self._current = new
            self._previous.append(old)
            self._trim()
        self._record("update", new)
        return new.version

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
            target = load_version(self._registry, f"{prev.version.name}/{prev.version.version}")
        with self._swap_lock:
            if not self._previous or self._previous[-1] is not prev:
                raise ModelmgmtError(f"deployment {self.name!r} changed version during rollback; "
                                     f"now serving {self.served().label}, retry if still needed")
            self._previous.pop()
            self._current = target
        prev = target
        self._record("rollback", prev)
        return prev.version

    def _trim(self) -> None:
        for i in range(len(self._previous) - KEEP_LOADED):
            p = self._previous[i]
            if p.model is not None:
                self._previous[i] = attrs.evolve(p, model=None)

    def history(self) -> list[dict[str, Any]]:
        """Deployment events recorded in the registry for this deployment's name (oldest first)."""
        return _history(self._registry, self.name)

    def status(self) -> dict[str, Any]:
        """Name, version, uptime, request/error counts and p50/p90/p99 latency in ms."""
        cur = self._current
        snap = self.stats.snapshot()
        return {
            "name": self.name,
            "model": cur.version.name if cur else None,
            "version": cur.version.version if cur else None,
            "target": self.target,
            "running": cur is not None,
            "uptime_s": time.perf_counter() - self._t0,
            "requests": snap["requests"],
            "errors": snap["errors"],
            "latency_ms": snap["latency_ms"],
            **{f"{k}_ms": v for k, v in snap["latency_ms"].items()},  # flat copies: p50_ms, ...
            "monitor_errors": self.monitor_errors,
            "previous_versions": [p.version.version for p in self._previous],
        }

    def stop(self) -> None:
        """Stop serving (idempotent); records a ``stop`` event."""
        with self._swap_lock:
            if self._stopped:
                return
            self._stopped = True
            last = self._current
            self._current = None
        self._close()
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
            "target": self.target,
            "time": time.time(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }

    def _record(self, event: str, served: ServedVersion) -> None:
        fn = getattr(self._registry, "record_deployment", None)
        if fn is None:
            return
        try:
            fn(self.name, self._event(event, served))
        except Exception as exc:  # a read-only registry must not stop serving
            warnings.warn(f"deployment {self.name!r}: could not record {event!r} in the registry: "
                          f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=3)

    def __repr__(self) -> str:
        cur = self._current
        shown = cur.label if cur else "stopped"
        return f"<{type(self).__name__} {self.name!r} serving {shown}>"
