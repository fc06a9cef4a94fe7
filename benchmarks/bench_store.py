"""Registry storage speed against safetensors and pickle, same process, same temp disk.

Usage: python benchmarks/bench_store.py [--quick] [--dir DIR] [--versions N] [--repeat R]

Full size: a 1 GiB model (16 tensors of 4096x4096 float32), 10,000 versions for the alias
lookup. --quick: 16 x 256x256 and 200 versions. Prints one line per measurement with our
time, the peer's time and the speedup (peer time / our time); times are the best of the
repeats, as timeit reports, since other jobs on a shared machine only ever add time.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

import modelmgmt as mm
from modelmgmt.models.base import Model


class Tensors(Model):
    """A model that is only named tensors (what the storage layer sees of any model)."""

    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        self._tensors = tensors

    @property
    def params(self) -> dict[str, np.ndarray]:
        return dict(self._tensors)

    @property
    def config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, np.ndarray]) -> "Tensors":
        return cls(dict(params))

    def predict(self, X: Any) -> np.ndarray:
        raise NotImplementedError("a storage benchmark model does not predict")


mm.register_model_type("Tensors", Tensors)  # manifests name registered types only


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``fn`` over ``repeat`` runs (least disturbed by other jobs, as timeit
    does) and its last result."""
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def dir_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def row(what: str, ours: float, peer_name: str, peer: float | None) -> None:
    if peer is None:
        print(f"{what:<44}{ours * 1e3:>11.1f} ms   {peer_name:<18}{'-':>11}   {'-':>8}")
    else:
        print(f"{what:<44}{ours * 1e3:>11.1f} ms   {peer_name:<18}{peer * 1e3:>8.1f} ms   {peer / ours:>7.1f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (16 x 256x256, 200 versions)")
    parser.add_argument("--dir", default=None, help="temp directory to work in (default: system temp)")
    parser.add_argument("--versions", type=int, default=None, help="versions for the alias lookup")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved repeats of register vs save")
    args = parser.parse_args(argv)
    side = 256 if args.quick else 4096
    n_versions = args.versions or (200 if args.quick else 10_000)
    try:
        from safetensors.numpy import load_file, save_file
    except ImportError:
        load_file = save_file = None

    work = tempfile.mkdtemp(prefix="bench-store-", dir=args.dir)
    try:
        rng = np.random.default_rng(0)
        tensors = {f"layer{i:02d}": rng.standard_normal((side, side), dtype=np.float32) for i in range(16)}
        total = sum(a.nbytes for a in tensors.values())
        model = Tensors(tensors)
        print(f"model: 16 x {side}x{side} float32 = {total / 2**20:.0f} MiB; dir {work}; "
              f"python {sys.version.split()[0]}, numpy {np.__version__}, {os.cpu_count()} cpu(s)")
        print(f"{'measurement':<44}{'ours':>14}   {'peer':<18}{'peer time':>11}   {'speedup':>8}")

        # warm-up: plugin discovery and first imports are not what is measured
        warm = mm.Registry(os.path.join(work, "warm"))
        warm.register("w", Tensors({"w": np.zeros(4, dtype=np.float32)}))
        warm.load("w")

        # --- save / register -----------------------------------------------------------
        # interleaved repeats (ours, then the peer, ...) so machine load hits both alike
        st_path, pk_path = os.path.join(work, "model.safetensors"), os.path.join(work, "model.pkl")
        reg_times, st_times = [], []
        for i in range(args.repeat):
            target = os.path.join(work, "reg" if i == 0 else f"reg{i}")
            reg_times.append(timed(lambda: mm.Registry(target).register("big", model))[0])
            if i:
                shutil.rmtree(target)
            if save_file is not None:
                st_times.append(timed(lambda: save_file(tensors, st_path))[0])
        reg = mm.Registry(os.path.join(work, "reg"))
        t_reg = min(reg_times)
        t_st = min(st_times) if st_times else None
        row("register (sha256 of every tensor included)", t_reg, "safetensors save", t_st)

        def pickle_save() -> None:
            with open(pk_path, "wb") as f:
                pickle.dump(tensors, f, protocol=5)

        row("register (sha256 of every tensor included)", t_reg, "pickle dump", timed(pickle_save)[0])

        # --- load ----------------------------------------------------------------------
        repeat = 3
        t_load, loaded = timed(lambda: reg.load("big", verify=False), repeat)
        t_st_load = timed(lambda: load_file(st_path), repeat)[0] if load_file else None

        def pickle_load() -> Any:
            with open(pk_path, "rb") as f:
                return pickle.load(f)  # noqa: S301 - the peer being measured

        t_pk_load = timed(pickle_load, repeat)[0]
        row("load verify=False (memory-mapped)", t_load, "safetensors load", t_st_load)
        row("load verify=False (memory-mapped)", t_load, "pickle load", t_pk_load)
        t_touch = timed(lambda: sum(float(a[::256, ::256].sum()) for a in reg.load("big", verify=False).params.values()), repeat)[0]
        row("load verify=False + read 1 value per page row", t_touch, "safetensors load", t_st_load)
        t_full = timed(lambda: [np.asarray(a).copy() for a in reg.load("big", verify=False).params.values()], 1)[0]
        row("load verify=False + copy every byte", t_full, "safetensors load", t_st_load)
        t_verify, verified = timed(lambda: reg.load("big", verify=True), 1)
        row("load verify=True (sha256 of every blob)", t_verify, "safetensors load", t_st_load)
        np.testing.assert_array_equal(verified.params["layer03"], tensors["layer03"])

        # --- re-register with one tensor changed -------------------------------------------
        blobs = os.path.join(work, "reg", "blobs")

        def reregister(params: dict[str, np.ndarray], layer: int) -> tuple[float, int]:
            changed = dict(params)
            changed[f"layer{layer:02d}"] = changed[f"layer{layer:02d}"] + np.float32(1)
            before = dir_bytes(blobs)
            elapsed = timed(lambda: reg.register("big", Tensors(changed)))[0]
            return elapsed, dir_bytes(blobs) - before

        runs = [reregister(verified.params, layer) for layer in (5, 6, 7)]
        t_re, written = min(r[0] for r in runs), max(r[1] for r in runs)
        row("re-register 1/16 changed (loaded model)", t_re, "our first register", t_reg)
        print(f"{'  bytes written by each such re-register':<44}{written / 2**20:>11.1f} MiB  "
              f"(one tensor = {tensors['layer07'].nbytes / 2**20:.1f} MiB)")
        runs = [reregister(tensors, layer) for layer in (8, 9, 10)]
        t_re2, written = min(r[0] for r in runs), max(r[1] for r in runs)
        row("re-register 1/16 changed (in-memory arrays)", t_re2, "our first register", t_reg)
        print(f"{'  bytes written by each such re-register':<44}{written / 2**20:>11.1f} MiB")

        # --- alias lookup among many versions -------------------------------------------------
        many = mm.Registry(os.path.join(work, "many"))
        tiny = Tensors({"w": np.zeros(4, dtype=np.float32)})
        t0 = time.perf_counter()
        for i in range(n_versions):
            many.register("m", Tensors({"w": np.full(4, i, dtype=np.float32)}) if i % 2 else tiny)
        build = time.perf_counter() - t0
        many.set_alias("m", "prod", n_versions // 2)
        many.set_alias("m", "prod", n_versions - 1)
        many.rollback("m", "prod")
        t_alias = timed(lambda: many.get("m@prod"), 50)[0]
        t_latest = timed(lambda: many.get("m"), 50)[0]
        t_pinned = timed(lambda: many.get(f"m/{n_versions // 3}"), 50)[0]
        print(f"{n_versions} versions registered in {build:.1f} s ({build / n_versions * 1e3:.2f} ms each)")
        row(f'get("m@prod") among {n_versions} versions', t_alias, "target < 5 ms", 0.005)
        row(f'get("m") (latest) among {n_versions} versions', t_latest, "target < 5 ms", 0.005)
        row(f'get("m/N") among {n_versions} versions', t_pinned, "target < 5 ms", 0.005)
        assert many.get("m@prod").version == n_versions // 2
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
