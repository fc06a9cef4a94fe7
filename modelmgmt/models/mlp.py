"""A dense feed-forward classifier: Dense(h, act) -> ... -> Dense(k, softmax), in numpy.

``MLP(hidden=(32,))`` on 784-pixel digits is the classic 784 -> Dense(32, relu) ->
Dense(10, softmax) network.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.losses import CrossEntropy
from modelmgmt.models._common import ClassifierMixin, TrainableModel

__all__ = ["MLP", "ACTIVATIONS"]


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _relu_grad(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return (z > 0.0).astype(z.dtype)


def _tanh_grad(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return 1.0 - a * a


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _sigmoid_grad(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    return a * (1.0 - a)


#: activation name -> (function, derivative given (pre-activation, activation))
ACTIVATIONS: dict[str, tuple[Callable[..., np.ndarray], Callable[..., np.ndarray]]] = {
    "relu": (_relu, _relu_grad),
    "tanh": (np.tanh, _tanh_grad),
    "sigmoid": (_sigmoid, _sigmoid_grad),
}


class MLP(ClassifierMixin, TrainableModel):
    """Multi-layer perceptron classifier with a softmax output, trained with cross-entropy.

    ``hidden`` lists the hidden layer widths; ``activation`` is "relu", "tanh" or "sigmoid";
    ``l2`` adds ``l2 / 2 * Σ||W||²`` over all weight matrices (biases not penalised).
    Weights start He-normal for relu and Glorot-uniform otherwise, biases at zero.
    Params: ``"layers.{i}.W"`` (fan_in, fan_out) and ``"layers.{i}.b"`` (fan_out,), the
    last layer being the output layer.
    """

    allowed_losses = ("cross_entropy",)

    def __init__(self, hidden: Any = (32,), activation: str = "relu", *, l2: float = 0.0) -> None:
        super().__init__()
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = (hidden,)
        try:
            widths = tuple(hidden)
        except TypeError:
            raise InvalidArgumentError(f"hidden must be a sequence of layer widths; got {hidden!r}") from None
        for w in widths:
            if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1:
                raise InvalidArgumentError(f"hidden layer widths must be integers >= 1; got {hidden!r}")
        if activation not in ACTIVATIONS:
            raise InvalidArgumentError(f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
        if isinstance(l2, bool) or not isinstance(l2, (int, float)) or not l2 >= 0:
            raise InvalidArgumentError(f"l2 must be a number >= 0; got {l2!r}")
        self.hidden = tuple(int(w) for w in widths)
        self.activation = activation
        self.l2 = float(l2)
        self.loss = CrossEntropy()

    def _hyper(self) -> dict[str, Any]:
        return {"hidden": list(self.hidden), "activation": self.activation, "l2": self.l2}

    def _sizes(self) -> list[int]:
        return [int(self.n_features_), *self.hidden, len(self.classes_)]

    def _expected_shapes(self) -> dict[str, tuple[int, ...]]:
        sizes = self._sizes()
        shapes: dict[str, tuple[int, ...]] = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            shapes[f"layers.{i}.W"] = (fan_in, fan_out)
            shapes[f"layers.{i}.b"] = (fan_out,)
        return shapes

    @property
    def n_layers(self) -> int:
        """Number of dense layers (hidden layers + the output layer)."""
        return len(self.hidden) + 1

    def initialize(self, X: Any, y: Any, rng: np.random.Generator) -> None:
        """Random weights from ``rng`` (He for relu, Glorot otherwise) for X's width and y's classes."""
        X, y = self._start(X, y)
        self._set_classes(y)
        if not isinstance(rng, np.random.Generator):
            raise InvalidArgumentError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
        sizes = self._sizes()
        params: dict[str, np.ndarray] = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            hidden_layer = i < len(sizes) - 2
            if hidden_layer and self.activation == "relu":
                W = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
            else:
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                W = rng.uniform(-limit, limit, size=(fan_in, fan_out))
            params[f"layers.{i}.W"] = W
            params[f"layers.{i}.b"] = np.zeros(fan_out)
        self._params = params

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, Any]:
        """Logits (n, k) and the per-layer inputs/pre-activations for backward."""
        act = ACTIVATIONS[self.activation][0]
        p = self._params
        h = X
        cache: list[tuple[np.ndarray, Any, Any]] = []
        last = self.n_layers - 1
        for i in range(self.n_layers):
            z = h @ p[f"layers.{i}.W"]
            z += p[f"layers.{i}.b"]
            if i == last:
                cache.append((h, None, None))
                return z, cache
            a = act(z)
            cache.append((h, z, a))
            h = a
        raise AssertionError("unreachable")

    def backward(self, cache: Any, grad_output: np.ndarray) -> dict[str, np.ndarray]:
        """Back-propagate d(loss)/d(logits) through every layer."""
        dact = ACTIVATIONS[self.activation][1]
        p = self._params
        grads: dict[str, np.ndarray] = {}
        g = grad_output
        for i in range(self.n_layers - 1, -1, -1):
            h, z, a = cache[i]
            if z is not None:
                g = g * dact(z, a)
            grads[f"layers.{i}.W"] = h.T @ g
            grads[f"layers.{i}.b"] = g.sum(axis=0)
            if i:
                g = g @ p[f"layers.{i}.W"].T
        return grads

    def penalty(self) -> tuple[float, dict[str, np.ndarray]]:
        if not self.l2:
            return 0.0, {}
        value = 0.0
        grads = {}
        for i in range(self.n_layers):
            W = self._params[f"layers.{i}.W"]
            value += 0.5 * self.l2 * float(np.sum(W * W))
            grads[f"layers.{i}.W"] = self.l2 * W
        return value, grads
