"""Tracking runs: params, stepped metrics, tags and status of one training run, in the store.

A run lives at ``runs/<experiment>/<run id>.json`` and is rewritten atomically (``put``) at
its start, on every ``log_param(s)``/``set_tag``, on registration lineage, at its end, and
for metrics at most every ``flush_interval`` seconds (0.5 s by default) so that a tight
training loop does not rewrite the file once per step. ``run.flush()`` forces a write.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import attrs

from modelmgmt._validation import validate_name
from modelmgmt.errors import InvalidArgumentError, NotFoundError
from modelmgmt.registry import artifact

__all__ = ["Run", "list_runs", "find_run"]

_STATUSES = ("running", "finished", "failed")


def _run_key(experiment: str, run_id: str) -> str:
    return f"runs/{experiment}/{run_id}.json"


def _check_key(key: Any, what: str) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidArgumentError(f"{what} name must be a non-empty str; got {key!r}")
    return key


def _check_value(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not (
        hasattr(value, "dtype") and getattr(value, "shape", None) == () and value.dtype.kind in "iuf"
    ):
        raise InvalidArgumentError(f"metric {key!r} must be a real number; got {type(value).__name__} {value!r}")
    return float(value)


@attrs.define(eq=False)
class Run:
    """One tracking run: ``id``, ``experiment``, ``params``, ``metrics`` (name → list of
    (step, value)), ``tags``, ``status`` ("running", "finished", "failed"), start/end times and
    the versions registered from it. A context manager: the block's outcome sets the status."""

    id: str
    experiment: str
    params: dict[str, Any] = attrs.field(factory=dict)
    metrics: dict[str, list[tuple[int, float]]] = attrs.field(factory=dict)
    tags: dict[str, Any] = attrs.field(factory=dict)
    status: str = "running"
    start_time: str = ""
    end_time: str | None = None
    versions: list[str] = attrs.field(factory=list)
    error: str | None = None
    flush_interval: float = attrs.field(default=0.5, repr=False)
    _registry: Any = attrs.field(default=None, repr=False, alias="_registry")
    _last_flush: float = attrs.field(default=0.0, repr=False, alias="_last_flush")
    _dirty: bool = attrs.field(default=False, repr=False, alias="_dirty")

    # --- creation and persistence ---------------------------------------------------------
    @classmethod
    def _start(cls, registry: Any, experiment: str, params: dict[str, Any] | None = None,
               tags: dict[str, Any] | None = None) -> "Run":
        validate_name(experiment, "experiment name")
        run = cls(id=uuid.uuid4().hex, experiment=experiment, start_time=artifact.utc_now(),
                  _registry=registry)
        if params is not None:
            run._update(run.params, params, "params")
        if tags is not None:
            run._update(run.tags, tags, "tags")
        run.flush()
        return run

    def _update(self, target: dict[str, Any], values: Any, what: str) -> None:
        if not isinstance(values, dict):
            raise InvalidArgumentError(f"{what} must be a dict; got {type(values).__name__}")
        for key, value in values.items():
            target[_check_key(key, what[:-1])] = artifact.to_jsonable(value, f"{what}[{key!r}]")

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able record that is stored."""
        return {
            "id": self.id,
            "experiment": self.experiment,
            "params": self.params,
            "metrics": {k: [[s, v] for s, v in pts] for k, pts in self.metrics.items()},
            "tags": self.tags,
            "status": self.status,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "versions": self.versions,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], registry: Any = None) -> "Run":
        """Rebuild a run from its stored record."""
        return cls(
            id=data["id"],
            experiment=data["experiment"],
            params=dict(data.get("params", {})),
            metrics={k: [(int(s), float(v)) for s, v in pts] for k, pts in data.get("metrics", {}).items()},
            tags=dict(data.get("tags", {})),
            status=data.get("status", "running"),
            start_time=data.get("start_time", ""),
            end_time=data.get("end_time"),
            versions=list(data.get("versions", [])),
            error=data.get("error"),
            _registry=registry,
        )

    def flush(self) -> None:
        """Write the run to the store now (atomic replace)."""
        if self._registry is None:
            return
        data = json.dumps(self.to_dict(), sort_keys=True).encode()
        self._registry.store.put(_run_key(self.experiment, self.id), data)
        self._last_flush, self._dirty = time.monotonic(), False

    def _maybe_flush(self) -> None:
        self._dirty = True
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    # --- logging ------------------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        """Record one hyperparameter (JSON-able value)."""
        self._update(self.params, {key: value}, "params")
        self.flush()

    def log_params(self, params: dict[str, Any]) -> None:
        """Record several hyperparameters."""
        self._update(self.params, params, "params")
        self.flush()

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        """Append ``value`` to metric ``key`` at ``step`` (default: the next step, from 0)."""
        _check_key(key, "metric")
        value = _check_value(value, key)
        points = self.metrics.setdefault(key, [])
        if step is None:
            step = points[-1][0] + 1 if points else 0
        elif isinstance(step, bool) or not isinstance(step, int) or step < 0:
            if not points:
                del self.metrics[key]
            raise InvalidArgumentError(f"step must be an int >= 0 or None; got {step!r}")
        points.append((step, value))
        self._maybe_flush()

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Append several metrics at one step."""
        if not isinstance(metrics, dict):
            raise InvalidArgumentError(f"metrics must be a dict; got {type(metrics).__name__}")
        for key, value in metrics.items():
            _check_key(key, "metric")
            _check_value(value, key)
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag (JSON-able value)."""
        self._update(self.tags, {key: value}, "tags")
        self.flush()

    def latest(self, key: str) -> float:
        """The last logged value of metric ``key``."""
        if key not in self.metrics or not self.metrics[key]:
            raise NotFoundError(f"run {self.id} has no metric {key!r}")
        return self.metrics[key][-1][1]

    def _registered(self, version: Any) -> None:
        self.versions.append(version.ref)
        self.tags["registered_versions"] = ",".join(self.versions)
        self.flush()

    # --- lifecycle ----------------------------------------------------------------------
    def end(self, status: str = "finished", error: str | None = None) -> None:
        """Close the run with ``status`` ("finished" or "failed") and write it."""
        if status not in _STATUSES[1:]:
            raise InvalidArgumentError(f"status must be 'finished' or 'failed'; got {status!r}")
        self.status, self.error, self.end_time = status, error, artifact.utc_now()
        self.flush()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is None:
            self.end("finished")
        else:
            self.end("failed", f"{exc_type.__name__}: {exc}")
        return False  # the exception, if any, propagates

    def __del__(self) -> None:  # pragma: no cover - best effort for unflushed metrics
        try:
            if self._dirty and self._registry is not None:
                self.flush()
        except Exception:
            pass


def list_runs(registry: Any, experiment: str) -> list[Run]:
    """Every run of ``experiment`` re-read from the store, by start time ([] if none)."""
    validate_name(experiment, "experiment name")
    runs = []
    for key in registry.store.list(f"runs/{experiment}/"):
        try:
            runs.append(Run.from_dict(json.loads(registry.store.get(key)), registry))
        except NotFoundError:  # pragma: no cover - deleted meanwhile
            continue
    runs.sort(key=lambda r: (r.start_time, r.id))
    return runs


def find_run(registry: Any, run_id: str) -> Run:
    """The run with ``run_id`` in any experiment (NotFoundError when none)."""
    if not isinstance(run_id, str) or not run_id.isalnum():
        raise InvalidArgumentError(f"run id must be an alphanumeric str; got {run_id!r}")
    for key in registry.store.list("runs/"):
        if key.endswith(f"/{run_id}.json"):
            return Run.from_dict(json.loads(registry.store.get(key)), registry)
    raise NotFoundError(f"no run with id {run_id!r} in registry {registry.url!r}")

