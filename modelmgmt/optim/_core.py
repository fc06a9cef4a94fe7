"""Shared machinery of the built-in optimizers: input checks, per-key state, blocked updates.

Every built-in optimizer keeps its state as a small plain structure, one dict per parameter
key: ``{"step": int, <buffer name>: ndarray, ...}`` (buffers in the parameter's dtype and
shape). The update itself is a *kernel*: a method that applies torch.optim's arithmetic to
1-D slices of the parameter, the gradient and the buffers, writing into preallocated scratch
slices with numpy ``out=`` operations. ``step`` walks each parameter in blocks of
``BLOCK`` elements so the dozen elementwise operations of one update run on data that is
still in the CPU cache; nothing proportional to the parameter count is allocated per step.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from modelmgmt.optim.base import Optimizer

__all__ = ["BLOCK", "BlockOptimizer", "check_number", "hyper", "lerp_"]

#: elements per block; 16k float32 values x ~6 arrays stay inside a 512 KiB L2 cache
BLOCK = 16384


def check_number(name: str, value: Any, *, low: float = 0.0, below: float | None = None) -> float:
    """Return ``value`` as a Python float, or raise if it is not a finite number >= ``low``.

    ``below`` (exclusive upper bound) is used for Adam's betas. The message names the value,
    like torch.optim's ``Invalid learning rate: -1.0``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__} {value!r}")
    v = float(value)
    if math.isnan(v) or math.isinf(v):
        raise ValueError(f"Invalid {name}: {value!r} (expected a finite number)")
    if v < low:
        raise ValueError(f"Invalid {name}: {value!r} (expected >= {low:g})")
    if below is not None and not v < below:
        raise ValueError(f"Invalid {name}: {value!r} (expected in [{low:g}, {below:g}))")
    return v


def lerp_(a: np.ndarray, end: np.ndarray, weight: float, tmp: np.ndarray) -> None:
    """In place ``a = a + weight * (end - a)``, with torch's two-branch formula for lerp."""
    np.subtract(end, a, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1.0 - weight
        np.subtract(end, tmp, out=a)


def hyper(name: str) -> property:
    """A read-only property that exposes one hyperparameter."""
    return property(lambda self: self._hp[name], doc=f"The {name} hyperparameter (read-only).")


class BlockOptimizer(Optimizer):
    """Base of the built-in optimizers: validation, lazy per-key state, blocked kernels.

    Subclasses set ``_scratch_count`` and implement ``_buffer_names`` (which state arrays
    exist), ``_coefficients(step)`` (per-step Python floats) and ``_kernel``.
    """

    _scratch_count: ClassVar[int] = 3

    def __init__(self, **hyperparams: Any) -> None:
        self._hp: dict[str, Any] = dict(hyperparams)
        self._state: dict[str, dict[str, Any]] = {}
        self._scratch: dict[str, list[np.ndarray]] = {}

    # ----------------------------------------------------------------- hyperparameters
    @property
    def lr(self) -> float:
        """Current learning rate (schedules set it)."""
        return self._hp["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        self._hp["lr"] = check_number("learning rate", value)

    @property
    def hyperparams(self) -> dict[str, Any]:
        """A copy of the hyperparameters, as passed to the constructor."""
        return dict(self._hp)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._hp.items())
        return f"{type(self).__name__}({args})"

    # ----------------------------------------------------------------- subclass hooks
    def _buffer_names(self) -> tuple[str, ...]:
        """Names of the per-parameter state arrays this configuration keeps."""
        raise NotImplementedError

    def _initial_value(self, name: str) -> float:
        """Fill value of a new state array (zeros unless a subclass says otherwise)."""
        return 0.0

    def _coefficients(self, step: int) -> tuple:
        """Python-float scalars of one step (bias corrections, decayed lr, ...)."""
        raise NotImplementedError

    def _kernel(self, p, g, bufs, tmp, c, step) -> None:  # pragma: no cover - abstract
        """Apply one update to equal-length 1-D slices ``p``, ``g``, ``bufs``; ``tmp`` is scratch."""
        raise NotImplementedError

    # ----------------------------------------------------------------- the step
    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every array of ``params`` in place from ``grads`` (same keys and shapes)."""
        work = self._checked_pairs(params, grads)
        names = self._buffer_names()
        for key, p, g in work:
            st = self._state.get(key)
            if st is None:
                st = {"step": 0}
                for name in names:
                    st[name] = np.full(p.shape, self._initial_value(name), dtype=p.dtype)
                self._state[key] = st
            elif any(st[n].shape != p.shape or st[n].dtype != p.dtype for n in names):
                raise ValueError(
                    f"parameter {key!r} has shape {p.shape} and dtype {p.dtype}, but this optimizer's "
                    f"state for it was made for shape {st[names[0]].shape} and dtype {st[names[0]].dtype}"
                )
            st["step"] += 1
            self._update(p, g, [st[n] for n in names], st["step"])

    def _checked_pairs(self, params: Any, grads: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Validate everything before touching anything, so a bad call changes nothing."""
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise TypeError(
                "params and grads must be dicts of name -> numpy array; "
                f"got {type(params).__name__} and {type(grads).__name__}"
            )
        if params.keys() != grads.keys():
            missing = sorted(map(str, params.keys() - grads.keys()))
            extra = sorted(map(str, grads.keys() - params.keys()))
            raise ValueError(
                f"params and grads must have the same keys; grads lack {missing} and have extra {extra}"
            )
        out = []
        for key, p in params.items():
            g = grads[key]
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                what = f"array of dtype {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__
                raise TypeError(f"parameter {key!r} must be a floating-point numpy array; got {what}")
            if not p.flags.writeable:
                raise ValueError(f"parameter {key!r} is read-only; step() updates parameters in place")
            if not isinstance(g, np.ndarray):
                g = np.asarray(g)
            if g.dtype.kind not in "fiu":
                raise TypeError(f"gradient {key!r} must be a real numeric array; got dtype {g.dtype}")
            if g.shape != p.shape:
                raise ValueError(f"gradient {key!r} has shape {g.shape}; its parameter has shape {p.shape}")
            out.append((key, p, g))
        return out

    def _scratch_for(self, dtype: np.dtype, n: int) -> list[np.ndarray]:
        """Preallocated scratch blocks of ``dtype`` (made once, reused every step)."""
        size = min(BLOCK, max(n, 1))
        have = self._scratch.get(dtype.str)
        if have is None or have[0].size < size:
            have = [np.empty(size, dtype=dtype) for _ in range(self._scratch_count)]
            self._scratch[dtype.str] = have
        return have

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: list[np.ndarray], step: int) -> None:
        """Run the kernel over ``p`` block by block (contiguous copies only for odd layouts)."""
        target = p
        if not p.flags.c_contiguous:
            p = np.ascontiguousarray(p)
        if g.dtype != p.dtype or not g.flags.c_contiguous:
            g = np.ascontiguousarray(g, dtype=p.dtype)
        pf, gf = p.reshape(-1), g.reshape(-1)
        bf = [b.reshape(-1) for b in bufs]
        n = pf.size
        scratch = self._scratch_for(p.dtype, n)
        c = self._coefficients(step)
        kernel = self._kernel
        if n <= BLOCK:
            kernel(pf, gf, bf, [t[:n] for t in scratch], c, step)
        else:
            for lo in range(0, n, BLOCK):
                hi = min(lo + BLOCK, n)
                tmp = scratch if hi - lo == BLOCK else [t[: hi - lo] for t in scratch]
                kernel(pf[lo:hi], gf[lo:hi], [b[lo:hi] for b in bf], tmp, c, step)
        if p is not target:
            np.copyto(target, p)

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters and per-key state (step count and buffer copies) as a plain dict."""
        return {
            "optimizer": type(self).__name__,
            "hyperparams": dict(self._hp),
            "state": {
                key: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()}
                for key, st in self._state.items()
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()``: the following steps are bit-identical to the original's."""
        if not isinstance(state, dict) or not {"optimizer", "hyperparams", "state"} <= state.keys():
            raise ValueError(
                "expected a dict from state_dict() with keys 'optimizer', 'hyperparams', 'state'; "
                f"got {type(state).__name__}" + (f" with keys {sorted(state)}" if isinstance(state, dict) else "")
            )
        if state["optimizer"] != type(self).__name__:
            raise ValueError(f"state_dict is for {state['optimizer']}, not {type(self).__name__}")
        fresh = type(self)(**state["hyperparams"])  # validates the hyperparameters
        names = fresh._buffer_names()
        new_state: dict[str, dict[str, Any]] = {}
        for key, st in state["state"].items():
            missing = [n for n in ("step", *names) if n not in st]
            if missing:
                raise ValueError(f"state for {key!r} lacks {missing}")
            step = st["step"]
            if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
                raise ValueError(f"state step count for {key!r} must be an int >= 0; got {step!r}")
            entry: dict[str, Any] = {"step": int(step)}
            for n in names:
                arr = np.array(st[n], copy=True)
                if arr.dtype.kind != "f":
                    raise ValueError(f"state buffer {n!r} of {key!r} must be floating; got dtype {arr.dtype}")
                entry[n] = np.ascontiguousarray(arr)
            new_state[key] = entry
        self._hp = fresh._hp
        self._state = new_state
