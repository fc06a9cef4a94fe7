"""Time one optimizer step on 10M float32 parameters: modelmgmt vs torch.optim (foreach and fused).

Usage: python benchmarks/bench_optim.py [--quick] [--repeats N] [--no-torch]

Runs Adam and SGD with momentum on four float32 tensors that sum to 10M parameters (100k with
--quick), ours and torch's in the same process, interleaved round-robin so a busy machine
slows every contender alike. Prints the median and best time per step, the ratios (torch
time / our time, > 1 means we are faster), the machine's bytes-moved bound (a numpy copy of the same
bytes, scaled to the arrays a step must read and write) with the fraction of it each step
reaches, and the bytes our steps allocate (tracemalloc; a per-step temporary would show up as
tens of MB). torch parts are skipped when torch is not installed.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from modelmgmt.optim import SGD, Adam

FULL = (4_000_000, 3_000_000, 2_000_000, 1_000_000)
QUICK = (40_000, 30_000, 20_000, 10_000)
# arrays read + written per element by a step: Adam reads p, g, m, v and writes p, m, v;
# SGD with momentum reads p, g, buf and writes p, buf
ARRAYS_TOUCHED = {"Adam": 7, "SGD-momentum": 5}
_USE_TORCH = True


def make_arrays(sizes: tuple[int, ...], seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    params = {f"p{i}": rng.standard_normal(n, dtype=np.float32) for i, n in enumerate(sizes)}
    grads = {k: rng.standard_normal(v.size, dtype=np.float32) for k, v in params.items()}
    return params, grads


def ours_step(kind: str, sizes: tuple[int, ...]) -> Callable[[], None]:
    params, grads = make_arrays(sizes)
    opt = Adam(lr=1e-3) if kind == "Adam" else SGD(lr=1e-3, momentum=0.9)
    opt.step(params, grads)  # creates the state
    return lambda: opt.step(params, grads)


def torch_step(kind: str, sizes: tuple[int, ...], impl: str) -> Callable[[], None] | None:
    if not _USE_TORCH:
        return None
    try:
        import torch
    except ImportError:
        return None
    params, grads = make_arrays(sizes)
    tparams = [torch.from_numpy(p).requires_grad_(True) for p in params.values()]
    for tp, g in zip(tparams, grads.values()):
        tp.grad = torch.from_numpy(g)
    flag = {"foreach": True} if impl == "foreach" else {"fused": True}
    try:
        if kind == "Adam":
            opt = torch.optim.Adam(tparams, lr=1e-3, **flag)
        else:
            opt = torch.optim.SGD(tparams, lr=1e-3, momentum=0.9, **flag)
        opt.step()
    except (RuntimeError, TypeError, ValueError) as exc:  # e.g. no fused CPU kernel in this build
        print(f"  (torch {impl} {kind} unavailable: {exc})")
        return None

    def step() -> None:
        with torch.no_grad():
            opt.step()

    return step


def copy_time(n_elements: int, repeats: int) -> float:
    """Median seconds of a numpy copy of n float32 values (reads n*4 and writes n*4 bytes)."""
    src = np.ones(n_elements, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def allocated_during(step: Callable[[], None], steps: int = 3) -> int:
    """Peak bytes allocated (tracemalloc) while running a few steps."""
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(steps):
            step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100k parameters instead of 10M")
    parser.add_argument("--repeats", type=int, default=None, help="timed steps per contender")
    parser.add_argument("--no-torch", action="store_true", help="time ours only (as when torch is absent)")
    args = parser.parse_args(argv)
    global _USE_TORCH
    _USE_TORCH = not args.no_torch
    sizes = QUICK if args.quick else FULL
    n = sum(sizes)
    repeats = args.repeats or (5 if args.quick else 15)
    try:
        if not _USE_TORCH:
            raise ImportError
        import torch

        torch_info = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    except ImportError:
        torch_info = "torch not installed or --no-torch: torch columns skipped"
    from modelmgmt.optim import _fused
    from modelmgmt.optim._core import BLOCK, num_threads

    kernel = "numba single-pass kernel" if _fused.kernels() is not None else f"numpy kernels in blocks of {BLOCK} elements"
    torch_info += f"; ours: {num_threads()} threads, {kernel} (MODELMGMT_OPTIM_KERNEL=numpy|numba)"
    print(f"optimizer step on {n:,} float32 parameters in {len(sizes)} tensors; {torch_info}")
    t_copy = copy_time(n, repeats)
    bandwidth = 8 * n / t_copy
    print(f"numpy copy of {n:,} float32: {t_copy * 1e3:.2f} ms  ({bandwidth / 1e9:.1f} GB/s read+write)")
    for kind in ("Adam", "SGD-momentum"):
        base_kind = "Adam" if kind == "Adam" else "SGD"
        contenders = {"modelmgmt": ours_step(base_kind, sizes)}
        for impl in ("foreach", "fused"):
            fn = torch_step(base_kind, sizes, impl)
            if fn is not None:
                contenders[f"torch {impl}"] = fn
        for fn in contenders.values():
            fn()  # warm up
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(repeats):  # round-robin
            for name, fn in contenders.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
        med = {name: statistics.median(ts) for name, ts in times.items()}
        best = {name: min(ts) for name, ts in times.items()}
        bound = ARRAYS_TOUCHED[kind] * 4 * n / bandwidth
        alloc = allocated_during(contenders["modelmgmt"])
        print(f"\n{kind}: bytes-moved bound {bound * 1e3:.2f} ms ({ARRAYS_TOUCHED[kind]} arrays x {n:,} x 4 B)")
        print(f"  {'':<14} {'median':>9}    {'best':>9}    share of the bytes-moved bound (median)")
        for name in med:
            print(f"  {name:<14} {med[name] * 1e3:9.2f} ms {best[name] * 1e3:9.2f} ms   {bound / med[name]:6.1%}")
        for name in med:
            if name != "modelmgmt":
                print(
                    f"RESULT {kind} {name} / modelmgmt = {med[name] / med['modelmgmt']:.2f} (median), "
                    f"{best[name] / best['modelmgmt']:.2f} (best of {repeats})"
                )
        if len(med) == 1:
            print(f"RESULT {kind} modelmgmt {med['modelmgmt'] * 1e3:.2f} ms/step (no torch to compare)")
        print(f"  modelmgmt allocated {alloc:,} bytes over 3 steps (parameters: {4 * n:,} bytes)")


if __name__ == "__main__":
    main()
