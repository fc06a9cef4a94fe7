"""Adam and AdamW: bias-corrected first and second moment estimates (torch.optim.Adam / AdamW)."""

from __future__ import annotations

import math

import numpy as np

from modelmgmt.optim._core import BlockOptimizer, check_number, hyper, lerp_

__all__ = ["Adam", "AdamW"]


def _check_betas(betas: object) -> tuple[float, float]:
    """Return betas as two floats in [0, 1) or raise."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2); got {type(betas).__name__} {betas!r}")
    b1 = check_number("beta parameter at index 0", betas[0], below=1.0)
    b2 = check_number("beta parameter at index 1", betas[1], below=1.0)
    return (b1, b2)


class Adam(BlockOptimizer):
    """Adam with torch.optim.Adam's update rule (L2 weight decay added to the gradient).

    Per step ``t``: ``g += weight_decay * p``; ``m = lerp(m, g, 1 - beta1)``;
    ``v = beta2 * v + (1 - beta2) * g * g`` (amsgrad: ``vmax = max(vmax, v)`` is used instead
    of ``v``); ``denom = sqrt(v) / sqrt(1 - beta2**t) + eps``;
    ``p -= (lr / (1 - beta1**t)) * m / denom``.
    """

    _scratch_count = 3
    _decoupled = False

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        if not isinstance(amsgrad, (bool, np.bool_)):
            raise TypeError(f"amsgrad must be a bool; got {type(amsgrad).__name__} {amsgrad!r}")
        super().__init__(
            lr=check_number("learning rate", lr),
            betas=_check_betas(betas),
            eps=check_number("epsilon value", eps),
            weight_decay=check_number("weight_decay value", weight_decay),
            amsgrad=bool(amsgrad),
        )

    betas = hyper("betas")
    eps = hyper("eps")
    weight_decay = hyper("weight_decay")
    amsgrad = hyper("amsgrad")

    def _buffer_names(self) -> tuple[str, ...]:
        if self._hp["amsgrad"]:
            return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
        return ("exp_avg", "exp_avg_sq")

    def _coefficients(self, step: int) -> tuple:
        h = self._hp
        beta1, beta2 = h["betas"]
        bias_correction1 = 1 - beta1 ** float(step)
        bias_correction2 = 1 - beta2 ** float(step)
        step_size = h["lr"] / bias_correction1
        bias_correction2_sqrt = math.sqrt(bias_correction2)
        return (h["lr"], beta1, beta2, h["eps"], h["weight_decay"], step_size, bias_correction2_sqrt)

    def _kernel(self, p, g, bufs, tmp, c, step) -> None:
        lr, beta1, beta2, eps, wd, step_size, bc2_sqrt = c
        t0, t1, t2 = tmp
        exp_avg, exp_avg_sq = bufs[0], bufs[1]
        if wd != 0:
            if self._decoupled:
                p *= 1 - lr * wd  # AdamW: param.mul_(1 - lr * weight_decay)
            else:
                np.multiply(p, wd, out=t0)  # Adam: grad = grad + wd * param
                t0 += g
                g = t0
        lerp_(exp_avg, g, 1 - beta1, t1)  # exp_avg.lerp_(g, 1 - beta1)
        exp_avg_sq *= beta2  # exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        np.multiply(g, 1 - beta2, out=t1)
        t1 *= g
        exp_avg_sq += t1
        if len(bufs) == 3:
            np.maximum(bufs[2], exp_avg_sq, out=bufs[2])
            np.sqrt(bufs[2], out=t1)
        else:
            np.sqrt(exp_avg_sq, out=t1)
        t1 /= bc2_sqrt  # denom = sqrt(v) / sqrt(bias_correction2) + eps
        t1 += eps
        np.multiply(exp_avg, -step_size, out=t2)  # p.addcdiv_(exp_avg, denom, value=-step_size)
        t2 /= t1
        p += t2


class AdamW(Adam):
    """AdamW with torch.optim.AdamW's rule: Adam with decoupled weight decay ``p *= 1 - lr * wd``."""

    _decoupled = True

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
