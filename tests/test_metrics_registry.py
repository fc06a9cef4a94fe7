"""metrics.get / get_function, evaluate, and the benchmark smoke run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import modelmgmt as mm
from modelmgmt import metrics as M

skm = pytest.importorskip("sklearn.metrics")

ROOT = Path(__file__).resolve().parents[1]


def test_get_returns_fresh_metric_with_name_and_flags():
    m = M.get("f1_macro")
    assert isinstance(m, M.F1) and isinstance(m, mm.Metric)
    assert m.name == "f1_macro" and m.greater_is_better and not m.needs_proba
    assert M.get("f1_macro") is not m
    assert M.get("log_loss").greater_is_better is False
    assert M.get("roc_auc").needs_proba is True
    assert M.get("mse").greater_is_better is False


@pytest.mark.parametrize("name", M.names())
def test_every_registered_name_builds_and_computes(name):
    m = M.get(name)
    fn = M.get_function(name)
    rng = np.random.default_rng(0)
    if m.needs_proba:
        y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
        p = rng.dirichlet(np.ones(3), len(y))
        if "ovr" not in name and "ovo" not in name and name != "log_loss":
            y, p = y % 2, p[:, 1]
        m.update(y, p)
        ours = m.compute()
        assert ours == pytest.approx(fn(y, p), rel=1e-10)
    elif name in ("mse", "rmse", "mae", "r2", "explained_variance"):
        y, p = rng.normal(size=20), rng.normal(size=20)
        m.update(y, p)
        assert m.compute() == pytest.approx(fn(y, p), rel=1e-10)
    else:
        y, p = rng.integers(0, 2, 30), rng.integers(0, 2, 30)
        m.update(y, p)
        assert m.compute() == pytest.approx(fn(y, p), rel=1e-10)
    assert fn.greater_is_better == m.greater_is_better and fn.needs_proba == m.needs_proba


def test_metric_object_is_callable_without_touching_its_state():
    m = M.get("f1_macro")
    m.update([0, 1, 1], [0, 1, 0])
    y, p = [0, 1, 2, 2, 1], [0, 2, 2, 2, 1]
    assert m(y, p) == skm.f1_score(y, p, average="macro")
    assert m.compute() == M.f1([0, 1, 1], [0, 1, 0], average="macro")


def test_get_function_binds_keyword_arguments():
    y, p = [0, 1, 2, 2, 1], [0, 2, 2, 2, 1]
    assert M.get_function("f1_weighted")(y, p) == skm.f1_score(y, p, average="weighted")
    assert M.get_function("recall_micro")(y, p) == skm.recall_score(y, p, average="micro")


def test_unknown_name_raises_not_found_listing_known_names():
    with pytest.raises(mm.errors.NotFoundError, match="known metrics: .*accuracy"):
        M.get("f2_score")
    with pytest.raises(KeyError):
        M.get_function("nope")
    with pytest.raises(TypeError):
        M.get(3)


class _Classifier:
    """A stand-in fitted classifier: fixed probabilities, argmax predictions."""

    def __init__(self, proba, classes):
        self._proba = np.asarray(proba, dtype=float)
        self.classes_ = np.asarray(classes)

    def predict_proba(self, X):
        return self._proba[: len(X)]

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class _Regressor:
    def predict(self, X):
        return np.asarray(X, dtype=float)[:, 0] * 2.0


def test_evaluate_binary_classifier_matches_sklearn():
    rng = np.random.default_rng(1)
    p1 = rng.uniform(size=40)
    model = _Classifier(np.c_[1 - p1, p1], [0, 1])
    y = (rng.uniform(size=40) < p1).astype(int)
    X = np.zeros((40, 3))
    out = mm.evaluate(model, X, y, metrics=("accuracy", "f1", "roc_auc", "log_loss", "average_precision", M.Precision()))
    pred = (p1 > 0.5).astype(int)
    assert out["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), rel=1e-12)
    assert out["f1"] == pytest.approx(skm.f1_score(y, pred), rel=1e-12)
    assert out["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p1), rel=1e-12)
    assert out["log_loss"] == pytest.approx(skm.log_loss(y, np.c_[1 - p1, p1]), rel=1e-12)
    assert out["average_precision"] == pytest.approx(skm.average_precision_score(y, p1), rel=1e-12)
    assert out["precision"] == pytest.approx(skm.precision_score(y, pred), rel=1e-12)
    assert all(isinstance(v, float) for v in out.values())


def test_evaluate_multiclass_uses_model_classes_for_log_loss():
    rng = np.random.default_rng(2)
    proba = rng.dirichlet(np.ones(3), 30)
    model = _Classifier(proba, ["a", "b", "c"])
    y = np.array(["a", "b"] * 15)  # class "c" never observed
    out = mm.evaluate(model, np.zeros((30, 2)), y, metrics=["log_loss", "f1_macro"])
    assert out["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=["a", "b", "c"]), rel=1e-12)
    pred = model.predict(np.zeros((30, 2)))
    assert out["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"), rel=1e-12)


def test_evaluate_regressor_and_caller_metric_untouched():
    X = np.arange(10, dtype=float).reshape(-1, 1)
    y = X[:, 0] * 2.0 + np.linspace(-1, 1, 10)
    mine = M.MSE()
    out = mm.evaluate(_Regressor(), X, y, metrics=("r2", mine))
    assert out["r2"] == pytest.approx(skm.r2_score(y, X[:, 0] * 2.0), rel=1e-12)
    assert out["mse"] == pytest.approx(skm.mean_squared_error(y, X[:, 0] * 2.0), rel=1e-12)
    with pytest.raises(ValueError, match="nothing seen"):
        mine.compute()


def test_evaluate_bad_input():
    with pytest.raises(KeyError):
        mm.evaluate(_Regressor(), np.zeros((3, 1)), [0.0, 1.0, 2.0], metrics=("bogus",))
    with pytest.raises(TypeError, match="predict_proba"):
        mm.evaluate(_Regressor(), np.zeros((3, 1)), [0, 1, 1], metrics=("roc_auc",))
    with pytest.raises(TypeError, match="metric names or Metric objects"):
        mm.evaluate(_Regressor(), np.zeros((3, 1)), [0, 1, 1], metrics=(3,))


def test_import_stays_light():
    code = "import sys, modelmgmt.metrics; print('sklearn' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_benchmark_quick_smoke():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_metrics.py"), "--quick", "--sizes", "2000", "--repeat", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "f1 (macro)" in proc.stdout and "x" in proc.stdout.splitlines()[-1]
