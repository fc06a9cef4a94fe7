"""Training and data tools, ours vs the peers in the same process.

Usage: python benchmarks/bench_training.py [--quick]

- fit: MLP(hidden=(32,)) on scikit-learn's digits (1797 x 64, 10 classes), Adam(lr=0.01),
  batch 32, same number of epochs, vs scikit-learn's MLPClassifier (solver="adam", same
  batch size, learning rate and epochs) and a torch loop (nn.Sequential, torch.optim.Adam,
  float64 like ours, same batches) when torch is installed. Test accuracy is printed too.
- losses: CrossEntropy value + gradient on (n, 10) logits vs torch (forward + backward).
- data: StandardScaler and SimpleImputer(median) fit_transform on (n, 20) float64,
  StratifiedKFold(5) layout, vs scikit-learn.
- linear: LinearRegression (least squares, and ridge) and LogisticRegression (L-BFGS, binary
  and 5 classes, same tol and max_iter, C = 1 / (n * l2)) on 100,000 x 100 float64, vs
  scikit-learn's LinearRegression, Ridge(solver="cholesky") and LogisticRegression(lbfgs).

Each line prints ``peer/ours`` = peer time / our time (> 1 means we are faster). Times are
the best of 3 runs (1 with --quick), ours and the peer alternating so both see the same load.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import modelmgmt as mm


def best(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def race(ours, peer, repeat):
    """Best-of-``repeat`` times of two functions, run alternately so both see the same machine load."""
    t_o, t_p, out_o, out_p = [], [], None, None
    for _ in range(repeat):
        t, out_o = best(ours, 1)
        t_o.append(t)
        t, out_p = best(peer, 1)
        t_p.append(t)
    return min(t_o), out_o, min(t_p), out_p


def line(name, ours, peer_name, peer):
    print(f"{name:<34} ours {ours * 1e3:9.2f} ms   {peer_name:<14} {peer * 1e3:9.2f} ms   peer/ours {peer / ours:6.2f}")


def _torch(quick):
    """torch with one thread, or None (not installed, or --quick: its import alone takes seconds)."""
    if quick:
        print("(--quick: torch comparisons skipped)")
        return None
    try:
        import torch
    except ImportError:
        print("(torch not installed: torch comparisons skipped)")
        return None
    torch.set_num_threads(1)
    return torch


def bench_fit(quick, repeat):
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    if quick:
        X, y = X[:400], y[:400]
    X_tr, X_te, y_tr, y_te = mm.data.train_test_split(X, y, seed=0, stratify=y)
    epochs = 2 if quick else 15

    def ours():
        model = mm.models.MLP(hidden=(32,))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: we stop after `epochs` on purpose
            model.fit(X_tr, y_tr, epochs=epochs, batch_size=32, optimizer=mm.optim.Adam(lr=0.01), seed=0)
        return (model.predict(X_te) == y_te).mean()

    def sk():
        clf = MLPClassifier(hidden_layer_sizes=(32,), solver="adam", batch_size=32, learning_rate_init=0.01,
                            max_iter=epochs, alpha=0.0, random_state=0, tol=0.0, n_iter_no_change=10**6)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: we stop after `epochs` on purpose
            clf.fit(X_tr, y_tr)
        return clf.score(X_te, y_te)

    t_ours, acc_ours, t_sk, acc_sk = race(ours, sk, repeat)
    line(f"fit MLP(32) digits, {epochs} epochs", t_ours, "sklearn MLP", t_sk)
    print(f"{'':<34} test accuracy: ours {acc_ours:.3f}, sklearn {acc_sk:.3f}")
    torch = _torch(quick)
    if torch is None:
        return

    def tl():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).double()
        opt = torch.optim.Adam(net.parameters(), lr=0.01)
        lossf = torch.nn.CrossEntropyLoss()
        Xt, yt = torch.tensor(X_tr), torch.tensor(y_tr)
        g = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            perm = torch.randperm(len(Xt), generator=g)
            for i in range(0, len(Xt), 32):
                idx = perm[i : i + 32]
                opt.zero_grad()
                lossf(net(Xt[idx]), yt[idx]).backward()
                opt.step()
        with torch.no_grad():
            return (net(torch.tensor(X_te)).argmax(1).numpy() == y_te).mean()

    t_ours, _, t_t, acc_t = race(ours, tl, repeat)
    line(f"fit MLP(32) digits, {epochs} epochs", t_ours, "torch (1 thr)", t_t)
    print(f"{'':<34} test accuracy: torch {acc_t:.3f}")


def bench_losses(quick, repeat):
    n = 10_000 if quick else 200_000
    rng = np.random.default_rng(0)
    z = rng.normal(size=(n, 10)) * 3
    labels = rng.integers(0, 10, size=n)
    ce = mm.losses.CrossEntropy()
    torch = _torch(quick)
    if torch is None:
        return
    zt, lt = torch.tensor(z), torch.tensor(labels)

    def tl():
        p = zt.clone().requires_grad_(True)
        out = torch.nn.functional.cross_entropy(p, lt)
        out.backward()
        return out.item()

    t_ours, _, t_t, _ = race(lambda: ce.value_and_grad(labels, z), tl, repeat)
    line(f"CrossEntropy value+grad ({n}x10)", t_ours, "torch (1 thr)", t_t)


def bench_data(quick, repeat):
    from sklearn.impute import SimpleImputer as SkImputer
    from sklearn.model_selection import StratifiedKFold as SkSKF
    from sklearn.preprocessing import StandardScaler as SkScaler

    n = 5_000 if quick else 500_000
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 20))
    holes = X.copy()
    holes[rng.uniform(size=X.shape) < 0.1] = np.nan
    y = rng.integers(0, 5, size=n)
    t_o, _, t_p, _ = race(lambda: mm.data.StandardScaler().fit_transform(X), lambda: SkScaler().fit_transform(X), repeat)
    line(f"StandardScaler fit_transform ({n}x20)", t_o, "sklearn", t_p)
    t_o, _, t_p, _ = race(lambda: mm.data.SimpleImputer(strategy="median").fit_transform(holes),
                          lambda: SkImputer(strategy="median").fit_transform(holes), repeat)
    line(f"SimpleImputer median ({n}x20)", t_o, "sklearn", t_p)
    t_o, _, t_p, _ = race(lambda: list(mm.data.StratifiedKFold(5).split(X, y)), lambda: list(SkSKF(5).split(X, y)), repeat)
    line(f"StratifiedKFold(5) split ({n})", t_o, "sklearn", t_p)


def bench_linear(quick, repeat):
    from sklearn.linear_model import LinearRegression as SkLinear
    from sklearn.linear_model import LogisticRegression as SkLogistic
    from sklearn.linear_model import Ridge as SkRidge

    n, d = (2_000, 20) if quick else (100_000, 100)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    y = X @ w + rng.standard_normal(n)

    def fitted(model, *args):
        model.fit(*args)
        return model

    t_o, o, t_p, p = race(lambda: fitted(mm.models.LinearRegression(), X, y), lambda: SkLinear().fit(X, y), repeat)
    line(f"LinearRegression lstsq ({n}x{d})", t_o, "sklearn", t_p)
    print(f"{'':<34} max |coef diff| {np.abs(o.params['W'] - p.coef_).max():.1e}")
    l2 = 1e-3
    t_o, o, t_p, p = race(lambda: fitted(mm.models.LinearRegression(l2=l2), X, y),
                          lambda: SkRidge(alpha=n * l2 / 2, solver="cholesky").fit(X, y), repeat)
    line(f"LinearRegression ridge ({n}x{d})", t_o, "sklearn Ridge", t_p)
    print(f"{'':<34} max |coef diff| {np.abs(o.params['W'] - p.coef_).max():.1e}")
    C = 1.0
    for k in (2, 5):
        scores = X @ rng.standard_normal((d, k)) * 0.3 + rng.gumbel(size=(n, k))
        labels = scores.argmax(axis=1)
        for tol in (1e-4, 1e-8):
            ours = lambda: fitted(mm.models.LogisticRegression(l2=1 / (C * n), tol=tol, max_iter=1000), X, labels)  # noqa: E731
            peer = lambda: SkLogistic(C=C, tol=tol, max_iter=1000).fit(X, labels)  # noqa: E731
            t_o, o, t_p, p = race(ours, peer, repeat)
            line(f"LogisticRegression k={k} tol={tol:g}", t_o, "sklearn lbfgs", t_p)
            W = o.params["W"]
            coef = (W[:, 1] - W[:, 0])[None] if k == 2 else W.T
            print(f"{'':<34} max |coef diff| {np.abs(coef - p.coef_).max():.1e}, iterations: sklearn {int(p.n_iter_[0])}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else 3
    bench_fit(args.quick, repeat)
    bench_losses(args.quick, repeat)
    bench_data(args.quick, repeat)
    bench_linear(args.quick, repeat)


if __name__ == "__main__":
    main()
