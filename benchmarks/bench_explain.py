"""Benchmark mm.explain.permutation_importance against scikit-learn's, in one process.

Usage: python benchmarks/bench_explain.py [--quick] [--rows 10000] [--features 20] [--repeat N]

A binary logistic regression is fitted by both libraries on the same rows (10k x 20 by
default). Each side computes permutation importance (accuracy, n_repeats=5, same seed, so the
same permutations) on its own model: serially, then on 2 worker processes (scikit-learn
``n_jobs=2`` through joblib's loky pool; ours a ``ProcessPoolExecutor(2)``). Pools are warmed up
once before timing; the best-of-N wall time is reported with sklearn time / our time. A last
line runs ours on the scikit-learn model itself, to show that the importances are identical.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from bench_metrics import _best  # best-of-N wall time, shared with the metrics benchmark


class _Plain:
    """A scikit-learn model seen through predict / predict_proba only (what mm.explain needs)."""

    def __init__(self, model):
        self.model = model
        self.classes_ = model.classes_

    def predict(self, X):
        return self.model.predict(X)

    def predict_proba(self, X):
        return self.model.predict_proba(X)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one RESULT line per mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rows, features = (500, 5) if args.quick else (args.rows, args.features)

    from sklearn.inspection import permutation_importance as sk_pi
    from sklearn.linear_model import LogisticRegression as SkLR

    import modelmgmt as mm

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, features))
    w = rng.normal(size=features) * (rng.random(features) < 0.5)
    y = (X @ w + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    sk_model = SkLR().fit(X, y)
    ours = mm.models.LogisticRegression()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(X, y)
    print(f"data: {rows} x {features}, n_repeats=5, scoring=accuracy, best of {args.repeat}")

    def sk(n_jobs):
        return sk_pi(sk_model, X, y, scoring="accuracy", n_repeats=5, random_state=0, n_jobs=n_jobs).importances

    def mine(model, executor=None):
        return mm.explain.permutation_importance(model, X, y, scoring="accuracy", n_repeats=5, seed=0,
                                                 executor=executor).importances

    sk(2)  # warm joblib's worker pool
    with ProcessPoolExecutor(2) as pool:
        mine(ours, pool)  # warm our pool
        for label, ours_fn, sk_fn in (
            ("serial", lambda: mine(ours), lambda: sk(None)),
            ("2 processes", lambda: mine(ours, pool), lambda: sk(2)),
        ):
            t_ours, _ = _best(ours_fn, args.repeat)
            t_sk, _ = _best(sk_fn, args.repeat)
            print(f"RESULT permutation_importance {label}: ours {t_ours * 1e3:.1f} ms, "
                  f"sklearn {t_sk * 1e3:.1f} ms, sklearn/ours {t_sk / t_ours:.2f}x")
        same = np.array_equal(mine(_Plain(sk_model), pool), sk(2))
    print(f"RESULT identical importances on the same model and seed: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
