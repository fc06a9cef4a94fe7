"""Adagrad: per-coordinate learning rates from the running sum of squared gradients (torch.optim.Adagrad)."""

from __future__ import annotations

import numpy as np

from modelmgmt.optim._core import BlockOptimizer, check_maximize, check_number, hyper

__all__ = ["Adagrad"]


class Adagrad(BlockOptimizer):
    """Adagrad with torch.optim.Adagrad's update rule and defaults.

    Per step ``t`` (1-based; ``g`` negated first when ``maximize=True``): ``g += weight_decay * p``; ``clr = lr / (1 + (t - 1) * lr_decay)``;
    ``sum += g * g`` (``sum`` starts at ``initial_accumulator_value``);
    ``p -= clr * g / (sqrt(sum) + eps)``.
    """

    _scratch_count = 3

    def __init__(
        self,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            lr=check_number("learning rate", lr),
            lr_decay=check_number("lr_decay", lr_decay),
            weight_decay=check_number("weight_decay value", weight_decay),
            initial_accumulator_value=check_number("initial_accumulator_value", initial_accumulator_value),
            eps=check_number("epsilon value", eps),
            maximize=check_maximize(maximize),
        )

    lr_decay = hyper("lr_decay")
    maximize = hyper("maximize")
    weight_decay = hyper("weight_decay")
    initial_accumulator_value = hyper("initial_accumulator_value")
    eps = hyper("eps")

    def _buffer_names(self) -> tuple[str, ...]:
        return ("sum",)

    def _initial_value(self, name: str) -> float:
        return self._hp["initial_accumulator_value"]

    def _coefficients(self, step: int) -> tuple:
        h = self._hp
        clr = h["lr"] / (1 + (step - 1) * h["lr_decay"])
        return (clr, h["weight_decay"], h["eps"])

    def _fused_step(self, fused, p, g, bufs, c, step, maximize) -> bool:
        clr, wd, eps = c
        dt = p.dtype.type  # numpy casts Python-float scalars to the array's dtype; so do we
        fused.adagrad(p, g, bufs[0], dt(wd), dt(-clr), dt(eps), maximize)
        return True

    def _kernel(self, p, g, bufs, tmp, c, step) -> None:
        clr, wd, eps = c
        (state_sum,) = bufs
        t0, t1, t2 = tmp
        if wd != 0:
            np.multiply(p, wd, out=t0)
            t0 += g
            g = t0
        np.multiply(g, g, out=t1)  # sum.addcmul_(g, g, value=1)
        state_sum += t1
        np.sqrt(state_sum, out=t1)  # std = sqrt(sum) + eps
        t1 += eps
        np.multiply(g, -clr, out=t2)  # p.addcdiv_(g, std, value=-clr)
        t2 /= t1
        p += t2
