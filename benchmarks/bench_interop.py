"""Interoperability side by side: onnxruntime vs our in-process predict, and from_sklearn's cost.

Usage: python benchmarks/bench_interop.py [--quick] [--repeat N]

1. For every built-in model (and a Pipeline and an int8 MLP): the best-of-N time of
   ``model.predict_proba`` / ``predict`` in process against an onnxruntime session over the
   exported graph (float32 and float64 input), at batch 1 and 1,000. The ratio printed is
   onnxruntime time / our time: above 1 means we are faster, below 1 that onnxruntime is.
2. ``from_sklearn`` conversion time for each supported estimator, next to scikit-learn's
   own ``predict`` on 1,000 rows for scale.
Needs the ONNX plugin (``pip install -e plugins/onnx``); part 1 is skipped without it.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _models(n_features: int, rng: np.random.Generator):
    import modelmgmt as mm

    X = rng.normal(size=(2000, n_features))
    yc = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    yr = X @ rng.normal(size=n_features)
    out = {}
    for name, model, y in (
        ("LinearRegression", mm.models.LinearRegression(), yr),
        ("LogisticRegression", mm.models.LogisticRegression(), yc),
        ("LinearSVM", mm.models.LinearSVM(), (yc > 0).astype(int)),
        ("MLP(64,32)", mm.models.MLP(hidden=(64, 32)), yc),
        ("Pipeline(imp,scaler,logreg)", mm.models.Pipeline(
            [mm.data.SimpleImputer(), mm.data.StandardScaler(), mm.models.LogisticRegression()]), yc),
    ):
        with warnings.catch_warnings():  # two epochs on purpose: the speed of predict is measured
            warnings.simplefilter("ignore")
            model.fit(X, y, epochs=2, seed=0)
        out[name] = model
    out["MLP(64,32) int8"] = mm.compress.quantize(out["MLP(64,32)"])
    return out


def bench_onnxruntime(repeat: int, quick: bool) -> None:
    try:
        import onnxruntime as ort

        from modelmgmt_onnx import to_onnx
    except ImportError:
        print("onnxruntime part skipped: install plugins/onnx")
        return
    rng = np.random.default_rng(0)
    n_features = 20
    models = _models(n_features, rng)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    print(f"{'model':<30} {'dtype':<8} {'batch':>6} {'ours ms':>10} {'ort ms':>10} {'ort/ours':>9}")
    for name, model in models.items():
        method = model.predict_proba if getattr(model, "is_classifier", False) else model.predict
        output = "predict_proba" if getattr(model, "is_classifier", False) else "predict"
        for dtype in ("float32", "float64"):
            sess = ort.InferenceSession(to_onnx(model, dtype=dtype).SerializeToString(), options,
                                        providers=["CPUExecutionProvider"])
            for batch in (1, 1000) if not quick else (1, 10):
                X = rng.normal(size=(batch, n_features)).astype(dtype)
                ours = _best(lambda: method(X), repeat)
                theirs = _best(lambda: sess.run([output], {"X": X}), repeat)
                print(f"{name:<30} {dtype:<8} {batch:>6} {ours * 1e3:>10.4f} {theirs * 1e3:>10.4f} "
                      f"{theirs / ours:>9.2f}")


def bench_from_sklearn(repeat: int, quick: bool) -> None:
    from sklearn import linear_model, neural_network, pipeline, preprocessing, svm
    from sklearn.impute import SimpleImputer

    from modelmgmt.models import from_sklearn

    rng = np.random.default_rng(1)
    n = 500 if quick else 5000
    X = rng.normal(size=(n, 20))
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimators = {
            "LinearRegression": linear_model.LinearRegression().fit(X, X[:, 1]),
            "LogisticRegression": linear_model.LogisticRegression().fit(X, y),
            "LinearSVC": svm.LinearSVC().fit(X, y),
            "MLPClassifier(100,)": neural_network.MLPClassifier(max_iter=20).fit(X, y),
            "Pipeline(imp,scaler,logreg)": pipeline.make_pipeline(
                SimpleImputer(), preprocessing.StandardScaler(), linear_model.LogisticRegression()).fit(X, y),
        }
    print(f"\n{'estimator':<30} {'from_sklearn ms':>16} {'sklearn predict(1000) ms':>25}")
    for name, est in estimators.items():
        convert = _best(lambda: from_sklearn(est), repeat)
        predict = _best(lambda: est.predict(X[:1000]), repeat)
        print(f"{name:<30} {convert * 1e3:>16.4f} {predict * 1e3:>25.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args(argv)
    bench_onnxruntime(args.repeat, args.quick)
    bench_from_sklearn(max(3, args.repeat // 10), args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
