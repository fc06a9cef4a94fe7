"""A tiny registry and model for deployment tests that must not depend on other areas."""

from __future__ import annotations

import threading
import time

import attrs
import numpy as np

from modelmgmt.errors import ModelmgmtError, NotFoundError


@attrs.frozen
class FakeVersion:
    name: str
    version: int
    digest: str = "0" * 64


class FakeLinear:
    """y = X @ w + b; a regressor with an input signature."""

    is_classifier = False

    def __init__(self, w, b=0.0, load_delay=0.0):
        self.w = np.asarray(w, dtype=np.float64)
        self.b = float(b)

    @property
    def input_signature(self):
        return {"n_features": int(self.w.shape[0]), "dtype": "float64"}

    def predict(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.w.shape[0]:
            raise ValueError(f"expected {self.w.shape[0]} features")
        return X @ self.w + self.b


class FakeRegistry:
    """get/load/record_deployment/deployment_history over an in-memory dict."""

    def __init__(self, load_delay=0.0):
        self.models: dict[str, list] = {}
        self.events: dict[str, list] = {}
        self.load_delay = load_delay
        self._lock = threading.Lock()

    def register(self, name, model):
        self.models.setdefault(name, []).append(model)
        return FakeVersion(name, len(self.models[name]))

    def get(self, ref):
        if "/" in ref:
            name, v = ref.split("/")
            v = int(v)
        else:
            name, v = ref, None
        if name not in self.models:
            raise NotFoundError(f"no model named {name!r}")
        versions = self.models[name]
        v = len(versions) if v is None else v
        if not 1 <= v <= len(versions):
            raise NotFoundError(f"model {name!r} has no version {v}")
        return FakeVersion(name, v)

    def load(self, ref, verify=True):
        v = self.get(ref)
        if self.load_delay:
            time.sleep(self.load_delay)
        return self.models[v.name][v.version - 1]

    def record_deployment(self, name, event):
        with self._lock:
            self.events.setdefault(name, []).append(dict(event))

    def deployment_history(self, name):
        return list(self.events.get(name, []))


class FakeSoftmax:
    """A multinomial classifier: softmax(X @ W); labels 0..k-1."""

    is_classifier = True

    def __init__(self, W):
        self.W = np.asarray(W, dtype=np.float64)
        self.classes_ = np.arange(self.W.shape[1])

    @property
    def input_signature(self):
        return {"n_features": int(self.W.shape[0]), "dtype": "float64"}

    def predict_proba(self, X):
        z = np.asarray(X, dtype=np.float64) @ self.W
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
