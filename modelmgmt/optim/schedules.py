"""Learning-rate schedules with torch.optim.lr_scheduler's sequences.

Each schedule wraps an optimizer and sets its ``lr`` on ``step()``. Constructing a schedule
performs torch's initial step (``last_epoch`` becomes 0; ``LinearWarmup`` multiplies the lr by
``start_factor`` right away). The classes use torch's *chainable* update (each new lr is
computed from the optimizer's current lr), so the numbers match torch even when something else
changes the lr between steps. The closed forms are plain functions of the step count
(``step_lr``, ``exponential_lr``, ``cosine_annealing_lr``, ``linear_warmup_lr``), equal to the
chained sequence when nothing else touches the lr.

Strategies: *fixed* is a constant lr (no schedule); *increasing* is ``LinearWarmup``;
*decreasing* is ``StepLR``, ``ExponentialLR`` or ``CosineAnnealingLR``; *dynamic* is
``ReduceLROnPlateau``, which reacts to a monitored value.

>>> from modelmgmt.optim import SGD
>>> opt = SGD(lr=1.0)
>>> sched = StepLR(opt, step_size=2, gamma=0.5)
>>> lrs = []
>>> for _ in range(5):
...     lrs.append(opt.lr)
...     sched.step()
>>> lrs
[1.0, 1.0, 0.5, 0.5, 0.25]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelmgmt.optim._core import check_number
from modelmgmt.errors import InvalidArgumentError

__all__ = [
    "Schedule",
    "StepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearWarmup",
    "ReduceLROnPlateau",
    "step_lr",
    "exponential_lr",
    "cosine_annealing_lr",
    "linear_warmup_lr",
]


# --------------------------------------------------------------------------- closed forms
def step_lr(epoch: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """StepLR's lr after ``epoch`` steps: ``base_lr * gamma ** (epoch // step_size)``."""
    return base_lr * gamma ** (epoch // step_size)


def exponential_lr(epoch: int, base_lr: float, gamma: float) -> float:
    """ExponentialLR's lr after ``epoch`` steps: ``base_lr * gamma ** epoch``."""
    return base_lr * gamma**epoch


def cosine_annealing_lr(epoch: int, base_lr: float, T_max: int, eta_min: float = 0.0) -> float:
    """CosineAnnealingLR's lr after ``epoch`` steps (a cosine of period ``2 * T_max``)."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * epoch / T_max)) / 2


def linear_warmup_lr(epoch: int, base_lr: float, warmup_steps: int, start_factor: float = 0.1) -> float:
    """LinearWarmup's lr after ``epoch`` steps: from ``start_factor * base_lr`` up to ``base_lr``."""
    frac = min(epoch, warmup_steps) / warmup_steps
    return base_lr * (start_factor + (1.0 - start_factor) * frac)


# --------------------------------------------------------------------------- helpers
def _check_optimizer(optimizer: Any) -> None:
    lr = getattr(optimizer, "lr", None)
    if not hasattr(optimizer, "step") or isinstance(lr, bool) or not isinstance(lr, (int, float)):
        raise InvalidArgumentError(
            "optimizer must be a modelmgmt Optimizer (with a numeric lr attribute); "
            f"got {type(optimizer).__name__}"
        )


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(f"{name} must be an int; got {type(value).__name__} {value!r}")
    if value < low:
        raise InvalidArgumentError(f"{name} must be >= {low}; got {value!r}")
    return int(value)


class _LRState:
    """What every schedule shares: the lr it set last, and torch's state_dict convention."""

    _last_lr: float

    @property
    def last_lr(self) -> float:
        """The lr this schedule set last."""
        return self._last_lr

    def get_last_lr(self) -> float:
        """The lr this schedule set last (torch returns a list per param group; we have one)."""
        return self._last_lr

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer, as a plain dict (torch's convention)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()`` (the optimizer's lr is restored by the optimizer's own)."""
        if not isinstance(state, dict):
            raise InvalidArgumentError(f"state must be a dict from state_dict(); got {type(state).__name__}")
        expected = set(self.state_dict())
        if set(state) != expected:
            raise InvalidArgumentError(f"state_dict keys must be {sorted(expected)}; got {sorted(state)}")
        self._check_state(state)
        self.__dict__.update(state)

    def _check_state(self, state: dict[str, Any]) -> None:
        """Refuse values a schedule cannot run with (the keys are already checked)."""


class Schedule(_LRState):
    """Base of the step-count schedules: torch's ``LRScheduler`` protocol for one lr."""

    def __init__(self, optimizer: Any) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        self.base_lr: float = float(optimizer.lr)
        self.last_epoch: int = -1
        self._last_lr: float = self.base_lr
        self._advance(initial=True)

    def _next_lr(self, lr: float, initial: bool) -> float:  # pragma: no cover - abstract
        """The lr for ``self.last_epoch`` given the optimizer's current ``lr``."""
        raise NotImplementedError

    def _advance(self, initial: bool) -> None:
        self.last_epoch += 1
        self.optimizer.lr = self._next_lr(float(self.optimizer.lr), initial)
        self._last_lr = float(self.optimizer.lr)

    def step(self) -> None:
        """Move to the next step (call once per epoch or batch, after ``optimizer.step``)."""
        self._advance(initial=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr!r})"


class StepLR(Schedule):
    """Decreasing: multiply the lr by ``gamma`` every ``step_size`` steps (torch StepLR)."""

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _check_int("step_size", step_size, 1)
        self.gamma = check_number("gamma", gamma)
        super().__init__(optimizer)

    def _next_lr(self, lr: float, initial: bool) -> float:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lr
        return lr * self.gamma


class ExponentialLR(Schedule):
    """Decreasing: multiply the lr by ``gamma`` every step (torch ExponentialLR)."""

    def __init__(self, optimizer: Any, gamma: float) -> None:
        self.gamma = check_number("gamma", gamma)
        super().__init__(optimizer)

    def _next_lr(self, lr: float, initial: bool) -> float:
        return lr if initial else lr * self.gamma


class CosineAnnealingLR(Schedule):
    """Decreasing: cosine from the base lr down to ``eta_min`` over ``T_max`` steps (torch's formula).

    Past ``T_max`` the lr rises again along the same cosine (period ``2 * T_max``), as torch's does.
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = _check_int("T_max", T_max, 1)
        self.eta_min = check_number("eta_min", eta_min)
        super().__init__(optimizer)

    def _next_lr(self, lr: float, initial: bool) -> float:
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if initial:
            return lr
        if (e - 1 - T) % (2 * T) == 0:
            return lr + (self.base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
        return (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - eta_min) + eta_min


class LinearWarmup(Schedule):
    """Increasing: lr ramps linearly from ``start_factor * lr`` to ``lr`` over ``warmup_steps``.

    Identical to torch's ``LinearLR(start_factor, end_factor=1.0, total_iters=warmup_steps)``;
    the first factor is applied when the schedule is created.
    """

    end_factor = 1.0

    def __init__(self, optimizer: Any, warmup_steps: int, start_factor: float = 0.1) -> None:
        self.warmup_steps = _check_int("warmup_steps", warmup_steps, 1)
        start_factor = check_number("start_factor", start_factor)
        if not 0.0 < start_factor <= 1.0:
            raise InvalidArgumentError(f"start_factor must be in (0, 1]; got {start_factor!r}")
        self.start_factor = start_factor
        super().__init__(optimizer)

    def _next_lr(self, lr: float, initial: bool) -> float:
        e, s, f = self.last_epoch, self.start_factor, self.end_factor
        if e == 0:
            return lr * s
        if initial or e > self.warmup_steps:
            return lr
        return lr * (1.0 + (f - s) / (self.warmup_steps * s + (e - 1) * (f - s)))


class ReduceLROnPlateau(_LRState):
    """Dynamic: multiply the lr by ``factor`` when a monitored value stops improving (torch's rules).

    ``step(value)`` once per epoch with e.g. the validation loss. A value is an improvement when
    it beats the best so far by more than ``threshold`` (relative by default, like torch);
    after ``patience`` steps without one the lr is reduced (never below ``min_lr``; changes
    smaller than ``eps`` are skipped), then ``cooldown`` steps pass before counting again. A NaN
    value never counts as an improvement.
    """

    def __init__(
        self,
        optimizer: Any,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        *,
        threshold_mode: str = "rel",
        eps: float = 1e-8,
    ) -> None:
        _check_optimizer(optimizer)
        if mode not in ("min", "max"):
            raise InvalidArgumentError(f"mode must be 'min' or 'max'; got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise InvalidArgumentError(f"threshold_mode must be 'rel' or 'abs'; got {threshold_mode!r}")
        factor = check_number("factor", factor)
        if factor >= 1.0:
            raise InvalidArgumentError(f"factor must be < 1.0; got {factor!r}")
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = _check_int("patience", patience, 0)
        self.threshold = check_number("threshold", threshold)
        self.threshold_mode = threshold_mode
        self.cooldown = _check_int("cooldown", cooldown, 0)
        self.min_lr = check_number("min_lr", min_lr)
        self.eps = check_number("eps", eps)
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = float(optimizer.lr)

    def is_better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            return value < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return value > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    @property
    def in_cooldown(self) -> bool:
        """True while the schedule waits after a reduction."""
        return self.cooldown_counter > 0

    def step(self, value: float) -> None:
        """Record one monitored value (e.g. the epoch's validation loss) and maybe reduce the lr."""
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            if not (isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiu"):
                raise InvalidArgumentError(f"value must be a real number (the monitored metric); got {type(value).__name__}")
        current = float(value)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count
        if self.num_bad_epochs > self.patience:
            old_lr = float(self.optimizer.lr)
            new_lr = max(old_lr * self.factor, self.min_lr)
            if old_lr - new_lr > self.eps:
                self.optimizer.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = float(self.optimizer.lr)

    def _check_state(self, state: dict[str, Any]) -> None:
        if state["mode"] not in ("min", "max") or state["threshold_mode"] not in ("rel", "abs"):
            raise InvalidArgumentError(f"bad mode/threshold_mode in state: {state['mode']!r}, {state['threshold_mode']!r}")

    def __repr__(self) -> str:
        return f"ReduceLROnPlateau(mode={self.mode!r}, factor={self.factor!r}, last_lr={self._last_lr!r})"
