"""Monitor.observe + report against calling scipy.stats once per column, same process.

Usage: python benchmarks/bench_monitor.py [--quick] [--rows N] [--features F] [--no-rss]

Two cases, each with a fifth of the features shifted by 0.2 standard deviations:
- "wasserstein": 10,000 reference rows (the Monitor picks wasserstein, threshold 0.1);
  peer: scipy.stats.wasserstein_distance(ref[:, j], cur[:, j]) / std(ref[:, j]) per column.
- "ks": 1,000 reference rows (the Monitor picks ks, alpha 0.05); peer: scipy.stats.ks_2samp
  per column.
The current data arrives in batches of 100,000 rows (what a deployment would feed).
Prints each side's time, the speedup (peer time / our time) and how many verdicts agree.
Then peak RSS of a fresh process that streams 1M and 10M rows through a Monitor
(--quick: 20k and 200k), to show memory stays flat as rows grow.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

import numpy as np

BATCH = 100_000


def make_data(n_ref: int, n_rows: int, n_features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(n_ref, n_features))
    cur = rng.normal(size=(n_rows, n_features))
    cur[:, : max(1, n_features // 5)] += 0.2
    return ref, cur


def run_ours(ref: np.ndarray, cur: np.ndarray) -> tuple[tuple[float, float], list[bool], str]:
    import modelmgmt as mm

    t, c = time.perf_counter(), time.process_time()
    mon = mm.Monitor(ref)
    for i in range(0, len(cur), BATCH):
        mon.observe(cur[i : i + BATCH])
    rep = mon.report()
    elapsed = (time.perf_counter() - t, time.process_time() - c)
    return elapsed, [f.drifted for f in rep.features], rep.features[0].test


def run_scipy(ref: np.ndarray, cur: np.ndarray, test: str) -> tuple[tuple[float, float], list[bool]]:
    import scipy.stats as st

    t, c = time.perf_counter(), time.process_time()
    verdicts = []
    for j in range(ref.shape[1]):
        if test == "ks":
            verdicts.append(bool(st.ks_2samp(ref[:, j], cur[:, j]).pvalue < 0.05))
        else:
            d = st.wasserstein_distance(ref[:, j], cur[:, j]) / max(np.std(ref[:, j]), 1e-3)
            verdicts.append(bool(d >= 0.1))
    return (time.perf_counter() - t, time.process_time() - c), verdicts


def peak_rss_child(n_rows: int, n_features: int) -> None:
    """Stream n_rows through a Monitor in batches; print this process's peak RSS in MiB."""
    import modelmgmt as mm

    rng = np.random.default_rng(1)
    mon = mm.Monitor(rng.normal(size=(10_000, n_features)))
    done = 0
    while done < n_rows:
        b = min(BATCH, n_rows - done)
        mon.observe(rng.normal(0.1, 1, size=(b, n_features)))
        done += b
    mon.report()
    print(f"{peak_rss_mib():.1f} {mon.state_nbytes() / 2**20:.2f}")


def peak_rss_mib() -> float:
    """This process's peak RSS. Linux: VmHWM (ru_maxrss would include the parent's at fork)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20k rows x 5 features")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--features", type=int, default=None)
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS runs")
    parser.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n_rows = args.rows or (20_000 if args.quick else 1_000_000)
    n_features = args.features or (5 if args.quick else 50)
    if args.rss_child is not None:
        peak_rss_child(args.rss_child, n_features)
        return

    import scipy.stats  # noqa: F401  (imports are not timed, for either side)

    import modelmgmt.monitor  # noqa: F401

    print(f"Monitor.observe+report vs scipy.stats per column: {n_rows:,} rows x {n_features} features, "
          f"batches of {BATCH:,}")
    print("wall = elapsed seconds, cpu = this process's CPU seconds (less sensitive to other load)")
    print(f"{'case':<13}{'ours wall':>10}{'scipy wall':>11}{'speedup':>9}{'ours cpu':>10}{'scipy cpu':>10}"
          f"{'speedup':>9}  verdicts agree")
    for case, n_ref in (("wasserstein", 10_000), ("ks", 1_000)):
        ref, cur = make_data(n_ref, n_rows, n_features)
        ours, v_ours, test = run_ours(ref, cur)
        assert test == case, (test, case)
        peer, v_peer = run_scipy(ref, cur, case)
        agree = sum(a == b for a, b in zip(v_ours, v_peer))
        print(f"{case:<13}{ours[0]:>10.3f}{peer[0]:>11.3f}{peer[0] / ours[0]:>8.1f}x{ours[1]:>10.3f}"
              f"{peer[1]:>10.3f}{peer[1] / ours[1]:>8.1f}x  {agree}/{n_features} ({sum(v_ours)} drifted)")
        del ref, cur

    if not args.no_rss:
        sizes = (n_rows, 10 * n_rows)
        print("peak RSS of a fresh process streaming rows through a Monitor (wasserstein case):")
        for n in sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--rss-child", str(n), "--features", str(n_features)],
                capture_output=True, text=True, check=True,
            ).stdout.split()
            print(f"  {n:>12,} rows: peak RSS {out[0]} MiB, monitor state {out[1]} MiB")


if __name__ == "__main__":
    main()
