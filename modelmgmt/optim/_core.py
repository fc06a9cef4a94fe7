"""Shared machinery of the built-in optimizers: input checks, per-key state, blocked updates.

Every built-in optimizer keeps its state as a small plain structure, one dict per parameter
key: ``{"step": int, <buffer name>: ndarray, ...}`` (buffers in the parameter's dtype and
shape). The update itself is a *kernel*: a method that applies torch.optim's arithmetic to
1-D slices of the parameter, the gradient and the buffers, writing into preallocated scratch
slices with numpy ``out=`` operations. ``step`` walks each parameter in blocks of
``BLOCK`` elements so the ten or so elementwise operations of one update run on data that is
still in the CPU cache; nothing proportional to the parameter count is allocated per step.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, ClassVar

import numpy as np

from modelmgmt._threads import shared_pool, threads_from_env
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.optim import _fused
from modelmgmt.optim.base import Optimizer

__all__ = ["BLOCK", "BlockOptimizer", "check_number", "check_maximize", "hyper", "lerp_", "num_threads", "set_num_threads"]

#: elements per block: ~6 arrays of 64k float32 values stay in L2/L3 cache while the update
#: runs over them, and blocks are long enough that numpy's per-call overhead is small
#: (measured on 10M float32 Adam: 4k -> 2.1x, 16k -> 1.2x, 64k -> 1.0x, unblocked -> 1.45x)
BLOCK = 65536
#: a parameter is split across threads only when each thread gets at least this many blocks
_MIN_BLOCKS_PER_THREAD = 4
_NUM_THREADS: int | None = None


def num_threads() -> int:
    """Threads a large parameter's update is split over (numpy releases the GIL in its loops).

    From the environment variable ``MODELMGMT_OPTIM_THREADS`` if set, else the CPUs this
    process may use, at most 8. ``set_num_threads`` overrides both. Results do not depend on
    it: every element gets the same arithmetic whichever thread runs it.
    """
    if _NUM_THREADS is not None:
        return _NUM_THREADS
    return threads_from_env("MODELMGMT_OPTIM_THREADS")


def set_num_threads(n: int | None) -> None:
    """Set the threads used for large updates (``None`` restores the default; 1 disables threads)."""
    global _NUM_THREADS
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise InvalidArgumentError(f"number of threads must be an int >= 1 or None; got {n!r}")
    _NUM_THREADS = n


def _pool() -> ThreadPoolExecutor:
    """The optimizers' process-wide worker pool."""
    return shared_pool("optim", 16)


def check_number(name: str, value: Any, *, low: float = 0.0, below: float | None = None) -> float:
    """Return ``value`` as a Python float, or raise if it is not a finite number >= ``low``.

    ``below`` (exclusive upper bound) is used for Adam's betas. The message names the value,
    like torch.optim's ``Invalid learning rate: -1.0``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidArgumentError(f"{name} must be a real number; got {type(value).__name__} {value!r}")
    v = float(value)
    if math.isnan(v) or math.isinf(v):
        raise InvalidArgumentError(f"Invalid {name}: {value!r} (expected a finite number)")
    if v < low:
        raise InvalidArgumentError(f"Invalid {name}: {value!r} (expected >= {low:g})")
    if below is not None and not v < below:
        raise InvalidArgumentError(f"Invalid {name}: {value!r} (expected in [{low:g}, {below:g}))")
    return v


def check_maximize(maximize: Any) -> bool:
    """``maximize`` as a bool: True follows the gradient uphill (torch's ``maximize=True``)."""
    if not isinstance(maximize, (bool, np.bool_)):
        raise InvalidArgumentError(f"maximize must be a bool; got {type(maximize).__name__} {maximize!r}")
    return bool(maximize)


def lerp_(a: np.ndarray, end: np.ndarray, weight: float, tmp: np.ndarray) -> None:
    """In place ``a = a + weight * (end - a)``, with torch's two-branch formula for lerp."""
    np.subtract(end, a, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        a += tmp
    else:
        tmp *= 1.0 - weight
        np.subtract(end, tmp, out=a)


def hyper(name: str, setter: Any = None) -> property:
    """A property that exposes one hyperparameter; settable when ``setter(self, value)`` is given
    (schedules such as OneCycleLR move momentum and betas, as torch's do through param_groups)."""
    if setter is None:
        return property(lambda self: self._hp[name], doc=f"The {name} hyperparameter (read-only).")
    return property(lambda self: self._hp[name], setter, doc=f"The {name} hyperparameter (settable).")


class BlockOptimizer(Optimizer):
    """Base of the built-in optimizers: validation, lazy per-key state, blocked kernels.

    Subclasses set ``_scratch_count`` and implement ``_buffer_names`` (which state arrays
    exist), ``_coefficients(step)`` (per-step Python floats) and ``_kernel``.
    """

    _scratch_count: ClassVar[int] = 3

    def __init__(self, **hyperparams: Any) -> None:
        self._hp: dict[str, Any] = dict(hyperparams)
        self._state: dict[str, dict[str, Any]] = {}
        self._scratch: dict[str, list[list[np.ndarray]]] = {}

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

    def _kernel_step(self, step: int, created: tuple[str, ...]) -> int:
        """The step number the kernel sees (SGD restarts its momentum buffer when it is new)."""
        return step

    def _fused_step(self, fused: Any, p, g, bufs, c, step, maximize: bool) -> bool:
        """Run one compiled single-pass update over whole 1-D arrays (see ``_fused``); return
        False when this optimizer has none, and the numpy kernel runs instead."""
        return False

    def _kernel(self, p, g, bufs, tmp, c, step) -> None:  # pragma: no cover - abstract
        """Apply one update to equal-length 1-D slices ``p``, ``g``, ``bufs``; ``tmp`` is scratch."""
        raise NotImplementedError

    # ----------------------------------------------------------------- the step
    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every array of ``params`` in place from ``grads`` (same keys and shapes)."""
        work = self._checked_pairs(params, grads)
        if _fused.kernel_choice() == "numba":  # a bad or unmet choice fails before anything changes
            _fused.kernels()
        names = self._buffer_names()
        for key, p, _ in work:  # refuse before changing anything
            st = self._state.get(key)
            if st is not None and any(n in st and (st[n].shape != p.shape or st[n].dtype != p.dtype) for n in names):
                first = next(st[n] for n in names if n in st)
                raise InvalidArgumentError(
                    f"parameter {key!r} has shape {p.shape} and dtype {p.dtype}, but this optimizer's "
                    f"state for it was made for shape {first.shape} and dtype {first.dtype}"
                )
        for key, p, g in work:
            st = self._state.setdefault(key, {"step": 0})
            created = tuple(n for n in names if n not in st)  # all at first sight; one when momentum is turned on
            for name in created:
                st[name] = np.full(p.shape, self._initial_value(name), dtype=p.dtype)
            st["step"] += 1
            self._update(p, g, [st[n] for n in names], self._kernel_step(st["step"], created))

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles leave the scratch blocks behind (they are remade on first use)."""
        state = self.__dict__.copy()
        state["_scratch"] = {}
        return state

    def _checked_pairs(self, params: Any, grads: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Validate everything before touching anything, so a bad call changes nothing."""
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise InvalidArgumentError(
                "params and grads must be dicts of name -> numpy array; "
                f"got {type(params).__name__} and {type(grads).__name__}"
            )
        if params.keys() != grads.keys():
            missing = sorted(map(str, params.keys() - grads.keys()))
            extra = sorted(map(str, grads.keys() - params.keys()))
            raise InvalidArgumentError(
                f"params and grads must have the same keys; grads lack {missing} and have extra {extra}"
            )
        out = []
        for key, p in params.items():
            g = grads[key]
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                what = f"array of dtype {p.dtype}" if isinstance(p, np.ndarray) else type(p).__name__
                raise InvalidArgumentError(f"parameter {key!r} must be a floating-point numpy array; got {what}")
            if not p.flags.writeable:
                raise InvalidArgumentError(f"parameter {key!r} is read-only; step() updates parameters in place")
            if not isinstance(g, np.ndarray):
                g = np.asarray(g)
            if g.dtype.kind not in "fiu":
                raise InvalidArgumentError(f"gradient {key!r} must be a real numeric array; got dtype {g.dtype}")
            if g.shape != p.shape:
                raise InvalidArgumentError(f"gradient {key!r} has shape {g.shape}; its parameter has shape {p.shape}")
            out.append((key, p, g))
        return out

    def _scratch_for(self, dtype: np.dtype, n: int, worker: int) -> list[np.ndarray]:
        """Preallocated scratch blocks of ``dtype`` for one worker (made once, reused every step)."""
        size = min(BLOCK, max(n, 1))
        per_worker: list[list[np.ndarray]] = self._scratch.setdefault(dtype.str, [])
        while len(per_worker) <= worker:
            per_worker.append([])
        have = per_worker[worker]
        count = self._scratch_count + 1  # one more: the negated gradient when maximize=True
        if not have or have[0].size < size:
            have = [np.empty(size, dtype=dtype) for _ in range(count)]
            per_worker[worker] = have
        return have

    def _update(self, p: np.ndarray, g: np.ndarray, bufs: list[np.ndarray], step: int) -> None:
        """Run the kernel over ``p`` block by block (contiguous copies only for odd layouts)."""
        target = p
        if not p.flags.c_contiguous:
            p = np.ascontiguousarray(p)
        if g.dtype != p.dtype or not g.flags.c_contiguous:
            g = np.ascontiguousarray(g, dtype=p.dtype)
        pf, gf = p.reshape(-1), g.reshape(-1)
        maximize = self._hp.get("maximize", False)
        bf = [b.reshape(-1) for b in bufs]
        n = pf.size
        c = self._coefficients(step)
        if n >= _fused.MIN_SIZE and p.dtype in (np.float32, np.float64):
            fused = _fused.kernels()
            if fused is not None:
                with _fused.LAUNCH_LOCK:  # numba's default thread pool takes one launch at a time
                    fused.numba.set_num_threads(min(num_threads(), fused.numba.config.NUMBA_NUM_THREADS))
                    done = self._fused_step(fused, pf, gf, bf, c, step, maximize)
                if done:
                    if p is not target:
                        np.copyto(target, p)
                    return
        n_blocks = -(-n // BLOCK)
        workers = min(num_threads(), n_blocks // _MIN_BLOCKS_PER_THREAD)
        if workers <= 1:
            self._run_blocks(pf, gf, bf, 0, n, c, step, self._scratch_for(p.dtype, n, 0), maximize)
        else:
            per = -(-n_blocks // workers) * BLOCK
            bounds = [(lo, min(lo + per, n)) for lo in range(0, n, per)]
            scratches = [self._scratch_for(p.dtype, n, w) for w in range(len(bounds))]
            pool = _pool()
            futures = [
                pool.submit(self._run_blocks, pf, gf, bf, lo, hi, c, step, scratches[w], maximize)
                for w, (lo, hi) in enumerate(bounds[1:], start=1)
            ]
            try:
                self._run_blocks(pf, gf, bf, *bounds[0], c, step, scratches[0], maximize)
            finally:
                wait(futures)  # never leave a worker writing into our arrays
            for f in futures:
                f.result()  # re-raise a worker's error
        if p is not target:
            np.copyto(target, p)

    def _run_blocks(self, pf, gf, bf, start: int, stop: int, c: tuple, step: int, scratch, maximize: bool = False) -> None:
        """Apply the kernel to elements ``start:stop`` in cache-sized blocks.

        ``maximize`` negates each gradient block first (into the last scratch array), as
        torch does with ``maximize=True``; the kernels then run unchanged.
        """
        kernel = self._kernel
        for lo in range(start, stop, BLOCK):
            hi = min(lo + BLOCK, stop)
            tmp = scratch if hi - lo == scratch[0].size else [t[: hi - lo] for t in scratch]
            g = gf[lo:hi]
            if maximize:
                g = np.negative(g, out=tmp[-1])
            kernel(pf[lo:hi], g, [b[lo:hi] for b in bf], tmp[:-1], c, step)

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
            raise InvalidArgumentError(
                "expected a dict from state_dict() with keys 'optimizer', 'hyperparams', 'state'; "
                f"got {type(state).__name__}" + (f" with keys {sorted(state)}" if isinstance(state, dict) else "")
            )
        if state["optimizer"] != type(self).__name__:
            raise InvalidArgumentError(f"state_dict is for {state['optimizer']}, not {type(self).__name__}")
        fresh = type(self)(**state["hyperparams"])  # validates the hyperparameters
        names = fresh._buffer_names()
        new_state: dict[str, dict[str, Any]] = {}
        for key, st in state["state"].items():
            missing = [n for n in ("step", *names) if n not in st]
            if missing:
                raise InvalidArgumentError(f"state for {key!r} lacks {missing}")
            step = st["step"]
            if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
                raise InvalidArgumentError(f"state step count for {key!r} must be an int >= 0; got {step!r}")
            entry: dict[str, Any] = {"step": int(step)}
            for n in names:
                arr = np.array(st[n], copy=True, order="C")  # (ascontiguousarray would make 0-d 1-d)
                if arr.dtype.kind != "f":
                    raise InvalidArgumentError(f"state buffer {n!r} of {key!r} must be floating; got dtype {arr.dtype}")
                entry[n] = arr
            new_state[key] = entry
        self._hp = fresh._hp
        self._state = new_state
