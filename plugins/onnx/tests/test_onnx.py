"""ONNX export and the onnxruntime target, checked against modelmgmt's own predictions."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import datasets

import modelmgmt as mm
from modelmgmt_onnx import OPSET, supported_types, to_onnx

RNG = np.random.default_rng(0)


def _session(model, dtype="float32"):
    return ort.InferenceSession(to_onnx(model, dtype=dtype).SerializeToString(),
                                providers=["CPUExecutionProvider"])


def _run(model, X, dtype="float32"):
    sess = _session(model, dtype)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"X": np.asarray(X, dtype=dtype)})))


def _assert_parity(model, X, dtype):
    out = _run(model, X, dtype)
    tol = 1e-5 if dtype == "float32" else 1e-10
    pred = model.predict(X)
    if getattr(model, "is_classifier", False):
        assert set(out) == {"predict", "predict_proba"}
        proba = model.predict_proba(X)
        assert out["predict_proba"].shape == proba.shape  # a plain (n, k) tensor, no ZipMap
        np.testing.assert_allclose(out["predict_proba"], proba, rtol=tol, atol=tol)
        # a label may differ only where two classes tie within float32 rounding
        top2 = np.sort(proba, axis=1)[:, -2:]
        close = (top2[:, 1] - top2[:, 0]) < 10 * tol
        labels = out["predict"].astype(pred.dtype) if pred.dtype.kind != "U" else out["predict"].astype(str)
        assert np.all((labels == pred) | close)
    else:
        assert set(out) == {"predict"}
        np.testing.assert_allclose(out["predict"], pred, rtol=tol, atol=tol * max(1.0, np.abs(pred).max()))


def _classifiers():
    return {
        "logreg": lambda: mm.models.LogisticRegression(),
        "mlp_relu": lambda: mm.models.MLP(hidden=(16,)),
        "mlp_tanh2": lambda: mm.models.MLP(hidden=(8, 4), activation="tanh"),
        "mlp_sigmoid": lambda: mm.models.MLP(hidden=(6,), activation="sigmoid"),
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(_classifiers()))
@pytest.mark.parametrize("data", ["iris", "wine", "breast_cancer"])
def test_classifiers_on_bundled_data(kind, data, dtype):
    X, y = getattr(datasets, f"load_{data}")(return_X_y=True)
    model = mm.models.Pipeline([mm.data.StandardScaler(), _classifiers()[kind]()])
    model.fit(X, y, epochs=5, seed=0)
    _assert_parity(model, X, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_regression_on_diabetes(dtype):
    X, y = datasets.load_diabetes(return_X_y=True)
    for model in (mm.models.LinearRegression(), mm.models.LinearRegression(fit_intercept=False, l2=0.1)):
        model.fit(X, y, epochs=3, seed=0)
        _assert_parity(model, X, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_svm_and_string_labels(dtype):
    X, y = datasets.load_breast_cancer(return_X_y=True)
    svm = mm.models.Pipeline([mm.data.StandardScaler(), mm.models.LinearSVM()])
    svm.fit(X, y, epochs=3, seed=0)
    _assert_parity(svm, X, dtype)
    names = np.array(["benign", "malignant"])[y]
    clf = mm.models.Pipeline([mm.data.StandardScaler(), mm.models.LogisticRegression()])
    clf.fit(X, names, epochs=3, seed=0)
    out = _run(clf, X, dtype)
    assert out["predict"].dtype == object and set(out["predict"]) <= {"benign", "malignant"}
    _assert_parity(clf, X, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pipeline_imputes_nan_and_drops_empty_columns(dtype):
    X = RNG.normal(size=(120, 4))
    y = (X[:, 0] > 0).astype(int)
    X[RNG.random(X.shape) < 0.2] = np.nan
    for strategy in ("mean", "median", "most_frequent"):
        pipe = mm.models.Pipeline([mm.data.SimpleImputer(strategy=strategy), mm.data.StandardScaler(),
                                   mm.models.LogisticRegression()])
        pipe.fit(X, y, epochs=3, seed=0)
        _assert_parity(pipe, X, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_quantized_models_keep_int8_weights(dtype):
    X, y = datasets.load_wine(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    mlp = mm.models.MLP(hidden=(256, 128))
    mlp.fit(X, y, epochs=5, seed=0)
    for per_channel in (True, False):
        for symmetric in (True, False):
            q = mm.compress.quantize(mlp, per_channel=per_channel, symmetric=symmetric)
            _assert_parity(q, X, dtype)
    proto = to_onnx(mm.compress.quantize(mlp), dtype=dtype)
    int8 = [t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.INT8]
    assert {t.name.rsplit("_q", 1)[0] for t in int8 if "_q_" in t.name}  # codes are stored as int8
    float_size = len(to_onnx(mlp, dtype=dtype).SerializeToString())
    assert len(proto.SerializeToString()) < 0.4 * float_size


def test_graphs_declare_the_documented_opset_and_pass_the_checker():
    X = RNG.normal(size=(30, 3))
    model = mm.models.LogisticRegression()
    model.fit(X, (X[:, 0] > 0).astype(int), epochs=1, seed=0)
    proto = to_onnx(model)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", OPSET)]
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["X"]
    assert [o.name for o in proto.graph.output] == ["predict", "predict_proba"]
    assert "ZipMap" not in {n.op_type for n in proto.graph.node}


@settings(max_examples=25, deadline=None)
@given(
    n_features=st.integers(1, 6),
    hidden=st.lists(st.integers(1, 8), min_size=1, max_size=3),
    activation=st.sampled_from(["relu", "tanh", "sigmoid"]),
    k=st.integers(2, 4),
    seed=st.integers(0, 2**16),
)
def test_random_mlps_match(n_features, hidden, activation, k, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, n_features)) * rng.uniform(0.1, 10)
    y = np.arange(40) % k
    model = mm.models.MLP(hidden=tuple(hidden), activation=activation)
    model.fit(X, y, epochs=2, seed=seed)
    _assert_parity(model, X, "float64")
    _assert_parity(model, X, "float32")


# --- bad input, next to the good -------------------------------------------------------------
def test_refuses_what_it_cannot_convert():
    with pytest.raises(mm.InvalidArgumentError, match="expects a modelmgmt.Model"):
        to_onnx(object())
    with pytest.raises(mm.NotFittedError):
        to_onnx(mm.models.LogisticRegression())
    X = RNG.normal(size=(20, 2))
    model = mm.models.LinearRegression()
    model.fit(X, X[:, 0], epochs=1)
    with pytest.raises(mm.InvalidArgumentError, match="'float32' or 'float64'"):
        to_onnx(model, dtype="float16")
    assert "Pipeline" in supported_types() and "QuantizedModel" in supported_types()


# --- the plugin seam: found through its entry point ------------------------------------------
def test_plugin_is_found_through_its_entry_point():
    assert "onnx" in mm.plugins()
    assert "onnx" in mm.exporters()
    assert "onnxruntime" in mm.deployers()


def test_mm_export_from_a_model_and_from_a_registry_ref(tmp_path):
    X, y = datasets.load_iris(return_X_y=True)
    model = mm.models.Pipeline([mm.data.StandardScaler(), mm.models.LogisticRegression()])
    model.fit(X, y, epochs=3, seed=0)
    mm.export(model, tmp_path / "a.onnx", format="onnx")
    reg = mm.Registry(tmp_path / "reg")
    reg.register("iris", model)
    mm.export("iris/1", tmp_path / "b.onnx", format="onnx", registry=reg, dtype="float64")
    for name, dtype in (("a.onnx", np.float32), ("b.onnx", np.float64)):
        sess = ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
        proba = sess.run(["predict_proba"], {"X": X.astype(dtype)})[0]
        np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-5)
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_onnxruntime_deployment_serves_updates_and_rolls_back(tmp_path):
    X, y = datasets.load_iris(return_X_y=True)
    reg = mm.Registry(tmp_path / "reg")
    models = []
    for seed in (0, 1):
        m = mm.models.Pipeline([mm.data.StandardScaler(), mm.models.MLP(hidden=(8,))])
        m.fit(X, y, epochs=3, seed=seed)
        reg.register("iris", m)
        models.append(m)
    with mm.deploy("iris/1", registry=reg, target="onnxruntime") as dep:
        np.testing.assert_array_equal(dep.predict(X), models[0].predict(X))
        np.testing.assert_allclose(dep.predict_proba(X), models[0].predict_proba(X), atol=1e-10)
        assert dep.update("iris/2").version == 2
        np.testing.assert_allclose(dep.predict_proba(X), models[1].predict_proba(X), atol=1e-10)
        assert dep.rollback().version == 1
        status = dep.status()
        assert status["requests"] == 3 and status["errors"] == 0 and status["version"] == "iris/1"
        with pytest.raises(mm.InvalidArgumentError, match="4 features"):
            dep.predict(X[:, :2])
        assert dep.status()["errors"] == 1
    with pytest.raises(mm.InvalidArgumentError, match="unknown option"):
        mm.deploy("iris/1", registry=reg, target="onnxruntime", port=1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_min_max_scaler_and_clipper_steps(dtype):
    X, y = datasets.load_wine(return_X_y=True)
    X = X.copy()
    X[::17, 3] = np.nan  # NaN passes through the clipper and is imputed after it
    for clip in (False, True):
        pipe = mm.models.Pipeline([mm.data.Clipper(0.05, 0.95), mm.data.SimpleImputer(),
                                   mm.data.MinMaxScaler(feature_range=(-1, 2), clip=clip), mm.models.MLP(hidden=(8,))])
        pipe.fit(X, y, epochs=3, seed=0)
        Xt = X * 1.3  # values outside the fitted range exercise clip
        _assert_parity(pipe, Xt, dtype)


def test_from_sklearn_models_export_and_match_scikit_learn():
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = datasets.load_breast_cancer(return_X_y=True)
    sk = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    native = mm.models.from_sklearn(sk)
    out = _run(native, X, "float64")
    np.testing.assert_allclose(out["predict_proba"], sk.predict_proba(X), atol=1e-9)
    np.testing.assert_array_equal(out["predict"], sk.predict(X))
