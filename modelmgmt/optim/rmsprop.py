"""RMSprop: divide by a running RMS of the gradients, optionally centered and with momentum (torch.optim.RMSprop)."""

from __future__ import annotations

import numpy as np

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.optim._core import BlockOptimizer, check_maximize, check_number, hyper, lerp_

__all__ = ["RMSprop"]


class RMSprop(BlockOptimizer):
    """RMSprop with torch.optim.RMSprop's update rule and defaults.

    Per step (``g`` negated first when ``maximize=True``): ``g += weight_decay * p``; ``v = alpha * v + (1 - alpha) * g * g``; centered:
    ``ga = lerp(ga, g, 1 - alpha)`` and ``avg = sqrt(v - ga * ga) + eps``, else
    ``avg = sqrt(v) + eps``; with momentum ``b = momentum * b + g / avg`` and ``p -= lr * b``,
    otherwise ``p -= lr * g / avg``.
    """

    _scratch_count = 3

    def __init__(
        self,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if not isinstance(centered, (bool, np.bool_)):
            raise InvalidArgumentError(f"centered must be a bool; got {type(centered).__name__} {centered!r}")
        super().__init__(
            lr=check_number("learning rate", lr),
            alpha=check_number("alpha value", alpha),
            eps=check_number("epsilon value", eps),
            weight_decay=check_number("weight_decay value", weight_decay),
            momentum=check_number("momentum value", momentum),
            centered=bool(centered),
            maximize=check_maximize(maximize),
        )

    def _set_momentum(self, value: float) -> None:
        """Change the momentum between steps (OneCycleLR cycles it)."""
        self._hp["momentum"] = check_number("momentum value", value)

    alpha = hyper("alpha")
    maximize = hyper("maximize")
    eps = hyper("eps")
    weight_decay = hyper("weight_decay")
    momentum = hyper("momentum", _set_momentum)
    centered = hyper("centered")

    def _buffer_names(self) -> tuple[str, ...]:
        names = ["square_avg"]
        if self._hp["momentum"] > 0:
            names.append("momentum_buffer")
        if self._hp["centered"]:
            names.append("grad_avg")
        return tuple(names)

    def _coefficients(self, step: int) -> tuple:
        h = self._hp
        return (h["lr"], h["alpha"], h["eps"], h["weight_decay"], h["momentum"], h["centered"])

    def _fused_step(self, fused, p, g, bufs, c, step, maximize) -> bool:
        lr, alpha, eps, wd, momentum, centered = c
        dt = p.dtype.type  # numpy casts Python-float scalars to the array's dtype; so do we
        weight = 1.0 - alpha  # lerp weight of grad_avg, as in _kernel
        fused.rmsprop(p, g, bufs[0], bufs[1] if momentum > 0 else p, bufs[-1] if centered else p,
                      momentum > 0, centered, abs(weight) < 0.5, dt(wd), dt(alpha), dt(1.0 - alpha),
                      dt(1.0 - weight), dt(eps), dt(momentum), dt(-lr), maximize)
        return True

    def _kernel(self, p, g, bufs, tmp, c, step) -> None:
        lr, alpha, eps, wd, momentum, centered = c
        t0, t1, t2 = tmp
        square_avg = bufs[0]
        if wd != 0:
            np.multiply(p, wd, out=t0)
            t0 += g
            g = t0
        square_avg *= alpha  # square_avg.mul_(alpha).addcmul_(g, g, value=1 - alpha)
        np.multiply(g, 1.0 - alpha, out=t1)
        t1 *= g
        square_avg += t1
        if centered:
            grad_avg = bufs[-1]
            lerp_(grad_avg, g, 1.0 - alpha, t1)
            np.multiply(grad_avg, grad_avg, out=t1)  # square_avg.addcmul(ga, ga, value=-1).sqrt_()
            np.subtract(square_avg, t1, out=t1)
            np.sqrt(t1, out=t1)
        else:
            np.sqrt(square_avg, out=t1)
        t1 += eps
        if momentum > 0:
            buf = bufs[1]
            buf *= momentum  # buf.mul_(momentum).addcdiv_(g, avg)
            np.divide(g, t1, out=t2)
            buf += t2
            np.multiply(buf, -lr, out=t2)  # p.add_(buf, alpha=-lr)
            p += t2
        else:
            np.multiply(g, -lr, out=t2)  # p.addcdiv_(g, avg, value=-lr)
            t2 /= t1
            p += t2
