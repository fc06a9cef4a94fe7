"""A 24-candidate x 5-fold grid search: ours serial vs a 2-process pool, and scikit-learn's
GridSearchCV on its own LogisticRegression for reference (same machine, same process).

Usage: python benchmarks/bench_tuning.py [--quick]
Ours: mm.tuning.GridSearch over LogisticRegression l2 (6 values) x Adam learning rate (4
values, as ``fit__optimizer``), mm.fit with a fixed seed. Peer: sklearn GridSearchCV over
LogisticRegression C (24 values, lbfgs). The models and solvers differ, so the peer line is
a reference for the cost of a search of the same shape, not a like-for-like race. BLAS is
limited to one thread in this process (threadpoolctl), as it is in scikit-learn's n_jobs
workers; without that, in-process lbfgs oversubscribes a busy 2-core machine. Prints
``peer/ours`` (peer time / our time; > 1 means we are faster).
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import modelmgmt as mm


def data(quick: bool):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return (X[:300], y[:300]) if quick else (X, y)


def ours(X, y, quick: bool, executor=None):
    grid = {
        "l2": [0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0][: 2 if quick else 6],
        "fit__optimizer": [mm.optim.Adam(lr=lr) for lr in (1e-3, 3e-3, 1e-2, 3e-2)][: 2 if quick else 4],
    }
    fit_params = {"epochs": 1 if quick else 5, "batch_size": 64, "seed": 0}
    search = mm.tuning.GridSearch(mm.models.LogisticRegression, grid, cv=2 if quick else 5, scoring="accuracy",
                                  fit_params=fit_params, executor=executor, progress=False)
    start = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - start, search


def peer(X, y, quick: bool, n_jobs=None):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    grid = {"C": list(np.logspace(-3, 3, 4 if quick else 24))}
    search = GridSearchCV(LogisticRegression(max_iter=50 if quick else 200), grid, cv=2 if quick else 5, n_jobs=n_jobs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs convergence warnings at extreme C
        search.fit(X, y)
    return time.perf_counter() - start, search


def strip(rows):
    return [{k: (repr(v) if k == "params" else v) for k, v in r.items() if not k.endswith("_time")} for r in rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    args = parser.parse_args(argv)
    try:  # one BLAS thread everywhere: each process is one worker, as in the pools
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        limits = None
    try:
        run(args)
    finally:
        if limits is not None:
            limits.restore_original_limits()


def run(args: argparse.Namespace) -> None:
    """Time the four cases and print the table."""
    X, y = data(args.quick)
    n_cand = 4 if args.quick else 24
    folds = 2 if args.quick else 5
    print(f"grid search: {n_cand} candidates x {folds} folds on digits {X.shape}")
    t_serial, s_serial = ours(X, y, args.quick)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        ex.submit(int).result()  # start the workers outside the timing
        t_pool, s_pool = ours(X, y, args.quick, executor=ex)
    same = strip(s_serial.results) == strip(s_pool.results)
    p_serial, ref = peer(X, y, args.quick)
    p_pool = None if args.quick else peer(X, y, args.quick, n_jobs=2)[0]  # loky start-up is slow
    print(f"{'case':44s} {'seconds':>8s}")
    print(f"{'ours GridSearch, serial':44s} {t_serial:8.2f}  best {s_serial.best_score:.4f}")
    print(f"{'ours GridSearch, ProcessPoolExecutor(2)':44s} {t_pool:8.2f}  serial/pool = {t_serial / t_pool:.2f}x  "
          f"identical results: {same}")
    print(f"{'sklearn GridSearchCV, own LogisticRegression':44s} {p_serial:8.2f}  best {ref.best_score_:.4f}")
    if p_pool is not None:
        print(f"{'sklearn GridSearchCV, n_jobs=2':44s} {p_pool:8.2f}")
    line = f"peer/ours serial = {p_serial / t_serial:.2f}x"
    if p_pool is not None:
        line += f"   peer/ours 2 processes = {p_pool / t_pool:.2f}x"
    print(line)


if __name__ == "__main__":
    main()
