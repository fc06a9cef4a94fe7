"""Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD)."""

from __future__ import annotations

import numpy as np

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.optim._core import BlockOptimizer, check_maximize, check_number, hyper

__all__ = ["SGD"]


class SGD(BlockOptimizer):
    """SGD with torch.optim.SGD's update rule; plain gradient descent is SGD on full batches.

    Per step, with ``g`` the gradient (negated when ``maximize=True``): ``g += weight_decay * p``; with momentum the buffer is
    ``b = g`` on the first step and ``b = momentum * b + (1 - dampening) * g`` afterwards;
    the update direction is ``g + momentum * b`` (nesterov) or ``b``; ``p -= lr * direction``.

    >>> import numpy as np
    >>> p = {"w": np.array([1.0, 2.0])}
    >>> SGD(lr=0.1).step(p, {"w": np.array([1.0, -1.0])})
    >>> p["w"]
    array([0.9, 2.1])
    """

    _scratch_count = 2

    def __init__(
        self,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        lr = check_number("learning rate", lr)
        momentum = check_number("momentum value", momentum)
        dampening = check_number("dampening value", dampening, low=-np.inf)
        weight_decay = check_number("weight_decay value", weight_decay)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise InvalidArgumentError(f"nesterov must be a bool; got {type(nesterov).__name__} {nesterov!r}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise InvalidArgumentError(
                "Nesterov momentum requires a momentum and zero dampening; "
                f"got momentum={momentum!r}, dampening={dampening!r}"
            )
        super().__init__(
            lr=lr, momentum=momentum, dampening=dampening, nesterov=bool(nesterov), weight_decay=weight_decay,
            maximize=check_maximize(maximize),
        )

    def _set_momentum(self, value: float) -> None:
        """Change the momentum between steps (OneCycleLR cycles it, as torch's param_groups)."""
        momentum = check_number("momentum value", value)
        if self._hp["nesterov"] and momentum <= 0:
            raise InvalidArgumentError(f"Nesterov momentum requires a momentum; got {value!r}")
        self._hp["momentum"] = momentum

    def _kernel_step(self, step: int, created: tuple[str, ...]) -> int:
        # torch starts a momentum buffer as a copy of the gradient, also when momentum is turned on late
        return 1 if "momentum_buffer" in created else step

    momentum = hyper("momentum", _set_momentum)
    maximize = hyper("maximize")
    dampening = hyper("dampening")
    nesterov = hyper("nesterov")
    weight_decay = hyper("weight_decay")

    def _buffer_names(self) -> tuple[str, ...]:
        return ("momentum_buffer",) if self._hp["momentum"] != 0 else ()

    def _coefficients(self, step: int) -> tuple:
        h = self._hp
        return (h["lr"], h["momentum"], h["dampening"], h["nesterov"], h["weight_decay"])

    def _fused_step(self, fused, p, g, bufs, c, step, maximize) -> bool:
        lr, momentum, dampening, nesterov, wd = c
        dt = p.dtype.type  # numpy casts Python-float scalars to the array's dtype; so do we
        fused.sgd(p, g, bufs[0] if bufs else p, momentum != 0, step == 1, nesterov,
                  dt(wd), dt(momentum), dt(1.0 - dampening), dt(-lr), maximize)
        return True

    def _kernel(self, p, g, bufs, tmp, c, step) -> None:
        lr, momentum, dampening, nesterov, wd = c
        t0, t1 = tmp
        if wd != 0:
            np.multiply(p, wd, out=t0)  # grad = grad + wd * param
            np.add(t0, g, t0)
            g = t0
        if momentum != 0:
            buf = bufs[0]
            if step == 1:
                np.copyto(buf, g)  # torch: buf = grad.clone() on first sight
            else:
                np.multiply(buf, momentum, buf)
                if dampening != 0:
                    np.multiply(g, 1.0 - dampening, out=t1)
                    np.add(buf, t1, buf)
                else:
                    np.add(buf, g, buf)
            if nesterov:
                np.multiply(buf, momentum, out=t1)
                np.add(t1, g, t1)
                g = t1
            else:
                g = buf
        np.multiply(g, -lr, t1)
        np.add(p, t1, p)
