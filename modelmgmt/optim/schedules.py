"""Learning-rate schedules with torch.optim.lr_scheduler's sequences.

The maths lives in plain functions of the step count (optax's idea): ``step_lr``,
``multi_step_lr``, ``exponential_lr``, ``cosine_annealing_lr``, ``cosine_warm_restarts_lr``,
``linear_warmup_lr``, ``polynomial_lr`` and ``one_cycle`` give the lr after ``step`` steps.
Each class wraps one of them: it holds an optimizer and, on ``step()``, sets its ``lr`` to the
function's value at the next step. Constructing a schedule performs torch's initial step
(``last_epoch`` becomes 0; ``LinearWarmup`` multiplies the lr by ``start_factor`` right away,
``OneCycleLR`` sets ``max_lr / div_factor``).

torch's schedules are *chainable*: a change made to the lr from outside (another schedule, a
callback) carries on multiplicatively. Ours do the same: the ratio between the optimizer's lr
and the lr the schedule set last is kept as a factor on every later value (``OneCycleLR`` and
``CosineAnnealingWarmRestarts`` are not chainable in torch, and not here).

Strategies: *fixed* is a constant lr (no schedule); *increasing* is ``LinearWarmup``;
*decreasing* is ``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``CosineAnnealingLR`` or
``PolynomialLR``; *cyclic* is ``CosineAnnealingWarmRestarts`` or ``OneCycleLR``; *dynamic* is
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

import bisect
import math
from typing import Any, Iterable

import numpy as np

from modelmgmt._validation import check_bool, check_choice, check_int, check_real
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.optim._core import check_number

__all__ = [
    "Schedule",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "LinearWarmup",
    "PolynomialLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "step_lr",
    "multi_step_lr",
    "exponential_lr",
    "cosine_annealing_lr",
    "cosine_warm_restarts_lr",
    "linear_warmup_lr",
    "polynomial_lr",
    "one_cycle",
]


# --------------------------------------------------------------------------- the maths
def step_lr(epoch: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """StepLR's lr after ``epoch`` steps: ``base_lr * gamma ** (epoch // step_size)``."""
    return base_lr * gamma ** (epoch // step_size)


def multi_step_lr(epoch: int, base_lr: float, milestones: Iterable[int], gamma: float = 0.1) -> float:
    """MultiStepLR's lr: ``base_lr * gamma ** (number of milestones <= epoch)`` (repeats count)."""
    return base_lr * gamma ** bisect.bisect_right(sorted(milestones), epoch)


def exponential_lr(epoch: int, base_lr: float, gamma: float) -> float:
    """ExponentialLR's lr after ``epoch`` steps: ``base_lr * gamma ** epoch``."""
    return base_lr * gamma**epoch


def cosine_annealing_lr(epoch: int, base_lr: float, T_max: int, eta_min: float = 0.0) -> float:
    """CosineAnnealingLR's lr after ``epoch`` steps (a cosine of period ``2 * T_max``)."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * epoch / T_max)) / 2


def cosine_warm_restarts_lr(epoch: int, base_lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> float:
    """CosineAnnealingWarmRestarts' lr: a cosine from ``base_lr`` to ``eta_min`` over ``T_0``
    steps, restarted at the top, each cycle ``T_mult`` times longer than the one before."""
    t_cur, t_i = epoch, T_0
    while t_cur >= t_i:  # integer arithmetic: the cycle boundaries are exact
        t_cur -= t_i
        t_i *= T_mult
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


def linear_warmup_lr(epoch: int, base_lr: float, warmup_steps: int, start_factor: float = 0.1) -> float:
    """LinearWarmup's lr after ``epoch`` steps: from ``start_factor * base_lr`` up to ``base_lr``."""
    frac = min(epoch, warmup_steps) / warmup_steps
    return base_lr * (start_factor + (1.0 - start_factor) * frac)


def polynomial_lr(epoch: int, base_lr: float, total_iters: int = 5, power: float = 1.0) -> float:
    """PolynomialLR's lr: ``base_lr * (1 - min(epoch, total_iters) / total_iters) ** power``."""
    return base_lr * (1.0 - min(total_iters, epoch) / total_iters) ** power


def _anneal(start: float, end: float, pct: float, strategy: str) -> float:
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


def one_cycle(
    step: int,
    max_lr: float,
    total_steps: int,
    *,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
) -> tuple[float, float]:
    """OneCycleLR's (lr, momentum) at ``step`` (0 .. total_steps): up from ``max_lr / div_factor``
    to ``max_lr``, then down to ``max_lr / div_factor / final_div_factor``; momentum mirrors it."""
    initial = max_lr / div_factor
    values = {"initial": initial, "max": max_lr, "min": initial / final_div_factor,
              "base_m": base_momentum, "max_m": max_momentum}
    if three_phase:
        phases = [(float(pct_start * total_steps) - 1, "initial", "max", "max_m", "base_m"),
                  (float(2 * pct_start * total_steps) - 2, "max", "initial", "base_m", "max_m"),
                  (total_steps - 1, "initial", "min", "max_m", "max_m")]
    else:
        phases = [(float(pct_start * total_steps) - 1, "initial", "max", "max_m", "base_m"),
                  (total_steps - 1, "max", "min", "base_m", "max_m")]
    start_step = 0.0
    for i, (end_step, lr0, lr1, m0, m1) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            pct = (step - start_step) / (end_step - start_step)
            return (_anneal(values[lr0], values[lr1], pct, anneal_strategy),
                    _anneal(values[m0], values[m1], pct, anneal_strategy))
        start_step = end_step
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- helpers
def _check_optimizer(optimizer: Any) -> None:
    lr = getattr(optimizer, "lr", None)
    if not hasattr(optimizer, "step") or isinstance(lr, bool) or not isinstance(lr, (int, float)):
        raise InvalidArgumentError(
            "optimizer must be a modelmgmt Optimizer (with a numeric lr attribute); "
            f"got {type(optimizer).__name__}"
        )


def _check_int(name: str, value: Any, low: int) -> int:
    return check_int(value, name, min=low)


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
    """Base of the step-count schedules: torch's ``LRScheduler`` protocol for one lr.

    A subclass implements ``lr_at(step)`` by calling its function of the step count.
    """

    #: torch's chainable form: an outside change of the lr carries on as a factor
    _chainable = True

    def __init__(self, optimizer: Any) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        self.base_lr: float = float(optimizer.lr)
        self.last_epoch: int = -1
        self._factor: float = 1.0
        self._last_lr: float = self.base_lr
        self._advance()

    def lr_at(self, step: int) -> float:  # pragma: no cover - abstract
        """The lr this schedule gives after ``step`` steps (no outside changes)."""
        raise NotImplementedError

    def _advance(self) -> None:
        self.last_epoch += 1
        current = float(self.optimizer.lr)
        if self._chainable and self.last_epoch > 0 and current != self._last_lr and self._last_lr != 0:
            self._factor *= current / self._last_lr
        lr = self.lr_at(self.last_epoch)
        self.optimizer.lr = lr if self._factor == 1.0 else self._factor * lr
        self._last_lr = float(self.optimizer.lr)

    def step(self) -> None:
        """Move to the next step (call once per epoch or batch, after ``optimizer.step``)."""
        self._advance()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr!r})"


class StepLR(Schedule):
    """Decreasing: multiply the lr by ``gamma`` every ``step_size`` steps (torch StepLR)."""

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _check_int("step_size", step_size, 1)
        self.gamma = check_number("gamma", gamma)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        """:func:`step_lr` at ``step``."""
        return step_lr(step, self.base_lr, self.step_size, self.gamma)


class MultiStepLR(Schedule):
    """Decreasing: multiply the lr by ``gamma`` at each milestone step (torch MultiStepLR)."""

    def __init__(self, optimizer: Any, milestones: Iterable[int], gamma: float = 0.1) -> None:
        if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
            raise InvalidArgumentError(f"milestones must be a list of step numbers; got {milestones!r}")
        self.milestones = sorted(check_int(m, "milestones", min=0) for m in milestones)
        self.gamma = check_number("gamma", gamma)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        """:func:`multi_step_lr` at ``step``."""
        return multi_step_lr(step, self.base_lr, self.milestones, self.gamma)


class ExponentialLR(Schedule):
    """Decreasing: multiply the lr by ``gamma`` every step (torch ExponentialLR)."""

    def __init__(self, optimizer: Any, gamma: float) -> None:
        self.gamma = check_number("gamma", gamma)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        """:func:`exponential_lr` at ``step``."""
        return exponential_lr(step, self.base_lr, self.gamma)


class CosineAnnealingLR(Schedule):
    """Decreasing: cosine from the base lr down to ``eta_min`` over ``T_max`` steps (torch's formula).

    Past ``T_max`` the lr rises again along the same cosine (period ``2 * T_max``), as torch's does.
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = _check_int("T_max", T_max, 1)
        self.eta_min = check_number("eta_min", eta_min)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        """:func:`cosine_annealing_lr` at ``step``."""
        return cosine_annealing_lr(step, self.base_lr, self.T_max, self.eta_min)


class CosineAnnealingWarmRestarts(Schedule):
    """Cyclic: cosine to ``eta_min`` over ``T_0`` steps, then restart; cycles grow ``T_mult``-fold
    (torch CosineAnnealingWarmRestarts, SGDR)."""

    _chainable = False

    def __init__(self, optimizer: Any, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> None:
        self.T_0 = _check_int("T_0", T_0, 1)
        self.T_mult = _check_int("T_mult", T_mult, 1)
        self.eta_min = check_number("eta_min", eta_min)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        """:func:`cosine_warm_restarts_lr` at ``step``."""
        return cosine_warm_restarts_lr(step, self.base_lr, self.T_0, self.T_mult, self.eta_min)


class LinearWarmup(Schedule):
    """Increasing: lr ramps linearly from ``start_factor * lr`` to ``lr`` over ``warmup_steps``.

    Identical to torch's ``LinearLR(start_factor, end_factor=1.0, total_iters=warmup_steps)``;
    the first factor is applied when the schedule is created.
    """

    def __init__(self, optimizer: Any, warmup_steps: int, start_factor: float = 0.1) -> None:
        self.warmup_steps = _check_int("warmup_steps", warmup_steps, 1)
        start_factor = check_number("start_factor", start_factor)
        if not 0.0 < start_factor <= 1.0:
            raise InvalidArgumentError(f"start_factor must be in (0, 1]; got {start_factor!r}")
        self.start_factor = start_factor
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        """:func:`linear_warmup_lr` at ``step``."""
        return linear_warmup_lr(step, self.base_lr, self.warmup_steps, self.start_factor)


class PolynomialLR(Schedule):
    """Decreasing: ``base_lr * (1 - step / total_iters) ** power`` down to 0 (torch PolynomialLR)."""

    def __init__(self, optimizer: Any, total_iters: int = 5, power: float = 1.0) -> None:
        self.total_iters = _check_int("total_iters", total_iters, 1)
        self.power = check_number("power", power)
        super().__init__(optimizer)

    def lr_at(self, step: int) -> float:
        """:func:`polynomial_lr` at ``step``."""
        return polynomial_lr(step, self.base_lr, self.total_iters, self.power)


class OneCycleLR(Schedule):
    """Cyclic: the 1cycle policy (torch OneCycleLR), lr up to ``max_lr`` then far below the start.

    Give ``total_steps``, or ``epochs`` and ``steps_per_epoch``. With ``cycle_momentum`` (the
    default, as torch) the optimizer's momentum (SGD, RMSprop) or first beta (Adam, AdamW) moves
    between ``max_momentum`` and ``base_momentum`` the other way round; Adagrad has neither and
    is refused. Stepping past ``total_steps`` raises ValueError, as torch does. One difference:
    the ``total_steps``-th step (after the last update) of a linear anneal extrapolates below
    zero in torch; an lr cannot be negative here, so it is 0.0.
    """

    _chainable = False

    def __init__(
        self,
        optimizer: Any,
        max_lr: float,
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> None:
        _check_optimizer(optimizer)
        if total_steps is not None:
            self.total_steps = check_int(total_steps, "total_steps", min=1)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = check_int(epochs, "epochs", min=1) * check_int(steps_per_epoch, "steps_per_epoch", min=1)
        else:
            raise InvalidArgumentError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        self.max_lr = check_real(max_lr, "max_lr", min=0.0)
        self.pct_start = check_real(pct_start, "pct_start", min=0.0, max=1.0)
        self.anneal_strategy = check_choice(anneal_strategy, "anneal_strategy", ("cos", "linear"))
        self.cycle_momentum = check_bool(cycle_momentum, "cycle_momentum")
        self.base_momentum = check_real(base_momentum, "base_momentum", min=0.0)
        self.max_momentum = check_real(max_momentum, "max_momentum", min=0.0)
        self.div_factor = check_real(div_factor, "div_factor", min=0.0, min_open=True)
        self.final_div_factor = check_real(final_div_factor, "final_div_factor", min=0.0, min_open=True)
        self.three_phase = check_bool(three_phase, "three_phase")
        self._momentum_kind: str | None = None
        if self.cycle_momentum:
            if hasattr(optimizer, "betas"):
                self._momentum_kind = "betas"
            elif hasattr(optimizer, "momentum"):
                self._momentum_kind = "momentum"
            else:
                raise InvalidArgumentError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
        super().__init__(optimizer)

    def _at(self, step: int) -> tuple[float, float]:
        if step > self.total_steps:
            raise InvalidArgumentError(f"Tried to step {step} times. The specified number of total steps is {self.total_steps}")
        return one_cycle(step, self.max_lr, self.total_steps, pct_start=self.pct_start,
                         anneal_strategy=self.anneal_strategy, div_factor=self.div_factor,
                         final_div_factor=self.final_div_factor, three_phase=self.three_phase,
                         base_momentum=self.base_momentum, max_momentum=self.max_momentum)

    def lr_at(self, step: int) -> float:
        """The lr of :func:`one_cycle` at ``step`` (and, with ``cycle_momentum``, sets the momentum)."""
        lr, momentum = self._at(step)
        if self._momentum_kind == "betas":
            self.optimizer.betas = (momentum, self.optimizer.betas[1])
        elif self._momentum_kind == "momentum":
            self.optimizer.momentum = momentum
        return max(lr, 0.0)


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
