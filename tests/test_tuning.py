"""Tuning: searches agree with scikit-learn's on the same folds; any executor gives the same results."""

from __future__ import annotations

import copy
import multiprocessing
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import scipy.stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris

import modelmgmt as mm
from modelmgmt.tuning import GridSearch, HalvingSearch, RandomSearch, cross_validate

sys.path.insert(0, str(Path(__file__).parent))
from _tuning_toys import ToySoftmax, toy_accuracy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return (X - X.mean(0)) / X.std(0), y


class SkWrapper(ClassifierMixin, BaseEstimator):
    """scikit-learn face of a modelmgmt model, so GridSearchCV can tune the very same model."""

    def __init__(self, l2=0.0, lr=0.5, epochs=50):
        self.l2, self.lr, self.epochs = l2, lr, epochs

    def fit(self, X, y):
        self.model_ = ToySoftmax(l2=self.l2, lr=self.lr)
        self.model_.fit(X, y, epochs=self.epochs, seed=0)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)


def _strip_times(rows):
    return [{k: v for k, v in r.items() if not k.endswith("_time")} for r in rows]


GRID = {"l2": [0.0, 0.03, 0.3, 1.0], "lr": [0.05, 0.5]}


# --- against scikit-learn ---------------------------------------------------------------
def test_grid_search_matches_sklearn_gridsearchcv(iris):
    from sklearn.model_selection import GridSearchCV

    X, y = iris
    ours = GridSearch(ToySoftmax, GRID, cv=5, scoring=toy_accuracy, fit_params={"epochs": 20, "seed": 0}).fit(X, y)
    ref = GridSearchCV(SkWrapper(epochs=20), GRID, cv=5, scoring="accuracy").fit(X, y)
    assert ours.best_params == ref.best_params_
    assert ours.best_index == ref.best_index_
    assert ours.best_score == pytest.approx(ref.best_score_, abs=1e-12)
    res = ref.cv_results_
    assert [r["params"] for r in ours.results] == list(res["params"])  # same candidate order
    np.testing.assert_allclose([r["mean_score"] for r in ours.results], res["mean_test_score"], atol=1e-12)
    np.testing.assert_allclose([r["std_score"] for r in ours.results], res["std_test_score"], atol=1e-12)
    assert [r["rank"] for r in ours.results] == list(res["rank_test_score"])
    for i in range(5):
        np.testing.assert_allclose([r[f"split{i}_score"] for r in ours.results], res[f"split{i}_test_score"], atol=1e-12)
    # refit on all data with the best params
    best = ToySoftmax(**ours.best_params)
    best.fit(X, y, epochs=20, seed=0)
    np.testing.assert_array_equal(ours.best_model.params["W"], best.params["W"])


class SkLogReg(ClassifierMixin, BaseEstimator):
    """scikit-learn face of our LogisticRegression trained by mm.fit (full-batch Adam, fixed seed)."""

    def __init__(self, l2=0.0):
        self.l2 = l2

    def fit(self, X, y):
        self.model_ = mm.models.LogisticRegression(l2=self.l2)
        mm.fit(self.model_, X, y, **copy.deepcopy(LOGREG_FIT))  # a fresh optimizer per fit
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


LOGREG_FIT = {"epochs": 10, "batch_size": None, "seed": 0, "optimizer": mm.optim.Adam(lr=0.1), "progress": False}


@pytest.mark.parametrize("ours_scoring, sk_scoring", [("accuracy", "accuracy"), ("log_loss", "neg_log_loss"),
                                                      ("f1_macro", "f1_macro")])
def test_grid_search_over_logistic_l2_matches_sklearn(iris, ours_scoring, sk_scoring):
    """Our LogisticRegression + mm.fit searched by both: same scores, ranks and winner (loss negated as sklearn)."""
    from sklearn.model_selection import GridSearchCV

    X, y = iris
    grid = {"l2": [0.0, 0.1, 1.0, 3.0]}
    ours = GridSearch(mm.models.LogisticRegression, grid, cv=4, scoring=ours_scoring, fit_params=LOGREG_FIT).fit(X, y)
    ref = GridSearchCV(SkLogReg(), grid, cv=4, scoring=sk_scoring).fit(X, y)
    np.testing.assert_allclose([r["mean_score"] for r in ours.results], ref.cv_results_["mean_test_score"], rtol=1e-10)
    np.testing.assert_allclose([r["std_score"] for r in ours.results], ref.cv_results_["std_test_score"], rtol=1e-9, atol=1e-12)
    assert [r["rank"] for r in ours.results] == list(ref.cv_results_["rank_test_score"])
    assert ours.best_params == ref.best_params_
    np.testing.assert_allclose(ours.best_model.predict_proba(X), ref.best_estimator_.predict_proba(X), rtol=1e-12)


def test_cross_validate_matches_sklearn(iris):
    from sklearn.model_selection import cross_validate as sk_cross_validate

    X, y = iris
    ours = cross_validate(ToySoftmax, X, y, cv=4, scoring={"acc": toy_accuracy}, fit_params={"epochs": 30})
    ref = sk_cross_validate(SkWrapper(epochs=30), X, y, cv=4, scoring={"acc": "accuracy"})
    np.testing.assert_allclose(ours["test_acc"], ref["test_acc"], atol=1e-12)
    assert set(ours) == {"test_acc", "fit_time", "score_time"}
    assert ours["fit_time"].shape == (4,) and (ours["fit_time"] > 0).all()


def test_cross_validate_accepts_splitter_and_index_pairs(iris):
    from sklearn.model_selection import KFold, StratifiedKFold

    X, y = iris
    pairs = list(StratifiedKFold(3).split(X, y))
    a = cross_validate(ToySoftmax, X, y, cv=3, scoring=(toy_accuracy,))
    b = cross_validate(ToySoftmax, X, y, cv=pairs, scoring=(toy_accuracy,))
    np.testing.assert_array_equal(a["test_toy_accuracy"], b["test_toy_accuracy"])
    c = cross_validate(ToySoftmax, X, y, cv=KFold(3, shuffle=True, random_state=0), scoring=(toy_accuracy,))
    assert c["test_toy_accuracy"].shape == (3,)


def test_int_cv_folds_are_sklearns(iris):
    """cv=k is StratifiedKFold(k) for a classifier and KFold(k) otherwise, as scikit-learn's check_cv."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from modelmgmt.tuning.cv import check_cv

    X, _ = iris
    y = np.r_[np.zeros(7), np.ones(50), 2 * np.ones(93)]
    for classifier, ref in ((True, StratifiedKFold(5)), (False, KFold(5))):
        ours = check_cv(5, X, y, classifier)
        for (a, b), (c, d) in zip(ours, ref.split(X, y)):
            np.testing.assert_array_equal(np.sort(a), c)
            np.testing.assert_array_equal(np.sort(b), d)


def test_halving_matches_sklearn_schedule_and_winner(iris):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    X, y = iris
    grid = {"l2": [0.0, 0.1, 1.0], "lr": [0.05, 0.2, 0.5]}
    ours = HalvingSearch(ToySoftmax, grid, resource="epochs", max_resources=30, factor=3, scoring=toy_accuracy,
                         fit_params={"seed": 0}).fit(X, y)
    ref = HalvingGridSearchCV(SkWrapper(), grid, resource="epochs", max_resources=30, factor=3, scoring="accuracy",
                              return_train_score=False).fit(X, y)
    assert ours.n_resources == list(ref.n_resources_)
    assert ours.n_candidates == list(ref.n_candidates_)
    assert ours.n_resources == [3, 9, 27]
    assert {**ours.best_params, "epochs": 27} == ref.best_params_  # sklearn adds the resource
    assert ours.best_score == pytest.approx(ref.best_score_, abs=1e-12)
    assert ours.best_model is not None


def test_halving_on_samples_schedule_matches_sklearn(iris):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    X, y = iris
    grid = {"l2": [0.0, 0.01, 0.1, 1.0, 3.0], "lr": [0.1, 0.5]}
    ours = HalvingSearch(ToySoftmax, grid, resource="n_samples", scoring=toy_accuracy, fit_params={"epochs": 20}).fit(X, y)
    ref = HalvingGridSearchCV(SkWrapper(epochs=20), grid, resource="n_samples", scoring="accuracy", random_state=0,
                              return_train_score=False).fit(X, y)
    assert ours.n_resources == list(ref.n_resources_)
    assert ours.n_candidates == list(ref.n_candidates_)
    first = [r for r in ours.results if r["iter"] == 0]
    assert len(first) == 10 and all(r["n_resources"] == ours.n_resources[0] for r in first)
    assert ours.best_model is not None and ours.results[ours.best_index]["iter"] == len(ours.n_resources) - 1


# --- executors -----------------------------------------------------------------------------
def test_results_identical_serial_threads_processes(iris):
    X, y = iris
    kw = dict(cv=3, scoring=toy_accuracy, fit_params={"epochs": 20, "seed": 1})
    grid = {"l2": [0.0, 0.3], "lr": [0.1, 0.5]}
    serial = GridSearch(ToySoftmax, grid, **kw).fit(X, y)
    with ThreadPoolExecutor(2) as ex:
        threads = GridSearch(ToySoftmax, grid, executor=ex, **kw).fit(X, y)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as ex:
        procs = GridSearch(ToySoftmax, grid, executor=ex, **kw).fit(X, y)
    assert _strip_times(serial.results) == _strip_times(threads.results) == _strip_times(procs.results)
    assert serial.best_params == threads.best_params == procs.best_params


def test_optimizer_in_fit_params_is_never_shared(iris):
    """Real models: one Adam instance in fit_params; serial, threads and processes agree and it stays fresh."""
    X, y = iris
    adam = mm.optim.Adam(lr=0.05)
    fresh = mm.optim.Adam(lr=0.05).state_dict()
    kw = dict(cv=3, fit_params={"epochs": 3, "batch_size": 16, "seed": 0, "optimizer": adam})
    grid = {"l2": [0.0, 0.1, 1.0]}
    serial = GridSearch(mm.models.LogisticRegression, grid, **kw).fit(X, y)
    with ThreadPoolExecutor(2) as ex:
        threads = GridSearch(mm.models.LogisticRegression, grid, executor=ex, **kw).fit(X, y)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as ex:
        procs = GridSearch(mm.models.LogisticRegression, grid, executor=ex, **kw).fit(X, y)
    assert _strip_times(serial.results) == _strip_times(threads.results) == _strip_times(procs.results)
    np.testing.assert_array_equal(serial.best_model.params["W"], procs.best_model.params["W"])
    assert repr(adam.state_dict()) == repr(fresh)  # the caller's optimizer never stepped


def test_dask_local_cluster(iris):
    distributed = pytest.importorskip("distributed")
    X, y = iris
    kw = dict(cv=3, scoring=toy_accuracy, fit_params={"epochs": 20, "seed": 1})
    grid = {"l2": [0.0, 0.3]}
    serial = GridSearch(ToySoftmax, grid, **kw).fit(X, y)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False) as cluster:
        with distributed.Client(cluster) as client:
            dist = GridSearch(ToySoftmax, grid, executor=client.get_executor(), **kw).fit(X, y)
    assert _strip_times(serial.results) == _strip_times(dist.results)


class Recorder:
    """A stand-in for an optimizer: fit mutates it, so sharing one would change results."""

    def __init__(self):
        self.calls = 0


class RecordingToy(ToySoftmax):
    def fit(self, X, y, recorder=None, **kw):
        recorder.calls += 1
        self.seen_calls = recorder.calls
        return super().fit(X, y, **kw)


def test_fit_params_are_copied_for_every_task(iris):
    X, y = iris
    rec = Recorder()
    s = GridSearch(RecordingToy, {"l2": [0.0, 1.0]}, cv=3, scoring=toy_accuracy, fit_params={"recorder": rec, "epochs": 5}).fit(X, y)
    assert rec.calls == 0  # the caller's object never touched
    assert s.best_model.seen_calls == 1  # each fit saw a fresh copy


# --- random search -----------------------------------------------------------------------
def test_random_search_is_seeded_and_draws_from_distributions(iris):
    X, y = iris
    dist = {"l2": scipy.stats.loguniform(1e-3, 1.0), "lr": [0.1, 0.5]}
    a = RandomSearch(ToySoftmax, dist, n_iter=5, seed=7, cv=3, scoring=toy_accuracy, fit_params={"epochs": 5}).fit(X, y)
    b = RandomSearch(ToySoftmax, dist, n_iter=5, seed=7, cv=3, scoring=toy_accuracy, fit_params={"epochs": 5}).fit(X, y)
    c = RandomSearch(ToySoftmax, dist, n_iter=5, seed=8, cv=3, scoring=toy_accuracy, fit_params={"epochs": 5}).fit(X, y)
    pa = [r["params"] for r in a.results]
    assert pa == [r["params"] for r in b.results] and pa != [r["params"] for r in c.results]
    assert len(pa) == 5 and all(1e-3 <= p["l2"] <= 1.0 and p["lr"] in (0.1, 0.5) for p in pa)
    assert a.best_score == max(r["mean_score"] for r in a.results)


def test_random_search_on_lists_draws_distinct_points(iris):
    X, y = iris
    grid = {"l2": [0.0, 0.1, 1.0], "lr": [0.1, 0.5]}
    s = RandomSearch(ToySoftmax, grid, n_iter=6, seed=0, cv=2, scoring=toy_accuracy, fit_params={"epochs": 2}).fit(X, y)
    got = sorted(tuple(sorted(r["params"].items())) for r in s.results)
    assert got == sorted(tuple(sorted(p.items())) for p in mm.tuning.search.parameter_grid(grid))
    with pytest.warns(UserWarning, match="only 6 points"):
        RandomSearch(ToySoftmax, grid, n_iter=9, seed=0, cv=2, scoring=toy_accuracy, fit_params={"epochs": 2}).fit(X, y)


# --- bad input -----------------------------------------------------------------------------
def test_bad_input_is_refused_before_any_fit(iris):
    X, y = iris
    with pytest.raises(ValueError, match="empty"):
        GridSearch(ToySoftmax, {})
    with pytest.raises(ValueError, match="empty"):
        GridSearch(ToySoftmax, [])
    with pytest.raises(ValueError, match="'l2'.*no values"):
        GridSearch(ToySoftmax, {"l2": []})
    with pytest.raises(ValueError, match=r"unknown parameter 'alpha' for ToySoftmax; it accepts: l2, lr"):
        GridSearch(ToySoftmax, {"alpha": [1.0]})
    with pytest.raises(ValueError, match="unknown parameter 'alpha'"):
        RandomSearch(ToySoftmax, {"alpha": scipy.stats.uniform()})
    with pytest.raises(ValueError, match="n_iter must be at least 1; got 0"):
        RandomSearch(ToySoftmax, {"l2": [1.0]}, n_iter=0)
    with pytest.raises(ValueError, match="at least 2 folds; got 1"):
        GridSearch(ToySoftmax, {"l2": [1.0]}, cv=1)
    with pytest.raises(ValueError, match="at least 2 folds; got 1"):
        cross_validate(ToySoftmax, X, y, cv=1, scoring=(toy_accuracy,))
    with pytest.raises(TypeError, match="must be a list"):
        GridSearch(ToySoftmax, {"l2": 1.0})
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        GridSearch(ToySoftmax, {"l2": [1.0]}, executor=object())
    with pytest.raises(TypeError, match="factory must be a callable"):
        GridSearch(None, {"l2": [1.0]})
    with pytest.raises(ValueError, match="resource must be one of"):
        HalvingSearch(ToySoftmax, {"l2": [1.0]}, resource="time")
    with pytest.raises(ValueError, match="factor must be a number > 1"):
        HalvingSearch(ToySoftmax, {"l2": [1.0]}, factor=1)
    with pytest.raises(ValueError, match="same number of samples"):
        GridSearch(ToySoftmax, {"l2": [1.0]}, scoring=toy_accuracy).fit(X, y[:-1])
    with pytest.raises(ValueError, match="split 0"):
        cross_validate(ToySoftmax, X, y, cv=[(np.arange(10), np.array([], dtype=int))], scoring=(toy_accuracy,))
    with pytest.raises(mm.NotFittedError):
        GridSearch(ToySoftmax, {"l2": [1.0]}).best_params


def test_progress_bar_only_when_asked(iris, capsys):
    X, y = iris
    GridSearch(ToySoftmax, {"l2": [0.0, 1.0]}, cv=2, scoring=toy_accuracy, progress=True, fit_params={"epochs": 2}).fit(X, y)
    err = capsys.readouterr().err
    assert "GridSearch" in err and "4/4" in err
    GridSearch(ToySoftmax, {"l2": [0.0, 1.0]}, cv=2, scoring=toy_accuracy, progress=None, fit_params={"epochs": 2}).fit(X, y)
    assert capsys.readouterr().err == ""  # captured stderr is not a terminal


def test_benchmark_quick_runs():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_tuning.py"), "--quick"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "peer/ours" in out.stdout


# --- tracking and registry --------------------------------------------------------------------
def test_every_trial_is_a_run_and_the_best_registers_in_one_call(iris):
    X, y = iris
    reg = mm.Registry("memory://tuning")
    s = GridSearch(ToySoftmax, {"l2": [0.0, 1.0], "lr": [0.5]}, cv=3, scoring=toy_accuracy, fit_params={"epochs": 10},
                   registry=reg, experiment="iris-grid").fit(X, y)
    runs = [r for r in reg.runs("iris-grid") if r.parent_id is not None]
    assert len(runs) == 2 and {r.status for r in runs} == {"finished"}
    assert {r.parent_id for r in runs} == {s.run.id}
    by_id = {r.id: r for r in runs}
    for row in s.results:
        run = by_id[row["run_id"]]
        assert run.params == row["params"]
        assert run.metrics["mean_toy_accuracy"][-1][1] == pytest.approx(row["mean_score"])
        assert run.metrics["split2_score"][-1][1] == pytest.approx(row["split2_score"])
    mv = s.register_best(name="iris-best")
    assert mv.version == 1 and mv.params == s.best_params
    assert mv.run_id == s.run.id  # the parent run, which records the refit
    assert reg.get_run(mv.run_id).tags["best_run_id"] == s.results[s.best_index]["run_id"]
    assert mv.metrics["cv_toy_accuracy"] == pytest.approx(s.best_score)
    loaded = reg.load("iris-best")
    np.testing.assert_array_equal(loaded.predict(X), s.best_model.predict(X))


def test_fit_prefixed_params_search_fit_arguments(iris):
    X, y = iris
    s = GridSearch(ToySoftmax, {"fit__epochs": [1, 40]}, cv=3, scoring=toy_accuracy).fit(X, y)
    assert s.best_params == {"fit__epochs": 40} and s.results[0]["mean_score"] < s.results[1]["mean_score"]
    with pytest.raises(ValueError, match="'fit__epochs' cannot be searched"):
        HalvingSearch(ToySoftmax, {"fit__epochs": [1, 2]})
    with pytest.raises(ValueError, match="unknown fit parameter 'fit__epoch'"):
        GridSearch(mm.models.LogisticRegression, {"fit__epoch": [1]}).fit(X, y)


class Fragile(ToySoftmax):
    """Diverges (raises) for a large learning rate."""

    def fit(self, X, y, **kw):
        if self.lr > 1:
            raise FloatingPointError("loss became NaN")
        return super().fit(X, y, **kw)


def test_error_score(iris):
    X, y = iris
    grid = {"lr": [0.5, 5.0]}
    with pytest.raises(FloatingPointError, match="loss became NaN"):
        GridSearch(Fragile, grid, cv=3, scoring=toy_accuracy).fit(X, y)  # default: raise
    with pytest.warns(RuntimeWarning, match=r"3 of 6 GridSearch fits failed.*FloatingPointError: loss became NaN"):
        s = GridSearch(Fragile, grid, cv=3, scoring=toy_accuracy, error_score=float("nan")).fit(X, y)
    assert np.isnan(s.results[1]["mean_score"]) and s.results[1]["rank"] == 2 and s.best_params == {"lr": 0.5}
    with pytest.warns(RuntimeWarning, match="3 of 3 cross_validate fits failed"):
        cv = cross_validate(lambda: Fragile(lr=5.0), X, y, cv=3, scoring={"acc": toy_accuracy}, error_score=0.0)
    np.testing.assert_array_equal(cv["test_acc"], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="error_score must be 'raise' or a number"):
        GridSearch(Fragile, grid, error_score="ignore")


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from([0.1, 0.5, 0.5, 0.9, float("nan")]), min_size=1, max_size=12))
def test_rank_is_scipy_rankdata_min_with_nan_last(means):
    from scipy.stats import rankdata

    from modelmgmt.tuning.search import _BaseSearch

    rows = [{"mean_score": m} for m in means]
    _BaseSearch._rank(rows)
    filled = np.where(np.isnan(means), -np.inf, means)
    assert [r["rank"] for r in rows] == rankdata(-filled, method="min").astype(int).tolist()


def test_missing_values_reach_a_pipeline_that_imputes_and_nothing_else(iris):
    from modelmgmt.data import SimpleImputer
    from modelmgmt.models import LogisticRegression, Pipeline

    X, y = iris
    X = X.copy()
    X[::7, 1] = np.nan

    def imputing(l2=0.0):
        return Pipeline([SimpleImputer(), LogisticRegression(l2=l2)])

    fit = {"epochs": 3, "seed": 0}
    search = GridSearch(imputing, {"l2": [0.0, 0.1]}, cv=3, fit_params=fit).fit(X, y)
    assert np.isfinite(search.best_score)
    scores = cross_validate(imputing, X, y, cv=3, fit_params=fit)
    assert np.isfinite(scores["test_accuracy"]).all()
    halving = HalvingSearch(imputing, {"l2": [0.0, 0.1]}, cv=3, fit_params=fit).fit(X, y)
    assert halving.best_params["l2"] in (0.0, 0.1)

    with pytest.raises(ValueError, match=r"X must be finite; it contains \d+ NaN"):
        GridSearch(LogisticRegression, {"l2": [0.0]}, cv=3).fit(X, y)
    with pytest.raises(ValueError, match=r"X must be finite"):
        cross_validate(LogisticRegression, X, y, cv=3)
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="X must not contain infinite values"):
        GridSearch(imputing, {"l2": [0.0]}, cv=3).fit(X, y)
