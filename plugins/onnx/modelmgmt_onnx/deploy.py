"""The ``onnxruntime`` deployment target: a registered version served by an onnxruntime session."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import onnxruntime as ort

import modelmgmt as mm
from modelmgmt.errors import ConflictError, InvalidArgumentError
from modelmgmt_onnx.convert import to_onnx

__all__ = ["OnnxRuntimeDeployer", "OnnxRuntimeDeployment"]


class _Session:
    """One loaded version: its ModelVersion and an InferenceSession over its ONNX graph."""

    def __init__(self, registry: Any, ref: str, dtype: str) -> None:
        self.version = registry.get(ref)
        model = registry.load(f"{self.version.name}/{self.version.version}", verify=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(to_onnx(model, dtype=dtype).SerializeToString(), options,
                                            providers=["CPUExecutionProvider"])
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.n_features = int(self.session.get_inputs()[0].shape[1])

    def run(self, X: Any, output: str, dtype: str) -> np.ndarray:
        a = np.asarray(X, dtype=dtype)
        if a.ndim != 2 or a.shape[1] != self.n_features:
            raise InvalidArgumentError(
                f"X must be 2-D with {self.n_features} features; got shape {a.shape}"
            )
        if output not in self.outputs:
            raise InvalidArgumentError(f"this model has outputs {self.outputs}; got {output!r}")
        return self.session.run([output], {"X": a})[0]


class OnnxRuntimeDeployment(mm.Deployment):
    """A registered version exported to ONNX and run by onnxruntime inside this process."""

    target = "onnxruntime"

    def __init__(self, registry: Any, ref: str, *, name: str | None, dtype: str) -> None:
        self.registry, self.dtype = registry, dtype
        self._lock = threading.Lock()
        self._current = _Session(registry, ref, dtype)
        self._previous: list[_Session] = []
        self.name = name or self._current.version.name
        self._started = time.monotonic()
        self._requests = self._errors = 0
        self._latencies: list[float] = []
        self._stopped = False

    def _call(self, X: Any, output: str) -> np.ndarray:
        if self._stopped:
            raise ConflictError(f"deployment {self.name!r} is stopped")
        current = self._current  # one reference read: a swap never splits a request
        t0 = time.perf_counter()
        try:
            out = current.run(X, output, self.dtype)
        except Exception:
            with self._lock:
                self._errors += 1
            raise
        with self._lock:
            self._requests += 1
            self._latencies.append(time.perf_counter() - t0)
            del self._latencies[:-10_000]
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Predictions of the served version (labels for classifiers)."""
        return self._call(X, "predict")

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n, k) of a served classifier."""
        return self._call(X, "predict_proba")

    @property
    def version(self) -> Any:
        return self._current.version

    def status(self) -> dict[str, Any]:
        with self._lock:
            lat = np.array(self._latencies) * 1e3
            requests, errors = self._requests, self._errors
        v = self._current.version
        return {
            "name": self.name, "target": self.target, "version": f"{v.name}/{v.version}",
            "uptime_s": time.monotonic() - self._started, "requests": requests, "errors": errors,
            "latency_ms_p50": float(np.percentile(lat, 50)) if lat.size else None,
            "latency_ms_p99": float(np.percentile(lat, 99)) if lat.size else None,
            "outputs": list(self._current.outputs), "dtype": self.dtype,
        }

    def update(self, ref: str) -> Any:
        """Load and convert ``ref`` completely, then switch to it atomically."""
        new = _Session(self.registry, ref, self.dtype)
        with self._lock:
            self._previous.append(self._current)
            self._current = new
        return new.version

    def rollback(self) -> Any:
        """Serve the version served before the last update."""
        with self._lock:
            if not self._previous:
                raise ConflictError(f"deployment {self.name!r} has no earlier version to roll back to")
            self._current = self._previous.pop()
            return self._current.version

    def stop(self) -> None:
        self._stopped = True


class OnnxRuntimeDeployer(mm.Deployer):
    """Deploy a registered version through onnxruntime (option ``dtype``: "float64" or "float32")."""

    options = ("dtype",)

    def deploy(self, registry: Any, ref: str, *, name: str | None = None, **options: Any) -> OnnxRuntimeDeployment:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise InvalidArgumentError(
                f"unknown option(s) for target 'onnxruntime': {', '.join(unknown)}; known: {', '.join(self.options)}"
            )
        dtype = options.get("dtype", "float64")
        if dtype not in ("float32", "float64"):
            raise InvalidArgumentError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
        return OnnxRuntimeDeployment(registry, ref, name=name, dtype=dtype)
