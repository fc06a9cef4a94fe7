"""Feature names of estimators fitted on DataFrames, as scikit-learn keeps and checks them.

Every built-in estimator fitted on a DataFrame whose column names are all str keeps them in
``feature_names_in_`` (else None), saves them in its config, lists them in its
``input_signature`` and refuses a DataFrame with other names (or the same in another order)
later; arrays are read by position. The differential tests run scikit-learn on the same
frames and expect the same cases to keep names and the same cases to raise.
"""

from __future__ import annotations

import http.client
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn.impute
import sklearn.linear_model
import sklearn.neural_network
import sklearn.pipeline
import sklearn.preprocessing
import sklearn.svm

import modelmgmt as mm

NAMES = ["age", "income", "tenure"]
RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
Y_CLASS = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
Y_REG = X @ np.array([1.0, -2.0, 0.5]) + 0.3


def frame(columns, data=X):
    return pd.DataFrame(data, columns=columns)


# (ours, scikit-learn's, target or None for a transformer)
PAIRS = {
    "StandardScaler": (lambda: mm.data.StandardScaler(), lambda: sklearn.preprocessing.StandardScaler(), None),
    "SimpleImputer": (lambda: mm.data.SimpleImputer(strategy="median"),
                      lambda: sklearn.impute.SimpleImputer(strategy="median"), None),
    "MinMaxScaler": (lambda: mm.data.MinMaxScaler(), lambda: sklearn.preprocessing.MinMaxScaler(), None),
    "OneHotEncoder": (lambda: mm.data.OneHotEncoder(handle_unknown="ignore"),
                      lambda: sklearn.preprocessing.OneHotEncoder(handle_unknown="ignore", sparse_output=False), None),
    "LinearRegression": (lambda: mm.models.LinearRegression(), lambda: sklearn.linear_model.LinearRegression(), Y_REG),
    "LogisticRegression": (lambda: mm.models.LogisticRegression(),
                           lambda: sklearn.linear_model.LogisticRegression(), Y_CLASS),
    "LinearSVM": (lambda: mm.models.LinearSVM(), lambda: sklearn.svm.LinearSVC(), Y_CLASS),
    "MLP": (lambda: mm.models.MLP(hidden=(4,)),
            lambda: sklearn.neural_network.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5), Y_CLASS),
    "Pipeline": (lambda: mm.models.Pipeline([mm.data.SimpleImputer(), mm.data.StandardScaler(),
                                             mm.models.LogisticRegression()]),
                 lambda: sklearn.pipeline.make_pipeline(sklearn.impute.SimpleImputer(),
                                                        sklearn.preprocessing.StandardScaler(),
                                                        sklearn.linear_model.LogisticRegression()), Y_CLASS),
}


def fit_ours(est, data, y):
    """Fit without any warning but a ConvergenceWarning (accepting a frame never warns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", mm.ConvergenceWarning)
        if y is None:
            return est.fit(data)
        est.fit(data, y, seed=0)  # a model's fit returns its History
        return est


def fit_sklearn(est, data, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(data) if y is None else est.fit(data, y)


def apply(est, data, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns where it accepts mismatched names
        return est.predict(data) if y is not None else est.transform(data)


def outcome(call):
    """("ok", result) or ("error", exception)."""
    try:
        return "ok", call()
    except (ValueError, TypeError) as exc:
        return "error", exc


def same(a, b):
    """Equal labels, or floats equal up to rounding (a DataFrame's array may be column-major,
    which can change the last bit of a matrix product)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "f":
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_array_equal(a, b)


def names_of(est):
    names = getattr(est, "feature_names_in_", None)
    return None if names is None else list(names)


# --- which fits keep names -------------------------------------------------------------------

FIT_DATA = {
    "str columns": lambda: frame(NAMES),
    "int columns": lambda: frame([0, 1, 2]),
    "mixed str and int columns": lambda: frame(["age", 1, "tenure"]),
    "array": lambda: X,
    "float columns": lambda: frame([0.5, 1.5, 2.5]),
}


@pytest.mark.parametrize("case", list(FIT_DATA))
@pytest.mark.parametrize("kind", list(PAIRS))
def test_fit_keeps_names_exactly_when_scikit_learn_does(kind, case):
    ours_f, theirs_f, y = PAIRS[kind]
    theirs_state, theirs = outcome(lambda: fit_sklearn(theirs_f(), FIT_DATA[case](), y))
    ours_state, ours = outcome(lambda: fit_ours(ours_f(), FIT_DATA[case](), y))
    assert ours_state == theirs_state, (ours, theirs)
    if ours_state == "error":  # a mix of str and other names: a TypeError in both
        assert isinstance(ours, mm.InvalidArgumentError) and isinstance(ours, type(theirs))
        assert "str" in str(ours) and "['int', 'str']" in str(ours)
        return
    assert names_of(ours) == names_of(theirs)
    if names_of(ours) is None:
        assert "feature_names" not in ours.input_signature
    else:
        assert ours.input_signature["feature_names"] == NAMES


# --- which inputs after fit are refused --------------------------------------------------------

PREDICT_DATA = {
    "the same frame": lambda: frame(NAMES),
    "columns in another order": lambda: frame(NAMES[::-1], X[:, ::-1]),
    "a column renamed": lambda: frame(["age", "salary", "tenure"]),
    "an extra column": lambda: pd.concat([frame(NAMES), frame(["extra"], X[:, :1])], axis=1),
    "a column missing": lambda: frame(NAMES[:2], X[:, :2]),
    "names differing in case": lambda: frame(["Age", "income", "tenure"]),
    "an array": lambda: X,
    "a frame with int columns": lambda: frame([0, 1, 2]),
    "a frame with mixed columns": lambda: frame(["age", 1, "tenure"]),
}


@pytest.mark.parametrize("case", list(PREDICT_DATA))
@pytest.mark.parametrize("kind", list(PAIRS))
def test_predict_refuses_exactly_what_scikit_learn_refuses(kind, case):
    ours_f, theirs_f, y = PAIRS[kind]
    ours = fit_ours(ours_f(), frame(NAMES), y)
    theirs = fit_sklearn(theirs_f(), frame(NAMES), y)
    data = PREDICT_DATA[case]()
    theirs_state, theirs_out = outcome(lambda: apply(theirs, data, y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # accepted input is accepted silently
        ours_state, ours_out = outcome(lambda: ours.predict(data) if y is not None else ours.transform(data))
    assert ours_state == theirs_state, (ours_out, theirs_out)
    if ours_state == "ok":  # read by position
        expect = ours.predict(np.asarray(data)) if y is not None else ours.transform(np.asarray(data))
        same(ours_out, expect)
        if y is None:
            np.testing.assert_allclose(ours_out, theirs_out, atol=1e-12)
    else:
        assert isinstance(ours_out, mm.InvalidArgumentError) and isinstance(ours_out, type(theirs_out))


@pytest.mark.parametrize("kind", list(PAIRS))
def test_fitted_without_names_anything_of_the_right_width_is_accepted(kind):
    ours_f, theirs_f, y = PAIRS[kind]
    for fitted_on in (X, frame([0, 1, 2])):
        ours = fit_ours(ours_f(), fitted_on, y)
        theirs = fit_sklearn(theirs_f(), fitted_on, y)
        assert names_of(ours) is None and names_of(theirs) is None
        for data in (frame(NAMES), frame(NAMES[::-1]), frame([2, 1, 0])):
            assert outcome(lambda: apply(theirs, data, y))[0] == "ok"
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                got = ours.predict(data) if y is not None else ours.transform(data)
            expect = ours.predict(X) if y is not None else ours.transform(X)
            same(got, expect)


def test_the_error_lists_what_was_expected_and_what_came():
    model = mm.models.LogisticRegression()
    model.fit(frame(NAMES), Y_CLASS)
    with pytest.raises(mm.InvalidArgumentError) as info:
        model.predict(frame(["age", "salary", "tenure"]))
    text = str(info.value)
    assert "LogisticRegression" in text and "expected ['age', 'income', 'tenure']" in text
    assert "got ['age', 'salary', 'tenure']" in text
    assert "unexpected: 'salary'" in text and "missing: 'income'" in text
    with pytest.raises(mm.InvalidArgumentError, match="the same names in another order"):
        model.predict_proba(frame(NAMES[::-1]))
    with pytest.raises(ValueError, match="feature names"):  # also a ValueError, as scikit-learn's
        model.predict(frame(NAMES[:2] + ["extra"]))
    many = [f"f{i}" for i in range(30)]
    wide = mm.data.StandardScaler().fit(pd.DataFrame(RNG.normal(size=(5, 30)), columns=many))
    with pytest.raises(mm.InvalidArgumentError, match=r"\.\.\. \(30 in all\)"):
        wide.transform(pd.DataFrame(RNG.normal(size=(5, 30)), columns=many[::-1]))


def test_inverse_transform_reads_by_position_as_in_scikit_learn():
    for ours, theirs in ((mm.data.StandardScaler(), sklearn.preprocessing.StandardScaler()),
                         (mm.data.MinMaxScaler(), sklearn.preprocessing.MinMaxScaler())):
        ours.fit(frame(NAMES))
        theirs.fit(frame(NAMES))
        other = frame(["a", "b", "c"])
        np.testing.assert_allclose(ours.inverse_transform(other), theirs.inverse_transform(other), atol=1e-12)


def test_clipper_and_mlp_keep_names_too():
    clip = mm.data.Clipper().fit(frame(NAMES))
    assert clip.feature_names_in_ == NAMES and clip.input_signature["feature_names"] == NAMES
    with pytest.raises(mm.InvalidArgumentError, match="another order"):
        clip.transform(frame(NAMES[::-1]))
    same(clip.transform(X), clip.transform(frame(NAMES)))
    clip.fit(X)  # a refit on an array forgets the names
    assert clip.feature_names_in_ is None and "feature_names" not in clip.input_signature


# --- every way of training ---------------------------------------------------------------------

@pytest.mark.parametrize("train", [
    "model.fit", "mm.fit", "optimizer", "solver=gd", "initialize", "solve",
])
def test_every_training_path_keeps_the_names(train):
    model = mm.models.LogisticRegression(solver="gd" if train == "solver=gd" else "auto")
    df = frame(NAMES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.ConvergenceWarning)
        if train == "model.fit" or train == "solver=gd":
            model.fit(df, Y_CLASS, seed=0)
        elif train == "mm.fit":
            mm.fit(model, df, Y_CLASS)
        elif train == "optimizer":
            model.fit(df, Y_CLASS, optimizer=mm.optim.Adam(lr=0.1), epochs=3, seed=0)
        elif train == "initialize":
            model.initialize(df, Y_CLASS, np.random.default_rng(0))
        else:
            model.solve(df, Y_CLASS)
    assert model.feature_names_in_ == NAMES
    assert model.input_signature == {"n_features": 3, "dtype": "float64", "feature_names": NAMES}
    assert model.config["feature_names_in_"] == NAMES
    with pytest.raises(mm.InvalidArgumentError):
        model.predict(frame(NAMES[::-1]))


def test_refit_on_an_array_forgets_names_and_warm_start_checks_them():
    model = mm.models.LinearRegression(solver="gd")
    opt = mm.optim.SGD(lr=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.ConvergenceWarning)
        model.fit(frame(NAMES), Y_REG, optimizer=opt, epochs=2, seed=0)
        # warm start (fitted, gradient path): the names seen first stay and are checked
        with pytest.raises(mm.InvalidArgumentError, match="another order"):
            model.fit(frame(NAMES[::-1]), Y_REG, optimizer=opt, epochs=1)
        model.fit(X, Y_REG, optimizer=opt, epochs=1)  # an array is read by position
        assert model.feature_names_in_ == NAMES
        with pytest.raises(mm.InvalidArgumentError, match="X_val"):
            mm.models.LinearRegression().fit(frame(NAMES), Y_REG, validation_data=(frame(["a", "b", "c"]), Y_REG))
    direct = mm.models.LinearRegression()
    direct.fit(frame(NAMES), Y_REG)
    assert direct.feature_names_in_ == NAMES
    direct.fit(X, Y_REG)  # a direct fit starts over
    assert direct.feature_names_in_ is None and "feature_names_in_" not in direct.config


def test_pipeline_names_are_its_first_steps():
    pipe = PAIRS["Pipeline"][0]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.ConvergenceWarning)
        pipe.fit(frame(NAMES), Y_CLASS, optimizer=mm.optim.Adam(lr=0.05), epochs=5, seed=0)
    theirs = fit_sklearn(PAIRS["Pipeline"][1](), frame(NAMES), Y_CLASS)
    assert pipe.feature_names_in_ == list(theirs.feature_names_in_) == NAMES
    assert pipe.steps[0].feature_names_in_ == NAMES
    assert pipe.steps[1].feature_names_in_ is None and pipe.steps[2].feature_names_in_ is None  # arrays inside
    assert pipe.input_signature["feature_names"] == NAMES
    assert pipe.config["steps"][0]["config"]["feature_names_in_"] == NAMES
    same(pipe.predict(frame(NAMES)), pipe.predict(X))
    for call in (pipe.predict, pipe.predict_proba, pipe.predict_and_proba, pipe.transform):
        with pytest.raises(mm.InvalidArgumentError, match="SimpleImputer"):
            call(frame(NAMES[::-1]))
    again = mm.models.Pipeline.from_config(pipe.config, pipe.params)
    assert again.feature_names_in_ == NAMES
    # steps fitted by hand before being put in a pipeline keep theirs
    by_hand = mm.models.Pipeline([mm.data.StandardScaler().fit(frame(NAMES)),
                                  mm.models.LinearRegression()])
    by_hand.steps[1].fit(by_hand.steps[0].transform(X), Y_REG)
    assert by_hand.input_signature["feature_names"] == NAMES
    only_model = mm.models.Pipeline([mm.models.LinearRegression()])
    only_model.fit(frame(NAMES), Y_REG)
    assert only_model.feature_names_in_ == only_model.model.feature_names_in_ == NAMES


# --- saved and loaded ------------------------------------------------------------------------

def test_config_round_trip_and_old_configs():
    model = mm.models.LogisticRegression()
    model.fit(frame(NAMES), Y_CLASS)
    config = json.loads(json.dumps(model.config))  # JSON all the way
    again = mm.models.LogisticRegression.from_config(config, model.params)
    assert again.feature_names_in_ == NAMES and again.input_signature["feature_names"] == NAMES
    old = {k: v for k, v in config.items() if k != "feature_names_in_"}  # saved before names were kept
    legacy = mm.models.LogisticRegression.from_config(old, model.params)
    assert legacy.feature_names_in_ is None and legacy.input_signature == {"n_features": 3, "dtype": "float64"}
    same(legacy.predict(frame(["x", "y", "z"])), model.predict(X))
    for bad in (["age", "income"], "age,income,tenure", ["age", 1, "tenure"]):
        with pytest.raises(mm.InvalidArgumentError, match="feature_names_in_"):
            mm.models.LogisticRegression.from_config({**config, "feature_names_in_": bad}, model.params)
    scaler = mm.data.StandardScaler().fit(frame(NAMES))
    assert mm.data.StandardScaler.from_config(scaler.config, scaler.params).feature_names_in_ == NAMES
    enc = mm.data.OneHotEncoder().fit(pd.DataFrame({"plan": ["a", "b"], "region": ["n", "s"]}))
    old_enc = {k: v for k, v in enc.config.items() if k != "feature_names_in_"}
    assert mm.data.OneHotEncoder.from_config(old_enc, enc.params).get_feature_names_out().tolist() == [
        "x0_a", "x0_b", "x1_n", "x1_s"]
    assert mm.data.OneHotEncoder.from_config(enc.config, enc.params).get_feature_names_out().tolist() == [
        "plan_a", "plan_b", "region_n", "region_s"]


def test_one_hot_encoder_output_names_equal_scikit_learns():
    for columns in (["plan", "region"], [0, 1]):
        df = pd.DataFrame({"a": ["x", "y", "x"], "b": ["n", "n", "s"]})
        df.columns = columns
        ours = mm.data.OneHotEncoder().fit(df).get_feature_names_out().tolist()
        theirs = sklearn.preprocessing.OneHotEncoder().fit(df).get_feature_names_out().tolist()
        assert ours == theirs


@pytest.mark.parametrize("kind", ["LogisticRegression", "LinearRegression", "MLP", "Pipeline", "StandardScaler"])
def test_registry_round_trip(tmp_path, kind):
    ours_f, _, y = PAIRS[kind]
    model = fit_ours(ours_f(), frame(NAMES), y)
    if y is None:  # a lone transformer registers inside a pipeline
        model = mm.models.Pipeline([model, mm.models.LinearRegression()])
        model.model.fit(model.steps[0].transform(X), Y_REG)
    reg = mm.Registry(str(tmp_path / "reg"))
    version = reg.register("m", model)
    assert version.input_signature["feature_names"] == NAMES
    loaded = reg.load("m")
    assert loaded.feature_names_in_ == NAMES and loaded.input_signature == model.input_signature
    same(loaded.predict(frame(NAMES)), model.predict(X))
    with pytest.raises(mm.InvalidArgumentError, match="feature names"):
        loaded.predict(frame(NAMES[::-1]))
    path = mm.export(model, tmp_path / "exported", format="modelmgmt")
    assert mm.load(path).feature_names_in_ == NAMES


def test_from_sklearn_carries_the_names():
    for theirs, y in ((sklearn.linear_model.LogisticRegression(), Y_CLASS),
                      (sklearn.linear_model.LinearRegression(), Y_REG),
                      (sklearn.preprocessing.StandardScaler(), None)):
        fit_sklearn(theirs, frame(NAMES), y)
        ours = mm.models.from_sklearn(theirs)
        assert ours.feature_names_in_ == NAMES and ours.input_signature["feature_names"] == NAMES
    on_array = mm.models.from_sklearn(sklearn.linear_model.LinearRegression().fit(X, Y_REG))
    assert on_array.feature_names_in_ is None


# --- served over HTTP --------------------------------------------------------------------------

SERVE_NAMES = ["age", "income", "tenure"]


def post(dep, path, body):
    conn = http.client.HTTPConnection(dep.host, dep.port, timeout=30)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def get(dep, path):
    conn = http.client.HTTPConnection(dep.host, dep.port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def served():
    """A LogisticRegression and a scaling Pipeline, both fitted on a DataFrame, registered and
    served over HTTP (nothing passes the names to the registry but the models themselves)."""
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"age": rng.uniform(18, 80, 300), "income": rng.normal(50, 15, 300),
                         "tenure": rng.integers(0, 20, 300).astype(float)})
    y = np.where(data["income"] + 2 * data["tenure"] - 0.5 * data["age"] > 40, "stays", "churns")
    models = {"churn": mm.models.LogisticRegression(max_iter=5000),
              "churn_pipe": mm.models.Pipeline([mm.data.StandardScaler(), mm.models.LogisticRegression()])}
    reg = mm.Registry("memory://feature-names")
    for name, model in models.items():
        model.fit(data, y)
        reg.register(name, model)
    with mm.deploy(list(models), registry=reg, target="http") as dep:
        yield dep, models, data.iloc[:6]


@pytest.mark.parametrize("name", ["churn", "churn_pipe"])
def test_served_metadata_lists_the_trained_names(served, name):
    dep, _, _ = served
    status, meta = get(dep, f"/v2/models/{name}")
    assert status == 200
    assert meta["parameters"]["feature_names"] == SERVE_NAMES and meta["parameters"]["feature_names_trained"] is True


@pytest.mark.parametrize("name", ["churn", "churn_pipe"])
def test_mlflow_bodies_by_the_trained_names(served, name):
    dep, models, rows = served
    want = models[name].predict(rows.to_numpy()).tolist()
    assert set(want) == {"stays", "churns"}
    records = [{k: r[k] for k in ("tenure", "income", "age")} for r in rows.to_dict(orient="records")]  # any key order
    for body in ({"dataframe_records": records},
                 {"inputs": {col: rows[col].tolist() for col in SERVE_NAMES}},
                 {"dataframe_split": {"columns": SERVE_NAMES[::-1], "data": rows[SERVE_NAMES[::-1]].to_numpy().tolist()}}):
        status, data = post(dep, f"/invocations?model={name}", body)
        assert status == 200, data
        assert data["predictions"] == want


@pytest.mark.parametrize("name", ["churn", "churn_pipe"])
def test_mlflow_bodies_with_other_names_are_422(served, name):
    dep, _, _ = served
    bad = [{"age": 30.0, "salary": 50.0, "tenure": 2.0}]
    status, err = post(dep, f"/invocations?model={name}", {"dataframe_records": bad})
    assert status == 422 and err["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "income" in err["message"]
    status, err = post(dep, f"/invocations?model={name}", {"inputs": {"x0": [1.0], "x1": [2.0], "x2": [3.0]}})
    assert status == 422 and "age" in err["message"]
