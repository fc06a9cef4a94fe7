"""The Optimizer interface: update named parameter arrays in place from their gradients."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

__all__ = ["Optimizer"]


class Optimizer(abc.ABC):
    """Updates a dict of parameter arrays in place, following torch.optim's update rules.

    Contract:

    - ``step(params, grads)``: ``params`` and ``grads`` are ``dict[str, np.ndarray]`` with the
      same keys and shapes. Each array in ``params`` is updated *in place* and keeps its
      dtype. Per-parameter state (momentum buffers, ...) is created on first sight of a key.
      Mismatched keys or shapes raise ``ValueError``.
    - ``lr``: the current learning rate, readable and settable (schedules set it).
    - ``state_dict()`` -> a plain dict of numbers and arrays (hyperparameters, step counts,
      buffers); ``load_state_dict(d)`` restores it so the next steps are bit-identical.
    """

    @property
    @abc.abstractmethod
    def lr(self) -> float:
        """Current learning rate."""

    @lr.setter
    @abc.abstractmethod
    def lr(self, value: float) -> None: ...

    @abc.abstractmethod
    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Apply one update to ``params`` in place."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this optimizer is."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by ``state_dict()``."""
