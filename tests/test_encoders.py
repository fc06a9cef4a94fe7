"""OneHotEncoder, MinMaxScaler, Clipper and ColumnTransformer against scikit-learn, saving and Pipelines."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer as SkColumnTransformer
from sklearn.preprocessing import MinMaxScaler as SkMinMaxScaler
from sklearn.preprocessing import OneHotEncoder as SkOneHotEncoder
from sklearn.preprocessing import StandardScaler as SkStandardScaler

import modelmgmt as mm
from modelmgmt.data import Clipper, ColumnTransformer, MinMaxScaler, OneHotEncoder, StandardScaler


def _roundtrip(step):
    return type(step).from_config(step.config, step.params)


# --- OneHotEncoder -----------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "zeta", "Äpfel", ""]), min_size=1, max_size=30),
    st.lists(st.integers(-3, 3), min_size=1, max_size=30),
)
def test_one_hot_equals_sklearn_on_strings_and_numbers(words, ints):
    n = min(len(words), len(ints))
    X = np.empty((n, 2), dtype=object)
    X[:, 0], X[:, 1] = words[:n], ints[:n]
    ours = OneHotEncoder().fit(X)
    ref = SkOneHotEncoder(sparse_output=False).fit(X)
    np.testing.assert_array_equal(ours.transform(X), ref.transform(X))
    assert ours.get_feature_names_out().tolist() == ref.get_feature_names_out().tolist()
    np.testing.assert_array_equal(_roundtrip(ours).transform(X), ref.transform(X))


def test_one_hot_numeric_float_array_and_nan_category_like_sklearn():
    X = np.array([[1.5, 0.0], [np.nan, 2.0], [1.5, 2.0], [-1.0, np.nan]])
    ref = SkOneHotEncoder(sparse_output=False).fit(X)
    ours = OneHotEncoder().fit(X)
    np.testing.assert_array_equal(ours.transform(X), ref.transform(X))
    np.testing.assert_array_equal(_roundtrip(ours).transform(X), ref.transform(X))


def test_one_hot_unknown_categories_error_or_ignore_like_sklearn():
    X = np.array([["a"], ["b"]], dtype=object)
    new = np.array([["c"], ["a"]], dtype=object)
    with pytest.raises(mm.InvalidArgumentError, match=r"unknown categories \['c'\] in column 0"):
        OneHotEncoder().fit(X).transform(new)
    with pytest.raises(ValueError):
        SkOneHotEncoder().fit(X).transform(new)
    ignore = OneHotEncoder(handle_unknown="ignore").fit(X)
    ref = SkOneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(X)
    np.testing.assert_array_equal(ignore.transform(new), ref.transform(new))
    np.testing.assert_array_equal(ignore.transform(new), [[0.0, 0.0], [1.0, 0.0]])


def test_one_hot_bad_arguments_and_input():
    with pytest.raises(mm.InvalidArgumentError, match="handle_unknown"):
        OneHotEncoder(handle_unknown="infrequent")
    with pytest.raises(mm.InvalidArgumentError, match="only numbers or only strings"):
        OneHotEncoder().fit(np.array([["a"], [1]], dtype=object))
    with pytest.raises(mm.NotFittedError):
        OneHotEncoder().transform([["a"]])
    enc = OneHotEncoder().fit(np.array([["a", "x"]], dtype=object))
    with pytest.raises(mm.InvalidArgumentError, match="columns"):
        enc.transform(np.array([["a"]], dtype=object))


def test_one_hot_reads_dataframes_and_dicts_with_their_names():
    df = pd.DataFrame({"plan": ["pro", "basic", "pro"], "seats": [1, 2, 1]})
    ours = OneHotEncoder().fit(df)
    ref = SkOneHotEncoder(sparse_output=False).fit(df)
    np.testing.assert_array_equal(ours.transform(df), ref.transform(df))
    assert ours.get_feature_names_out().tolist() == ref.get_feature_names_out().tolist()
    cols = {"plan": np.array(["pro", "basic", "pro"]), "seats": np.array([1, 2, 1])}
    np.testing.assert_array_equal(OneHotEncoder().fit(cols).transform(cols), ref.transform(df))


# --- MinMaxScaler ------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 20).flatmap(
        lambda n: st.lists(
            st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=3, max_size=3), min_size=n, max_size=n
        )
    ),
    st.sampled_from([(0.0, 1.0), (-1.0, 1.0), (2.0, 5.5)]),
    st.booleans(),
)
def test_min_max_equals_sklearn(rows, feature_range, clip):
    X = np.array(rows)
    ours = MinMaxScaler(feature_range, clip=clip).fit(X)
    ref = SkMinMaxScaler(feature_range=feature_range, clip=clip).fit(X)
    Z = X * 1.7 - 3.0  # values outside the fitted range too
    np.testing.assert_allclose(ours.transform(Z), ref.transform(Z), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=1e-14)
    np.testing.assert_allclose(ours.min_, ref.min_, rtol=1e-14, atol=1e-12)
    np.testing.assert_allclose(_roundtrip(ours).transform(Z), ours.transform(Z), rtol=0, atol=0)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X)), X, rtol=1e-9, atol=1e-6)


def test_min_max_ignores_nan_like_sklearn_and_refuses_bad_ranges():
    X = np.array([[1.0, np.nan], [3.0, 4.0], [np.nan, 8.0]])
    np.testing.assert_allclose(MinMaxScaler().fit_transform(X), SkMinMaxScaler().fit_transform(X), equal_nan=True)
    for bad in ((1, 0), (0, 0), "01", (0, 1, 2)):
        with pytest.raises(mm.InvalidArgumentError, match="feature_range"):
            MinMaxScaler(bad)
    with pytest.raises(mm.InvalidArgumentError, match="clip"):
        MinMaxScaler(clip="yes")


# --- Clipper -------------------------------------------------------------------------------
def test_clipper_clips_to_fitted_quantiles_and_keeps_nan():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 3))
    X[0, 0] = 1e6
    X[1, 1] = np.nan
    clip = Clipper(0.05, 0.95).fit(X)
    lo = np.nanquantile(X, 0.05, axis=0)
    hi = np.nanquantile(X, 0.95, axis=0)
    out = clip.transform(X)
    np.testing.assert_array_equal(out[~np.isnan(X)], np.clip(X, lo, hi)[~np.isnan(X)])
    assert np.isnan(out[1, 1]) and out[0, 0] == hi[0]
    np.testing.assert_array_equal(_roundtrip(clip).transform(X), out)


def test_clipper_bad_quantiles():
    for lo, hi in ((0.5, 0.5), (0.9, 0.1), (-0.1, 0.5), (0.1, 1.5)):
        with pytest.raises(mm.InvalidArgumentError, match="quantile"):
            Clipper(lo, hi)
    with pytest.raises(mm.InvalidArgumentError):
        Clipper("low")


# --- ColumnTransformer ---------------------------------------------------------------------
def _table(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "plan": rng.choice(["basic", "pro", "max"], n),
        "age": rng.normal(40, 10, n),
        "city": rng.choice(["x", "y"], n),
        "spend": rng.exponential(50, n),
    })


@pytest.mark.parametrize("remainder", ["drop", "passthrough"])
def test_column_transformer_equals_sklearn_by_name_and_by_index(remainder):
    df = _table()
    ours = ColumnTransformer([("cat", OneHotEncoder(), ["plan", "city"]), ("num", StandardScaler(), ["spend"])], remainder=remainder)
    ref = SkColumnTransformer(
        [("cat", SkOneHotEncoder(sparse_output=False), ["plan", "city"]), ("num", SkStandardScaler(), ["spend"])],
        remainder=remainder,
    )
    expected = ref.fit_transform(df).astype(float)
    np.testing.assert_allclose(ours.fit_transform(df), expected, rtol=1e-12)
    np.testing.assert_allclose(ours.transform(df), expected, rtol=1e-12)
    # an object array is read in the fitted column order; a reordered DataFrame by its names
    np.testing.assert_allclose(ours.transform(df.to_numpy(dtype=object)), expected, rtol=1e-12)
    np.testing.assert_allclose(ours.transform(df[["spend", "city", "age", "plan"]]), expected, rtol=1e-12)
    np.testing.assert_allclose(_roundtrip(ours).transform(df), expected, rtol=1e-12)
    X = df.to_numpy(dtype=object)
    by_index = ColumnTransformer([("cat", OneHotEncoder(), [0, 2]), ("num", StandardScaler(), [3])], remainder=remainder)
    np.testing.assert_allclose(by_index.fit_transform(X), expected, rtol=1e-12)


def test_column_transformer_drop_passthrough_entries_and_masks():
    df = _table()
    ours = ColumnTransformer([("a", "passthrough", [1]), ("b", "drop", [0]), ("c", MinMaxScaler(), [True, False, False, True])])
    ref = SkColumnTransformer([("a", "passthrough", [1]), ("b", "drop", [0]), ("c", SkMinMaxScaler(), [True, False, False, True])])
    X = df.to_numpy(dtype=object)
    with pytest.raises(mm.InvalidArgumentError, match="strings"):
        ours.fit_transform(X)  # column 0 (strings) reaches MinMaxScaler through the mask
    ours = ColumnTransformer([("a", "passthrough", [1]), ("c", MinMaxScaler(), [False, True, False, True])])
    ref = SkColumnTransformer([("a", "passthrough", [1]), ("c", SkMinMaxScaler(), [False, True, False, True])])
    np.testing.assert_allclose(ours.fit_transform(X), ref.fit_transform(X).astype(float), rtol=1e-12)


def test_column_transformer_bad_input():
    with pytest.raises(mm.InvalidArgumentError, match="triple"):
        ColumnTransformer([("a", StandardScaler())])
    with pytest.raises(mm.InvalidArgumentError, match="unique"):
        ColumnTransformer([("a", StandardScaler(), [0]), ("a", StandardScaler(), [1])])
    with pytest.raises(mm.InvalidArgumentError, match="remainder"):
        ColumnTransformer([("a", StandardScaler(), [0])], remainder="keep")
    with pytest.raises(mm.InvalidArgumentError, match="Transformer"):
        ColumnTransformer([("a", mm.models.LinearRegression(), [0])])
    with pytest.raises(mm.InvalidArgumentError, match="columns"):
        ColumnTransformer([("a", StandardScaler(), 1.5)])
    ct = ColumnTransformer([("a", StandardScaler(), ["age"])])
    with pytest.raises(mm.InvalidArgumentError, match="DataFrame"):
        ct.fit(np.ones((3, 2)))
    with pytest.raises(mm.NotFoundError, match="no column 'age'"):
        ct.fit(pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(mm.InvalidArgumentError, match="out of range"):
        ColumnTransformer([("a", StandardScaler(), [5])]).fit(np.ones((3, 2)))
    with pytest.raises(mm.InvalidArgumentError, match="remainder column"):
        ColumnTransformer([("a", StandardScaler(), [1])], remainder="passthrough").fit(np.array([["a", 1.0]], dtype=object))


# --- in Pipelines, saved and loaded --------------------------------------------------------
def test_pipeline_with_string_columns_trains_registers_loads_and_predicts(tmp_path):
    df = _table(300, seed=1)
    y = np.where((df["plan"] == "pro") | (df["spend"] > 60), "churn", "stay")
    pipe = mm.models.Pipeline([
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), ["plan", "city"]), ("num", StandardScaler(), ["age", "spend"])]
        ),
        mm.models.LogisticRegression(l2=1e-3),
    ])
    pipe.fit(df, y)
    assert pipe.accepts_strings and pipe.input_signature["feature_names"] == ["plan", "age", "city", "spend"]
    assert (pipe.predict(df) == y).mean() > 0.9
    reg = mm.Registry(str(tmp_path / "reg"))
    reg.register("churn", pipe)
    loaded = reg.load("churn")
    np.testing.assert_array_equal(loaded.predict(df), pipe.predict(df))
    np.testing.assert_allclose(loaded.predict_proba(df.to_numpy(dtype=object)), pipe.predict_proba(df), rtol=0, atol=0)
    manifest = (tmp_path / "reg").rglob("manifest.json")
    assert all(b"pickle" not in p.read_bytes() for p in manifest)


def test_pipeline_of_object_arrays_with_gradient_training_and_metrics():
    df = _table(200, seed=2)
    X = df.to_numpy(dtype=object)[:, [0, 2]]
    y = (df["plan"] == "pro").to_numpy().astype(int)
    pipe = mm.models.Pipeline([OneHotEncoder(), MinMaxScaler(), mm.models.LogisticRegression(solver="gd")])
    h = pipe.fit(X, y, epochs=30, batch_size=16, seed=0, optimizer=mm.optim.Adam(lr=0.05),
                 validation_data=(X[:50], y[:50]), metrics=("accuracy",))
    assert h["accuracy"][-1] == 1.0 and h["val_accuracy"][-1] == 1.0
    assert len(h["val_accuracy"]) == 30
    loaded = mm.models.Pipeline.from_config(pipe.config, pipe.params)
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def test_a_numeric_pipeline_still_refuses_strings():
    pipe = mm.models.Pipeline([StandardScaler(), mm.models.LinearRegression()])
    with pytest.raises(mm.InvalidArgumentError, match="numeric"):
        pipe.fit(np.array([["a", 1.0]], dtype=object), [1.0])


def test_from_sklearn_converts_the_encoders_and_column_transformers():
    from sklearn.linear_model import LogisticRegression as SkLogistic
    from sklearn.pipeline import make_pipeline

    df = _table(120, seed=4)
    y = (df["plan"] == "pro").to_numpy().astype(int)
    sk = make_pipeline(
        SkColumnTransformer(
            [("cat", SkOneHotEncoder(handle_unknown="ignore"), ["plan", "city"]), ("num", SkMinMaxScaler((-1, 1)), ["spend"]),
             ("skip", "drop", ["age"])],
            remainder="passthrough",
        ),
        SkLogistic(),
    ).fit(df, y)
    ours = mm.models.from_sklearn(sk)
    np.testing.assert_allclose(ours.predict_proba(df), sk.predict_proba(df), rtol=0, atol=1e-12)
    X = df.to_numpy(dtype=object)
    np.testing.assert_array_equal(ours.predict(X), sk.predict(df))
    clone = type(ours).from_config(ours.config, ours.params)
    np.testing.assert_array_equal(clone.predict(df), sk.predict(df))
    with pytest.raises(mm.InvalidArgumentError, match="drop"):
        mm.models.from_sklearn(SkOneHotEncoder(drop="first").fit(X[:, :1]))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=20),
    st.lists(st.sampled_from(["a", "b", "c", "d", "new"]), min_size=1, max_size=20),
    st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=1, max_size=20),
)
def test_one_hot_ignore_matches_sklearn_on_unseen_values(train, test, numbers):
    X = np.empty((len(train), 2), dtype=object)
    X[:, 0] = train
    X[:, 1] = [numbers[i % len(numbers)] for i in range(len(train))]
    Z = np.empty((len(test), 2), dtype=object)
    Z[:, 0] = test
    Z[:, 1] = [[0.5, 7.0, 2.0][i % 3] for i in range(len(test))]
    ours = OneHotEncoder(handle_unknown="ignore").fit(X)
    ref = SkOneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about unknown categories
        expected = ref.transform(Z)
    np.testing.assert_array_equal(ours.transform(Z), expected)


def test_searches_and_cross_validation_take_string_pipelines():
    df = _table(150, seed=5)
    X = df.to_numpy(dtype=object)
    y = ((df["plan"] == "pro") | (df["spend"] > 80)).to_numpy().astype(int)

    def factory(l2=0.0):
        return mm.models.Pipeline([
            ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), [0, 2]), ("num", StandardScaler(), [1, 3])]),
            mm.models.LogisticRegression(l2=l2),
        ])

    search = mm.tuning.GridSearch(factory, {"l2": [1e-3, 1.0]}, cv=3).fit(X, y)
    assert search.best_params == {"l2": 1e-3} and search.best_score > 0.9
    assert (search.best_model.predict(X) == y).mean() > 0.9
    scores = mm.tuning.cross_validate(factory, X, y, cv=3)
    assert len(scores["test_accuracy"]) == 3
