"""Adam and AdamW: bias-corrected first and second moment estimates (torch.optim.Adam / AdamW)."""

from __future__ import annotations

import math

import numpy as np

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.optim._core import BlockOptimizer, check_maximize, check_number, hyper

__all__ = ["Adam", "AdamW"]


def _check_betas(betas: object) -> tuple[float, float]:
    """Return betas as two floats in [0, 1) or raise."""
    if isinstance(betas, np.ndarray):
        betas = betas.tolist()
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise InvalidArgumentError(f"betas must be a pair (beta1, beta2); got {type(betas).__name__} {betas!r}")
    b1 = check_number("beta parameter at index 0", betas[0], below=1.0)
    b2 = check_number("beta parameter at index 1", betas[1], below=1.0)
    return (b1, b2)


class Adam(BlockOptimizer):
    """Adam with torch.optim.Adam's update rule (L2 weight decay added to the gradient).

    Per step ``t`` (``g`` negated first when ``maximize=True``): ``g += weight_decay * p``; ``m = beta1 * m + (1 - beta1) * g``;
    ``v = beta2 * v + (1 - beta2) * g * g`` (amsgrad: ``vmax = max(vmax, v)`` is used instead
    of ``v``); ``denom = sqrt(v) / sqrt(1 - beta2**t) + eps``;
    ``p -= (lr / (1 - beta1**t)) * m / denom``.

    The state keeps torch's moments divided by ``(1 - beta)``: ``m = exp_avg / (1 - beta1)``,
    ``v = exp_avg_sq / (1 - beta2)`` (and ``v_max``), which saves one pass over each buffer
    per step; the constants are folded back into the per-step scalars, so the trajectory is
    torch's up to rounding (1e-10 relative in float64, tested against stored torch runs).
    """

    _scratch_count = 2
    _decoupled = False

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if not isinstance(amsgrad, (bool, np.bool_)):
            raise InvalidArgumentError(f"amsgrad must be a bool; got {type(amsgrad).__name__} {amsgrad!r}")
        super().__init__(
            lr=check_number("learning rate", lr),
            betas=_check_betas(betas),
            eps=check_number("epsilon value", eps),
            weight_decay=check_number("weight_decay value", weight_decay),
            amsgrad=bool(amsgrad),
            maximize=check_maximize(maximize),
        )

    def _set_betas(self, betas: tuple[float, float]) -> None:
        """Change the betas between steps (OneCycleLR cycles beta1), keeping torch's moments.

        The buffers hold ``exp_avg / (1 - beta1)`` and ``exp_avg_sq / (1 - beta2)``, so they are
        rescaled to the new betas; torch's moments are unchanged by the switch.
        """
        new = _check_betas(betas)
        old = self._hp["betas"]
        f1, f2 = (1 - old[0]) / (1 - new[0]), (1 - old[1]) / (1 - new[1])
        for st in self._state.values():
            if f1 != 1.0:
                st["m"] *= f1
            if f2 != 1.0:
                st["v"] *= f2
                if "v_max" in st:
                    st["v_max"] *= f2
        self._hp["betas"] = new

    betas = hyper("betas", _set_betas)
    maximize = hyper("maximize")
    eps = hyper("eps")
    weight_decay = hyper("weight_decay")
    amsgrad = hyper("amsgrad")

    def _buffer_names(self) -> tuple[str, ...]:
        if self._hp["amsgrad"]:
            return ("m", "v", "v_max")
        return ("m", "v")

    def _coefficients(self, step: int) -> tuple:
        h = self._hp
        lr, eps = h["lr"], h["eps"]
        beta1, beta2 = h["betas"]
        bias_correction1 = 1 - beta1 ** float(step)
        bias_correction2 = 1 - beta2 ** float(step)
        # torch: denom = sqrt(exp_avg_sq) / sqrt(bc2) + eps = k * (sqrt(v) + eps / k)
        k = math.sqrt(1 - beta2) / math.sqrt(bias_correction2)
        # torch: p -= lr / bc1 * exp_avg / denom = (lr / bc1 * (1 - beta1) / k) * m / (sqrt(v) + eps / k)
        scale = lr / bias_correction1 * (1 - beta1) / k
        return (lr, beta1, beta2, eps / k, h["weight_decay"], -scale)

    def _fused_step(self, fused, p, g, bufs, c, step, maximize) -> bool:
        lr, beta1, beta2, eps_k, wd, neg_scale = c
        dt = p.dtype.type  # numpy casts Python-float scalars to the array's dtype; so do we
        amsgrad = len(bufs) == 3
        fused.adam(p, g, bufs[0], bufs[1], bufs[2] if amsgrad else bufs[1], amsgrad, self._decoupled,
                   dt(wd), dt(1 - lr * wd), dt(beta1), dt(beta2), dt(eps_k), dt(neg_scale), maximize)
        return True

    def _kernel(self, p, g, bufs, tmp, c, step) -> None:
        lr, beta1, beta2, eps_k, wd, neg_scale = c
        t0, t1 = tmp
        m, v = bufs[0], bufs[1]
        if wd != 0:
            if self._decoupled:
                np.multiply(p, 1 - lr * wd, p)  # AdamW: param.mul_(1 - lr * weight_decay)
            else:
                np.multiply(p, wd, out=t0)  # Adam: grad = grad + wd * param
                np.add(t0, g, t0)
                g = t0
        np.multiply(m, beta1, m)  # m = exp_avg / (1 - beta1):  m = beta1 * m + g
        np.add(m, g, m)
        np.multiply(v, beta2, v)  # v = exp_avg_sq / (1 - beta2):  v = beta2 * v + g * g
        np.multiply(g, g, t1)
        np.add(v, t1, v)
        if len(bufs) == 3:
            np.maximum(bufs[2], v, out=bufs[2])
            v = bufs[2]
        np.sqrt(v, t1)
        np.add(t1, eps_k, t1)
        np.divide(m, t1, t1)
        np.multiply(t1, neg_scale, t1)
        np.add(p, t1, p)


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
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
