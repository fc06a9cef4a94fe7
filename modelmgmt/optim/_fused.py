"""Single-pass optimizer kernels compiled with numba, used when the ``fast`` extra is installed.

The numpy kernels make about ten passes (Adam, RMSprop) or four (SGD with momentum) over each block
of a parameter; these make one, on every core, like torch's ``fused=True``. Each element
gets exactly the numpy kernels' operations in the same order and dtype (``maximize`` negates
the gradient first, as the numpy path does) (scalars are cast to
the parameter's dtype first, as numpy does with Python floats, and no multiply-add is fused),
so the results are bit-identical to the numpy path: the choice never changes a trajectory.

``MODELMGMT_OPTIM_KERNEL=numpy`` turns them off; without numba they are simply not used.
"""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace
from typing import Any

import numpy as np

from modelmgmt.errors import InvalidArgumentError

__all__ = ["kernels", "kernel_choice", "MIN_SIZE", "LAUNCH_LOCK"]

#: parameters smaller than this stay on the numpy path (a parallel launch costs ~10 µs)
MIN_SIZE = 1 << 16

_LOCK = threading.Lock()
_KERNELS: list[Any] = []  # [namespace or None], filled on first use
#: held around every kernel call: numba's built-in "workqueue" thread pool is not safe for
#: launches from several Python threads at once (a model per thread in a tuning search)
LAUNCH_LOCK = threading.Lock()


def _fresh_lock_in_child() -> None:
    global LAUNCH_LOCK
    LAUNCH_LOCK = threading.Lock()  # a forked child must not inherit a lock held by a thread


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_lock_in_child)


def kernel_choice() -> str:
    """``MODELMGMT_OPTIM_KERNEL``: "auto" (default: numba when installed), "numba" or "numpy"."""
    choice = os.environ.get("MODELMGMT_OPTIM_KERNEL", "auto")
    if choice not in ("auto", "numpy", "numba"):
        raise InvalidArgumentError(f"MODELMGMT_OPTIM_KERNEL must be 'auto', 'numba' or 'numpy'; got {choice!r}")
    return choice


def kernels() -> Any:
    """The compiled kernels (``adam``, ``sgd``, ``adagrad``, ``rmsprop``), or None when numba
    is absent or turned off."""
    choice = kernel_choice()
    if choice == "numpy":
        return None
    with _LOCK:
        if not _KERNELS:
            _KERNELS.append(_build())
    if _KERNELS[0] is None and choice == "numba":
        raise ImportError("MODELMGMT_OPTIM_KERNEL=numba needs numba: pip install 'modelmgmt[fast]'")
    return _KERNELS[0]


def _build() -> Any:
    try:
        import numba
    except ImportError:
        return None
    jit = numba.njit(parallel=True, cache=True, fastmath=False, nogil=True)

    @jit
    def adam(p, g, m, v, vmax, amsgrad, decoupled, wd, decay, beta1, beta2, eps_k, neg_scale, maximize):  # pragma: no cover - compiled
        for i in numba.prange(p.size):
            pi = p[i]
            gi = -g[i] if maximize else g[i]
            if wd != 0:
                if decoupled:
                    pi = pi * decay
                else:
                    gi = pi * wd + gi
            mi = m[i] * beta1 + gi
            m[i] = mi
            vi = v[i] * beta2 + gi * gi
            v[i] = vi
            if amsgrad:
                vi = np.maximum(vmax[i], vi)
                vmax[i] = vi
            t = mi / (np.sqrt(vi) + eps_k)
            p[i] = pi + t * neg_scale

    @jit
    def sgd(p, g, buf, has_momentum, first, nesterov, wd, momentum, damp, neg_lr, maximize):  # pragma: no cover - compiled
        for i in numba.prange(p.size):
            pi = p[i]
            gi = -g[i] if maximize else g[i]
            if wd != 0:
                gi = pi * wd + gi
            if has_momentum:
                if first:
                    b = gi
                elif damp != 1:
                    b = buf[i] * momentum + gi * damp
                else:
                    b = buf[i] * momentum + gi
                buf[i] = b
                gi = b * momentum + gi if nesterov else b
            p[i] = pi + gi * neg_lr

    @jit
    def adagrad(p, g, state_sum, wd, neg_clr, eps, maximize):  # pragma: no cover - compiled
        for i in numba.prange(p.size):
            pi = p[i]
            gi = -g[i] if maximize else g[i]
            if wd != 0:
                gi = pi * wd + gi
            s = state_sum[i] + gi * gi
            state_sum[i] = s
            p[i] = pi + (gi * neg_clr) / (np.sqrt(s) + eps)

    @jit
    def rmsprop(p, g, square_avg, buf, grad_avg, has_momentum, centered, small_weight,
                wd, alpha, one_minus_alpha, lerp_back, eps, momentum, neg_lr, maximize):  # pragma: no cover - compiled
        for i in numba.prange(p.size):
            pi = p[i]
            gi = -g[i] if maximize else g[i]
            if wd != 0:
                gi = pi * wd + gi
            sa = square_avg[i] * alpha + (gi * one_minus_alpha) * gi
            square_avg[i] = sa
            if centered:
                ga = grad_avg[i]
                d = gi - ga  # torch's two-branch lerp, as _core.lerp_
                ga = ga + d * one_minus_alpha if small_weight else gi - d * lerp_back
                grad_avg[i] = ga
                avg = np.sqrt(sa - ga * ga) + eps
            else:
                avg = np.sqrt(sa) + eps
            if has_momentum:
                b = buf[i] * momentum + gi / avg
                buf[i] = b
                p[i] = pi + b * neg_lr
            else:
                p[i] = pi + (gi * neg_lr) / avg

    return SimpleNamespace(adam=adam, sgd=sgd, adagrad=adagrad, rmsprop=rmsprop, numba=numba)
