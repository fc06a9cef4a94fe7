"""Tiny numpy models for the tuning/compression tests (module-level, so process pools pickle them)."""

from __future__ import annotations

import numpy as np

import modelmgmt as mm
from modelmgmt.models.base import Model


class ToySoftmax(Model):
    """Multinomial logistic regression trained by full-batch gradient descent (own fit)."""

    is_classifier = True

    def __init__(self, l2: float = 0.0, lr: float = 0.5) -> None:
        self.l2, self.lr = float(l2), float(lr)
        self._params: dict[str, np.ndarray] = {}
        self.classes_: np.ndarray | None = None

    @property
    def params(self):
        return self._params

    @property
    def config(self):
        return {"l2": self.l2, "lr": self.lr, "classes": None if self.classes_ is None else self.classes_.tolist()}

    @classmethod
    def from_config(cls, config, params):
        m = cls(config["l2"], config["lr"])
        m._params = {k: np.array(v) for k, v in params.items()}
        m.classes_ = None if config["classes"] is None else np.array(config["classes"])
        return m

    def initialize(self, X, y, rng):
        self.classes_ = np.unique(y)
        k = len(self.classes_)
        self._params = {"W": rng.normal(0, 0.01, (X.shape[1], k)), "b": np.zeros(k)}

    def forward(self, X):
        return X @ self._params["W"] + self._params["b"], X

    def backward(self, cache, grad_output):
        return {"W": cache.T @ grad_output, "b": grad_output.sum(0)}

    def loss_and_grad(self, X, y):
        z, cache = self.forward(X)
        z = z - z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        idx = np.searchsorted(self.classes_, y)
        n = len(y)
        loss = -np.log(p[np.arange(n), idx] + 1e-300).mean() + 0.5 * self.l2 * (self._params["W"] ** 2).sum()
        g = p.copy()
        g[np.arange(n), idx] -= 1
        grads = self.backward(cache, g / n)
        grads["W"] = grads["W"] + self.l2 * self._params["W"]
        return float(loss), grads

    def fit(self, X, y, epochs: int = 50, seed: int | None = 0, **kw):
        X = np.asarray(X, float)
        self.initialize(X, y, np.random.default_rng(seed))
        for _ in range(epochs):
            _, g = self.loss_and_grad(X, y)
            for k in self._params:
                self._params[k] -= self.lr * g[k]
        return None

    def predict_proba(self, X):
        self.check_fitted()
        z, _ = self.forward(np.asarray(X, float))
        z = z - z.max(1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(1, keepdims=True)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


mm.register_model_type("ToySoftmax", ToySoftmax)  # loadable from artifacts: manifests name registered types only


def toy_accuracy(model, X, y) -> float:
    """A scoring callable: share of correct predictions."""
    return float(np.mean(model.predict(X) == y))
