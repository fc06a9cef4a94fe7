"""Helpers for deployment tests: real models with chosen weights in a real memory:// Registry.

(The file name is historical: it held a fake registry while the real one was being built.)
"""

from __future__ import annotations

import signal
import subprocess
import time
import uuid

import numpy as np

import modelmgmt as mm
from modelmgmt.models import LinearRegression, LogisticRegression
from modelmgmt.models.base import Model
from modelmgmt.registry import Registry


def linear(w, b=0.0) -> LinearRegression:
    """A fitted LinearRegression with weights ``w`` and bias ``b`` (y = X w + b)."""
    w = np.asarray(w, dtype=np.float64)
    return LinearRegression.from_config(
        {"fit_intercept": True, "l2": 0.0, "n_features_": int(w.shape[0])}, {"W": w, "b": np.array([float(b)])}
    )


def softmax(W, b=None) -> LogisticRegression:
    """A fitted multinomial LogisticRegression with weights W (d, k); labels 0..k-1."""
    W = np.asarray(W, dtype=np.float64)
    b = np.zeros(W.shape[1]) if b is None else np.asarray(b, dtype=np.float64)
    return LogisticRegression.from_config(
        {"l2": 0.0, "n_features_": int(W.shape[0]), "classes_": list(range(W.shape[1]))}, {"W": W, "b": b}
    )


class SlowRegistry(Registry):
    """A real Registry whose ``load`` takes ``load_delay`` extra seconds (a slow store)."""

    load_delay = 0.0

    def load(self, ref, verify=True):
        if self.load_delay:
            time.sleep(self.load_delay)
        return super().load(ref, verify=verify)


def memory_registry(cls=Registry):
    """A fresh registry on a unique memory:// root."""
    return cls(f"memory://deploy-tests-{uuid.uuid4().hex}")


class ColorScore(Model):
    """A model that takes strings: score = table[color] * size * scale (columns color, size)."""

    def __init__(self, table=None):
        self.table = dict(table or {})
        self._params = {"scale": np.array([1.0])}

    @property
    def params(self):
        return self._params

    @property
    def config(self):
        return {"table": self.table}

    @classmethod
    def from_config(cls, config, params):
        m = cls(config["table"])
        m._params = dict(params)
        return m

    @property
    def input_signature(self):
        return {"n_features": 2, "dtype": "object", "feature_names": ["color", "size"]}

    def predict(self, X):
        X = np.asarray(X, dtype=object)
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError(f"expected 2 columns (color, size); got shape {X.shape}")
        unknown = sorted({str(c) for c in X[:, 0]} - set(self.table))
        if unknown:
            raise ValueError(f"unknown colors {unknown}")
        return np.array([self.table[str(c)] * float(s) for c, s in X]) * self._params["scale"][0]


mm.register_model_type("ColorScore", ColorScore)


def stop_cli(proc: subprocess.Popen, timeout: float = 20.0) -> int:
    """SIGTERM a ``modelmgmt serve`` process and return its exit code (killed, and the
    TimeoutExpired raised, when it does not stop in time: the failure such tests look for)."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()


def two_versions(path: str, w1=(1.0, 2.0, 3.0), w2=(0.0, -1.0, 1.0)) -> Registry:
    """A registry in the folder ``path`` (worker processes open it too) with ``m`` versions 1
    (``linear(w1)``) and 2 (``linear(w2, b=5.0)``)."""
    r = Registry(path)
    r.register("m", linear(w1))
    r.register("m", linear(w2, b=5.0))
    return r
