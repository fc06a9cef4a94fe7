"""Helpers for deployment tests: real models with chosen weights in a real memory:// Registry.

(The file name is historical: it held a fake registry while the real one was being built.)
"""

from __future__ import annotations

import time
import uuid

import numpy as np

from modelmgmt.models import LinearRegression, LogisticRegression
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
