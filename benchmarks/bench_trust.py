"""What checking a signature adds to a load: signed (Ed25519, ECDSA P-256) vs unsigned, same process.

Usage: python benchmarks/bench_trust.py [--quick] [--dir DIR] [--repeat R]

A model of 16 tensors (64x64 float64) is registered three times in one local registry: unsigned,
signed with Ed25519 and signed with ECDSA P-256. Each load is timed with and without signature
checking (``trusted_keys`` + ``require_signature=True``), interleaved, best of R (other jobs on a
shared machine only ever add time). The "peer" of each line is the unchecked load of the same
version; the added time is what a signature costs. Target: under 1 ms per load. A 1,000-tensor
manifest shows how the cost grows with the manifest (the signature covers its bytes).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from typing import Any

import numpy as np
from bench_store import Tensors  # the storage benchmark's tensors-only model (registered there)

import modelmgmt as mm
from modelmgmt.registry import signing


def best(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repeats, small manifests")
    parser.add_argument("--dir", default=None, help="temp directory to work in (default: system temp)")
    parser.add_argument("--repeat", type=int, default=None, help="timed loads per configuration")
    args = parser.parse_args(argv)
    repeat = args.repeat or (5 if args.quick else 100)
    work = tempfile.mkdtemp(prefix="bench-trust-", dir=args.dir)
    try:
        keys = {}
        for kind in signing.KEY_TYPES:
            path = f"{work}/{kind}"
            signing.generate_key(path, kind)
            keys[kind] = (path, path + ".pub")
        rng = np.random.default_rng(0)
        sizes = {f"{n} tensors": n for n in (16, 100 if args.quick else 1000)}
        print(f"{'load (verify=True), local registry':<46}{'checked':>12}{'unchecked':>12}{'added':>12}")
        for label, count in sizes.items():
            side = 64 if count == 16 else 4
            model = Tensors({f"t{i}": rng.standard_normal((side, side)) for i in range(count)})
            url = f"{work}/reg-{count}"
            for kind, (private, public) in keys.items():
                name = f"m-{kind}"
                mm.Registry(url, signing_key=private).register(name, model)
                checked = mm.Registry(url, trusted_keys=[public], require_signature=True)
                plain = mm.Registry(url)
                assert checked.verify(name).signed_by is not None
                size = len(plain.store.get(f"models/{name}/versions/1/manifest.json"))
                n = repeat if count == 16 else max(2, repeat // 2)  # a 1000-tensor load takes ~40 ms
                ours, peer = [], []
                for _ in range(n):  # alternate call by call, so both sides see the same machine load
                    ours.append(best(lambda: checked.load(name), 1))
                    peer.append(best(lambda: plain.load(name), 1))
                t_ours, t_peer = min(ours), min(peer)
                what = f"{label}, {kind} ({size / 1024:.0f} KiB manifest)"
                print(f"{what:<46}{t_ours * 1e3:>9.3f} ms{t_peer * 1e3:>9.3f} ms{(t_ours - t_peer) * 1e3:>9.3f} ms")
        # the signature check alone, as the registry runs it on every load (manifest bytes in memory)
        trust = signing.Trust(trusted_keys=[public for _, public in keys.values()])
        for count in sizes.values():
            store = mm.Registry(f"{work}/reg-{count}").store
            for kind, (private, _) in keys.items():
                data = store.get(f"models/m-{kind}/versions/1/manifest.json")
                sig = store.get(f"models/m-{kind}/versions/1/manifest.sig")
                t = best(lambda: trust.check(data, sig, "bench"), repeat * 5)
                what = f"signature check alone, {kind}, {len(data) / 1024:.0f} KiB"
                print(f"{what:<46}{t * 1e3:>9.3f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
