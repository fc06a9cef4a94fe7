"""A tiny numpy Model for the registry tests (independent of the real models being built)."""

from __future__ import annotations

from typing import Any

import numpy as np

import modelmgmt as mm
from modelmgmt._validation import as_float_2d
from modelmgmt.models.base import Model


class ToyLinear(Model):
    """y = X @ W + b; any number of extra named tensors can ride along (for size tests)."""

    def __init__(self, n_features: int = 3, n_outputs: int = 1, note: str = "") -> None:
        self.n_features = n_features
        self.n_outputs = n_outputs
        self.note = note
        self._params: dict[str, np.ndarray] = {}

    @classmethod
    def random(cls, n_features: int = 3, n_outputs: int = 1, seed: int = 0, extra: dict | None = None,
               note: str = "") -> "ToyLinear":
        rng = np.random.default_rng(seed)
        m = cls(n_features, n_outputs, note)
        m._params = {
            "W": rng.standard_normal((n_features, n_outputs)),
            "b": rng.standard_normal(n_outputs),
            **(extra or {}),
        }
        return m

    @property
    def params(self) -> dict[str, np.ndarray]:
        return dict(self._params)

    @property
    def config(self) -> dict[str, Any]:
        return {"n_features": self.n_features, "n_outputs": self.n_outputs, "note": self.note}

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, np.ndarray]) -> "ToyLinear":
        m = cls(config["n_features"], config["n_outputs"], config.get("note", ""))
        m._params = dict(params)
        return m

    def predict(self, X: Any) -> np.ndarray:
        self.check_fitted()
        X = as_float_2d(X)
        out = X @ self._params["W"] + self._params["b"]
        return out[:, 0] if self.n_outputs == 1 else out

    @property
    def input_signature(self) -> dict[str, Any] | None:
        return {"n_features": self.n_features, "dtype": "float64"} if self._params else None


mm.register_model_type("ToyLinear", ToyLinear)  # loadable from artifacts: manifests name registered types only


def register_many(url: str, name: str, count: int, seed: int) -> list[int]:
    """Register ``count`` small versions of ``name`` (run in worker processes)."""
    from modelmgmt.registry import Registry

    reg = Registry(url)
    return [reg.register(name, ToyLinear.random(seed=seed * 1000 + i)).version for i in range(count)]
