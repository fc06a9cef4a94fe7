"""Benchmark modelmgmt.metrics against scikit-learn in one process.

Usage: python benchmarks/bench_metrics.py [--quick] [--sizes 5000000,100] [--repeat N] [--only TEXT]

Prints, per metric and size, the best-of-N wall time of ours and of scikit-learn and the
speedup (sklearn time / our time), after checking both return the same value.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np


def _best(fn, repeat: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def _cases(n: int, rng: np.random.Generator):
    import sklearn.metrics as skm

    import modelmgmt.metrics as M

    yb = rng.integers(0, 2, n)
    pb = np.where(rng.random(n) < 0.8, yb, 1 - yb)
    yk = rng.integers(0, 5, n)
    pk = np.where(rng.random(n) < 0.7, yk, rng.integers(0, 5, n))
    score = np.clip(0.3 * yb + rng.normal(0.35, 0.2, n), 0.0, 1.0)
    score = np.round(score, 3)  # realistic ties
    proba = rng.dirichlet(np.ones(5), n)
    yr = rng.normal(size=n)
    pr = yr + rng.normal(scale=0.3, size=n)
    return [
        ("accuracy", lambda: M.accuracy(yk, pk), lambda: skm.accuracy_score(yk, pk)),
        ("precision (macro)", lambda: M.precision(yk, pk, average="macro"), lambda: skm.precision_score(yk, pk, average="macro")),
        ("recall (macro)", lambda: M.recall(yk, pk, average="macro"), lambda: skm.recall_score(yk, pk, average="macro")),
        ("f1 (binary)", lambda: M.f1(yb, pb), lambda: skm.f1_score(yb, pb)),
        ("f1 (macro)", lambda: M.f1(yk, pk, average="macro"), lambda: skm.f1_score(yk, pk, average="macro")),
        ("confusion_matrix", lambda: M.confusion_matrix(yk, pk), lambda: skm.confusion_matrix(yk, pk)),
        ("roc_auc (binary)", lambda: M.roc_auc(yb, score), lambda: skm.roc_auc_score(yb, score)),
        ("average_precision", lambda: M.average_precision(yb, score), lambda: skm.average_precision_score(yb, score)),
        ("log_loss (5 classes)", lambda: M.log_loss(yk, proba), lambda: skm.log_loss(yk, proba)),
        ("brier_score_loss", lambda: M.brier_score_loss(yb, score), lambda: skm.brier_score_loss(yb, score)),
        ("classification_report", lambda: M.classification_report(yk, pk, digits=4),
         lambda: skm.classification_report(yk, pk, digits=4)),
        ("mse", lambda: M.mse(yr, pr), lambda: skm.mean_squared_error(yr, pr)),
        ("mae", lambda: M.mae(yr, pr), lambda: skm.mean_absolute_error(yr, pr)),
        ("r2", lambda: M.r2(yr, pr), lambda: skm.r2_score(yr, pr)),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per (size, metric)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats (smoke run)")
    parser.add_argument("--sizes", default=None, help="comma-separated row counts (default 5000000,100)")
    parser.add_argument("--repeat", type=int, default=None, help="repeats per measurement (best is kept)")
    parser.add_argument("--only", default=None, help="run only metrics whose name contains this text")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("10000,100" if args.quick else "5000000,100")).split(",")]
    rng = np.random.default_rng(0)
    warnings.simplefilter("ignore")
    print(f"{'rows':>9}  {'metric':<22} {'ours (s)':>11} {'sklearn (s)':>12} {'speedup':>8}")
    for n in sizes:
        repeat = args.repeat or (2 if args.quick else (3 if n >= 1_000_000 else 200))
        for name, ours, ref in _cases(n, rng):
            if args.only and args.only not in name:
                continue
            t_ours, v_ours = _best(ours, repeat)
            t_ref, v_ref = _best(ref, repeat)
            if isinstance(v_ref, str):
                same = v_ours == v_ref
            else:
                same = np.allclose(np.asarray(v_ours, dtype=float), np.asarray(v_ref, dtype=float), rtol=1e-10, atol=1e-12)
            if not same:
                print(f"MISMATCH {name} at {n}: ours={v_ours!r} sklearn={v_ref!r}", file=sys.stderr)
                return 1
            print(f"{n:>9}  {name:<22} {t_ours:>11.6f} {t_ref:>12.6f} {t_ref / t_ours:>7.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
