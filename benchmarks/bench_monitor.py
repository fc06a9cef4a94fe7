"""Monitor.observe + report against calling scipy.stats once per column, same process.

Usage: python benchmarks/bench_monitor.py [--quick] [--rows N] [--features F] [--no-rss]

Two cases, each with a fifth of the features shifted by 0.2 standard deviations:
- "wasserstein": 10,000 reference rows (the Monitor picks wasserstein, threshold 0.1);
  peer: scipy.stats.wasserstein_distance(ref[:, j], cur[:, j]) / std(ref[:, j]) per column.
- "ks": 1,000 reference rows (the Monitor picks ks, alpha 0.05); peer: scipy.stats.ks_2samp
  per column.
The current data arrives in batches of 100,000 rows (what a deployment would feed).
Prints each side's time, the speedup (peer time / our time) and how many verdicts agree.

Then, on the same data (wasserstein case):
- sliding window: observe throughput with window=100,000 (--quick: 10,000) against the
  cumulative monitor (ratio window / cumulative; goal within 1.5x), and one report;
- merge: 16 replica monitors that each saw 1/16 of the rows, merged into one, then a report;
- CBPE: the extra cost of passing predictions and scores (binary, and 5 classes) per
  100,000 rows;
- Evidently's DataDriftPreset on the same data, when a Python with evidently is given by
  --evidently-python (a scratch venv: evidently is not one of our dependencies); it runs in
  that interpreter, timed there, with its own copy of the data made from the same seed;
- peak RSS of a fresh process that streams 1M and 10M rows (--quick: 20k and 200k) through
  a cumulative monitor and through a window=100,000 one, to show memory stays flat.
"""

from __future__ import annotations

import argparse
import functools
import math
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


def peak_rss_child(n_rows: int, n_features: int, window: int | None = None) -> None:
    """Stream n_rows through a Monitor in batches; print this process's peak RSS in MiB."""
    import modelmgmt as mm

    rng = np.random.default_rng(1)
    mon = mm.Monitor(rng.normal(size=(10_000, n_features)), window=window)
    done = 0
    while done < n_rows:
        b = min(BATCH, n_rows - done)
        mon.observe(rng.normal(0.1, 1, size=(b, n_features)))
        done += b
    mon.report()
    print(f"{peak_rss_mib():.1f} {mon.state_nbytes() / 2**20:.2f}")


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def feed(mon, cur: np.ndarray, y_pred: np.ndarray | None = None, y_score: np.ndarray | None = None) -> None:
    """Observe ``cur`` in batches of BATCH rows (with predictions and scores when given)."""
    for i in range(0, len(cur), BATCH):
        sl = slice(i, i + BATCH)
        if y_score is None:
            mon.observe(cur[sl])
        else:
            mon.observe(cur[sl], y_pred=y_pred[sl], y_score=y_score[sl])


def timed_both(fn) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of fn()."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def bench_window(ref: np.ndarray, cur: np.ndarray, window: int, repeats: int = 3) -> None:
    """Observe time with a sliding window vs cumulative (best of ``repeats``, alternated so
    that both sides see the same load); then one report each."""
    import modelmgmt as mm

    best: dict[str, list[float]] = {}
    mons = {}
    for _ in range(repeats):
        for label, win in (("cumulative", None), (f"window={window:,}", window)):
            mon = mm.Monitor(ref, window=win)
            w, c = timed_both(functools.partial(feed, mon, cur))
            old = best.get(label, [math.inf, math.inf])
            best[label] = [min(old[0], w), min(old[1], c)]
            mons[label] = mon
    for label, (w, c) in best.items():
        mon = mons[label]
        rep_t = timed(mon.report)
        print(f"  {label:<20} observe {w:7.3f} s wall ({len(cur) / w / 1e6:5.2f} M rows/s), {c:7.3f} s cpu;"
              f" report {rep_t * 1e3:7.1f} ms; state {mon.state_nbytes() / 2**20:7.1f} MiB")
    (aw, ac), (bw, bc) = best.values()
    print(f"  window / cumulative observe time: {bw / aw:.2f}x wall, {bc / ac:.2f}x cpu (goal <= 1.5x)")


def bench_merge(ref: np.ndarray, cur: np.ndarray, parts: int = 16) -> None:
    """Merge ``parts`` replica monitors (each saw 1/parts of the rows) into one, then report."""
    import modelmgmt as mm

    replicas = []
    for chunk in np.array_split(cur, parts):
        mon = mm.Monitor(ref)
        for i in range(0, len(chunk), BATCH):
            mon.observe(chunk[i : i + BATCH])
        mon.report()  # flush, as a replica would before shipping
        replicas.append(mon)
    merged = replicas[0]
    t_merge = timed(lambda: [merged.merge(r) for r in replicas[1:]])
    t_rep = timed(merged.report)
    one = mm.Monitor(ref)
    for i in range(0, len(cur), BATCH):
        one.observe(cur[i : i + BATCH])
    same = all(abs(a.statistic - b.statistic) <= 1e-12 for a, b in zip(merged.report().features, one.report().features))
    print(f"  merge of {parts} monitors: {t_merge * 1e3:.1f} ms, then report {t_rep * 1e3:.1f} ms; "
          f"statistics equal one monitor's to 1e-12: {same}")


def bench_cbpe(n: int, repeats: int = 5) -> None:
    """Cost of the label-free estimate per 100,000 rows: observe(X, y_pred, y_score) minus
    observe(X) on a one-feature monitor (so that the features' own binning is small)."""
    import modelmgmt as mm

    rng = np.random.default_rng(3)
    X = rng.normal(size=(n, 1))
    ref = rng.normal(size=(10_000, 1))
    p1 = rng.random(n)
    pk = rng.dirichlet(np.ones(5), size=n)
    cases = {"no scores": (None, None), "binary": (p1, (p1 > 0.5).astype(int)),
             "5 classes": (pk, np.argmax(pk, axis=1))}
    best = dict.fromkeys(cases, math.inf)
    for _ in range(repeats):  # alternated, best of: the machine is shared
        for label, (score, pred) in cases.items():
            mon = mm.Monitor(ref)
            best[label] = min(best[label], timed(functools.partial(feed, mon, X, pred, score)))
    base = best.pop("no scores")
    for label, t in best.items():
        print(f"  CBPE {label:<10} {(t - base) / n * 1e5 * 1e3:6.1f} ms per 100k rows "
              f"(observe {t / n * 1e5 * 1e3:.1f} ms with scores, {base / n * 1e5 * 1e3:.1f} ms without)")


EVIDENTLY_SCRIPT = r"""
import sys, time
import numpy as np, pandas as pd
n_ref, n_rows, n_features = (int(a) for a in sys.argv[1:4])
rng = np.random.default_rng(0)
ref = rng.normal(size=(n_ref, n_features))
cur = rng.normal(size=(n_rows, n_features))
cur[:, : max(1, n_features // 5)] += 0.2
cols = [f"x{j}" for j in range(n_features)]
rdf, cdf = pd.DataFrame(ref, columns=cols), pd.DataFrame(cur, columns=cols)
import evidently
from evidently import Report
from evidently.presets import DataDriftPreset
t, c = time.perf_counter(), time.process_time()
snap = Report([DataDriftPreset()]).run(current_data=cdf, reference_data=rdf)
d = snap.dict()
elapsed, cpu = time.perf_counter() - t, time.process_time() - c
drifted = None
for m in d.get("metrics", []):
    v = m.get("value")
    if isinstance(v, dict) and "count" in v and "DriftedColumnsCount" in str(m.get("metric_name", "")):
        drifted = int(v["count"])
print(evidently.__version__, elapsed, cpu, drifted)
"""


def bench_evidently(python: str, n_ref: int, ref: np.ndarray, cur: np.ndarray) -> None:
    """Evidently's DataDriftPreset on the same data, in the interpreter ``python``."""
    import modelmgmt as mm

    mon = mm.Monitor(ref)
    t, c = timed_both(lambda: (feed(mon, cur), mon.report()))
    rep = mon.report()
    out = subprocess.run([python, "-c", EVIDENTLY_SCRIPT, str(n_ref), str(len(cur)), str(ref.shape[1])],
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(f"  evidently failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
        return
    version, elapsed, cpu, drifted = out.stdout.split()[-4:]
    print(f"  evidently {version} DataDriftPreset: {float(elapsed):.3f} s wall, {float(cpu):.3f} s cpu "
          f"({drifted} drifted columns); ours observe+report {t:.3f} s wall, {c:.3f} s cpu "
          f"({len(rep.drifted_features)} drifted); speedup {float(elapsed) / t:.1f}x wall, {float(cpu) / c:.1f}x cpu")


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
    parser.add_argument("--evidently-python", default=None,
                        help="a Python interpreter with evidently installed (a scratch venv)")
    parser.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rss-window", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n_rows = args.rows or (20_000 if args.quick else 1_000_000)
    n_features = args.features or (5 if args.quick else 50)
    if args.rss_child is not None:
        peak_rss_child(args.rss_child, n_features, args.rss_window)
        return
    window = 10_000 if args.quick else 100_000

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
        if case == "ks":
            del ref, cur

    ref, cur = make_data(10_000, n_rows, n_features)
    print("sliding window vs cumulative (wasserstein case):")
    bench_window(ref, cur, window)
    print("replicas:")
    bench_merge(ref, cur)
    print("label-free performance estimate:")
    bench_cbpe(len(cur))
    if args.evidently_python:
        print("Evidently, same data (wasserstein case), in its own interpreter:")
        bench_evidently(args.evidently_python, 10_000, ref, cur)
    del ref, cur

    if not args.no_rss:
        sizes = (n_rows, 10 * n_rows)
        print("peak RSS of a fresh process streaming rows through a Monitor (wasserstein case):")
        for win in (None, window):
            for n in sizes:
                cmd = [sys.executable, __file__, "--rss-child", str(n), "--features", str(n_features)]
                if win is not None:
                    cmd += ["--rss-window", str(win)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
                label = "cumulative" if win is None else f"window={win:,}"
                print(f"  {label:<16}{n:>12,} rows: peak RSS {out[0]} MiB, monitor state {out[1]} MiB")


if __name__ == "__main__":
    main()
