"""Tracking runs: params, stepped metrics, tags and status of one training run, in the store.

A run lives at ``runs/<experiment>/<run id>.json`` (see ``registry.layout``) and is rewritten atomically (``put``) at
its start, on every ``log_param(s)``/``set_tag``, on registration lineage, at its end, and
for metrics at most every ``flush_interval`` seconds (0.5 s by default) so that a tight
training loop does not rewrite the file once per step. ``run.flush()`` forces a write.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import attrs

from modelmgmt._resources import ResourceMeter
from modelmgmt._validation import validate_name
from modelmgmt.errors import InvalidArgumentError, NotFoundError
from modelmgmt.registry import artifact, layout
from modelmgmt.registry.run_index import run_changed
from modelmgmt.viz import run_html

__all__ = ["Run", "list_runs", "find_run", "list_experiments", "run_records", "record_summary"]

_STATUSES = ("running", "finished", "failed")


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
    parent_id: str | None = None
    resources: dict[str, Any] = attrs.field(factory=dict)
    flush_interval: float = attrs.field(default=0.5, repr=False)
    _registry: Any = attrs.field(default=None, repr=False, alias="_registry")
    _last_flush: float = attrs.field(default=0.0, repr=False, alias="_last_flush")
    _dirty: bool = attrs.field(default=False, repr=False, alias="_dirty")
    _final_written: bool = attrs.field(default=False, repr=False, alias="_final_written")
    _meter: Any = attrs.field(default=None, repr=False, alias="_meter")

    # --- creation and persistence ---------------------------------------------------------
    @classmethod
    def start(cls, registry: Any, experiment: str, params: dict[str, Any] | None = None,
              tags: dict[str, Any] | None = None, parent: Any = None) -> "Run":
        """Create and write a new run of ``experiment`` (``parent``: a Run or run id)."""
        validate_name(experiment, "experiment name")
        parent_id = getattr(parent, "id", parent)
        if parent_id is not None and (not isinstance(parent_id, str) or not parent_id.isalnum()):
            raise InvalidArgumentError(f"parent must be a Run or a run id (str); got {type(parent).__name__} {parent!r}")
        run = cls(id=uuid.uuid4().hex, experiment=experiment, start_time=artifact.utc_now(),
                  parent_id=parent_id, _registry=registry, _meter=ResourceMeter().start())
        if params is not None:
            run._update(run.params, params, "params")
        if tags is not None:
            run._update(run.tags, tags, "tags")
        if registry is not None:
            registry.store.put(layout.run_id_key(run.id), experiment.encode())
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
            "parent_id": self.parent_id,
            "resources": self.resources,
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
            parent_id=data.get("parent_id"),
            resources=dict(data.get("resources") or {}),
            _registry=registry,
            _final_written=data.get("status") in _STATUSES[1:],
        )

    def flush(self) -> None:
        """Write the run to the store now (atomic replace)."""
        if self._registry is None:
            return
        data = json.dumps(self.to_dict(), sort_keys=True).encode()
        self._registry.store.put(layout.run_key(self.experiment, self.id), data)
        final = self.status in _STATUSES[1:]
        if final and self._final_written:  # an ended run changed: the run index re-reads it
            run_changed(self._registry.store, self.experiment, self.id)
        self._final_written = final
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

    def record_version(self, version: Any) -> None:
        """Note that ``version`` (a ModelVersion) was registered from this run (lineage)."""
        self.versions.append(version.ref)
        self.tags["registered_versions"] = ",".join(self.versions)
        self.flush()

    # --- artifacts ------------------------------------------------------------------------
    def _artifact_key(self, name: Any) -> str:
        if self._registry is None:
            raise InvalidArgumentError("this run is not attached to a registry; start it with reg.start_run")
        return layout.run_artifact_prefix(self.experiment, self.id) + layout.check_file_name(name, "artifact")

    def log_artifact(self, name: str, data_or_path: Any) -> None:
        """Store a file with the run: ``data_or_path`` is bytes or the path of a local file."""
        key = self._artifact_key(name)
        if isinstance(data_or_path, (bytes, bytearray, memoryview)):
            data = bytes(data_or_path)
        elif isinstance(data_or_path, (str, os.PathLike)):
            try:
                with open(data_or_path, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise InvalidArgumentError(f"cannot read artifact file {os.fspath(data_or_path)!r}: {exc}") from None
        else:
            raise InvalidArgumentError(f"artifact must be bytes or a file path; got {type(data_or_path).__name__}")
        self._registry.store.put(key, data)

    def artifacts(self) -> list[str]:
        """Names of the run's artifacts, sorted."""
        if self._registry is None:
            return []
        prefix = layout.run_artifact_prefix(self.experiment, self.id)
        return [k[len(prefix):] for k in self._registry.store.list(prefix)]

    def artifact(self, name: str) -> bytes:
        """The bytes of artifact ``name`` (NotFoundError naming the run's artifacts)."""
        key = self._artifact_key(name)
        try:
            return self._registry.store.get(key)
        except NotFoundError:
            raise NotFoundError(f"run {self.id} has no artifact {name!r}; it has {self.artifacts()}") from None

    # --- lifecycle ----------------------------------------------------------------------
    def end(self, status: str = "finished", error: str | None = None) -> None:
        """Close the run with ``status`` ("finished" or "failed") and write it."""
        if status not in _STATUSES[1:]:
            raise InvalidArgumentError(f"status must be 'finished' or 'failed'; got {status!r}")
        self.status, self.error, self.end_time = status, error, artifact.utc_now()
        if self._meter is not None:  # what the run cost: CPU, wall, peak RSS, energy
            self.resources, self._meter = self._meter.stop(), None
        self.flush()

    def __enter__(self) -> "Run":
        return self

    def _repr_html_(self) -> str:
        """Status, params, last metric values and metric curves, for notebooks."""
        return run_html(self)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
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


def list_experiments(registry: Any) -> list[str]:
    """Names of the experiments that have runs, sorted (one delimiter listing)."""
    return registry.store.list_dirs(layout.runs_prefix())


def run_records(registry: Any, experiment: str) -> list[dict[str, Any]]:
    """Every stored run record of ``experiment`` (JSON dicts), by start time.

    An experiment without runs does not exist: NotFoundError lists the known ones."""
    validate_name(experiment, "experiment name")
    store = registry.store
    keys = [k for k in store.list(layout.runs_prefix(experiment)) if layout.is_run_record(k, experiment)]
    if not keys:
        known = list_experiments(registry)
        raise NotFoundError(f"no experiment named {experiment!r} in registry {registry.url!r}; known: {known}")

    def read(key: str) -> dict[str, Any] | None:
        try:
            return json.loads(store.get(key))
        except NotFoundError:  # pragma: no cover - deleted meanwhile
            return None

    index = getattr(registry, "run_index", None)
    if index is not None:  # ended runs from the experiment's summary, the others read
        records = index.records(experiment, keys)
    else:
        if len(keys) > 64 and store.local_path(keys[0]) is None:  # remote stores: many reads in flight
            with ThreadPoolExecutor(8) as pool:
                found = list(pool.map(read, keys, chunksize=64))
        else:  # local disk: threads would only contend for the GIL
            found = [read(k) for k in keys]
        records = [r for r in found if r is not None]
    records.sort(key=lambda r: (r.get("start_time", ""), r.get("id", "")))
    return records


def record_summary(record: dict[str, Any]) -> dict[str, Any]:
    """A stored run record as search sees it (latest metric values, params, tags, attributes),
    without building the Run."""
    get = record.get
    return {
        "metrics": {k: pts[-1][1] for k, pts in get("metrics", {}).items() if pts},
        "params": get("params", {}), "tags": get("tags", {}),
        "run_id": get("id"), "status": get("status"), "experiment": get("experiment"),
        "start_time": get("start_time"), "end_time": get("end_time"),
        "parent_id": get("parent_id"), "record": record,
    }


def list_runs(registry: Any, experiment: str) -> list[Run]:
    """Every run of ``experiment`` re-read from the store, by start time (NotFoundError when
    the experiment has no runs, listing the known experiments)."""
    return [Run.from_dict(r, registry) for r in run_records(registry, experiment)]


def find_run(registry: Any, run_id: str) -> Run:
    """The run with ``run_id`` in any experiment (NotFoundError when none)."""
    if not isinstance(run_id, str) or not run_id.isalnum():
        raise InvalidArgumentError(f"run id must be an alphanumeric str; got {run_id!r}")
    try:
        experiment = registry.store.get(layout.run_id_key(run_id)).decode()
        return Run.from_dict(json.loads(registry.store.get(layout.run_key(experiment, run_id))), registry)
    except NotFoundError:
        pass
    for experiment in list_experiments(registry):  # runs written before the id index
        try:
            return Run.from_dict(json.loads(registry.store.get(layout.run_key(experiment, run_id))), registry)
        except NotFoundError:
            continue
    raise NotFoundError(f"no run with id {run_id!r} in registry {registry.url!r}")
