"""Nested runs, run artifacts, searches that log a parent and one child per candidate with
flattened hyperparameters, and multi-metric scoring equal to scikit-learn's GridSearchCV."""

from __future__ import annotations

import numpy as np
import pytest
from _toy_models import ToyLinear

import modelmgmt as mm
from modelmgmt.tuning import GridSearch, RandomSearch
from modelmgmt.tuning.search import flatten_params


def test_nested_runs_and_parent_ids(tmp_path):
    reg = mm.Registry(tmp_path)
    with reg.start_run("exp") as parent:
        child = reg.start_run("exp", parent=parent)
        child.end()
        by_id = reg.start_run("other", parent=parent.id)
        by_id.end()
    assert parent.parent_id is None and child.parent_id == parent.id
    assert reg.get_run(child.id).parent_id == parent.id
    assert reg.get_run(by_id.id).parent_id == parent.id and reg.get_run(by_id.id).experiment == "other"
    assert [r.id for r in reg.search_runs(f"parent_id = '{parent.id}'", order_by="experiment")] == [child.id, by_id.id]
    with pytest.raises(mm.InvalidArgumentError, match="parent must be a Run or a run id"):
        reg.start_run("exp", parent=3)
    with pytest.raises(mm.InvalidArgumentError, match="parent must be"):
        reg.start_run("exp", parent="not an id!")


def test_run_artifacts_from_bytes_and_files(tmp_path):
    reg = mm.Registry(tmp_path / "reg")
    (tmp_path / "plot.svg").write_text("<svg/>")
    with reg.start_run("exp") as run:
        run.log_artifact("notes/readme.txt", b"hello")
        run.log_artifact("plot.svg", tmp_path / "plot.svg")
        run.log_artifact("plot2.svg", str(tmp_path / "plot.svg"))
    again = reg.get_run(run.id)
    assert again.artifacts() == ["notes/readme.txt", "plot.svg", "plot2.svg"]
    assert again.artifact("plot.svg") == b"<svg/>" and again.artifact("notes/readme.txt") == b"hello"
    assert [r.id for r in reg.runs("exp")] == [run.id]  # artifacts are not runs
    with pytest.raises(mm.NotFoundError, match="no artifact 'nope'.*plot.svg"):
        again.artifact("nope")
    with pytest.raises(mm.InvalidArgumentError, match="artifact must be bytes or a file path"):
        run.log_artifact("x", 3)
    with pytest.raises(mm.InvalidArgumentError, match="cannot read artifact file"):
        run.log_artifact("x", tmp_path / "missing.txt")
    with pytest.raises(mm.InvalidArgumentError, match="invalid artifact name"):
        run.log_artifact("../escape", b"")


def test_set_tags_and_delete_model(tmp_path):
    reg = mm.Registry(tmp_path)
    v1 = reg.register("m", ToyLinear.random(seed=0), tags={"stage": "dev"})
    reg.register("m", ToyLinear.random(seed=1))
    reg.register("keep", ToyLinear.random(seed=2))
    assert reg.set_tags("m/1", {"stage": "prod", "owner": "ana"}).tags == {"stage": "prod", "owner": "ana"}
    assert reg.get("m/1").digest == v1.digest  # the manifest is untouched
    assert reg.set_tags("m/1", {"x": 1}).tags == {"stage": "prod", "owner": "ana", "x": 1}
    assert reg.load("m/1").params["W"].shape == (3, 1)
    with pytest.raises(mm.InvalidArgumentError, match="tags must be a dict"):
        reg.set_tags("m/1", ["x"])
    with pytest.raises(mm.NotFoundError):
        reg.set_tags("m/9", {"a": 1})
    reg.set_alias("m", "prod", 2)
    with pytest.raises(mm.ConflictError, match="prod -> 2"):
        reg.delete_model("m")
    reg.delete_alias("m", "prod")
    reg.delete_model("m")
    assert reg.models() == ["keep"]
    with pytest.raises(mm.NotFoundError, match="no model named 'm'"):
        reg.get("m")
    with pytest.raises(mm.NotFoundError, match="known: \\['keep'\\]"):
        reg.delete_model("m")
    assert len(reg.gc(grace_period=0)) == 4  # W and b of both deleted versions
    assert reg.register("m", ToyLinear.random()).version == 1  # a new model of the same name


def test_flatten_params_gives_every_hyperparameter_its_own_param():
    adam = mm.optim.Adam(lr=0.01)
    flat = flatten_params({"fit__optimizer": adam, "l2": np.float64(0.5), "hidden": (8, 4)})
    expected = {f"fit__optimizer.{k}": list(v) if isinstance(v, tuple) else v for k, v in adam.hyperparams.items()}
    assert flat == {"fit__optimizer": "Adam", **expected, "l2": 0.5, "hidden": [8, 4]}
    assert flat["fit__optimizer.lr"] == 0.01 and flat["fit__optimizer.betas"] == [0.9, 0.999]


def test_search_logs_a_parent_and_one_child_per_candidate_with_flat_params(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(120)
    reg = mm.Registry(tmp_path)
    grid = {"fit__optimizer": [mm.optim.SGD(lr=0.01), mm.optim.SGD(lr=0.1)]}
    s = GridSearch(mm.models.LinearRegression, grid, cv=3, scoring=("r2", "mse"), refit="r2",
                   fit_params={"epochs": 5, "progress": False}, registry=reg, experiment="lr").fit(X, y)
    runs = reg.runs("lr")
    parents = [r for r in runs if r.parent_id is None]
    children = [r for r in runs if r.parent_id is not None]
    assert len(parents) == 1 and len(children) == 2 and parents[0].id == s.run.id
    assert {c.parent_id for c in children} == {s.run.id}
    assert sorted(c.params["fit__optimizer.lr"] for c in children) == [0.01, 0.1]
    assert all(c.params["fit__optimizer"] == "SGD" for c in children)
    for c in children:
        assert {"mean_r2", "std_r2", "mean_mse", "std_mse", "split0_r2", "split2_mse", "rank"} <= set(c.metrics)
    best = reg.search_runs("params.fit__optimizer.lr > 0.05 and tags.role = 'candidate'", experiment="lr")
    assert [r.params["fit__optimizer.lr"] for r in best] == [0.1]
    top = reg.search_runs("tags.role = 'candidate'", experiment="lr", order_by="metrics.mean_r2 DESC", limit=1)
    assert top[0].id == s.results[s.best_index]["run_id"]
    parent = parents[0]
    assert parent.params["fit__optimizer.lr"] == s.best_params["fit__optimizer"].lr
    assert parent.latest("best_mean_r2") == pytest.approx(s.best_score) and "refit_time" in parent.metrics
    mv = s.register_best(name="lr-best")
    assert mv.run_id == parent.id and mv.params["fit__optimizer.lr"] == parent.params["fit__optimizer.lr"]
    assert set(mv.metrics) == {"cv_r2", "cv_r2_std", "cv_mse", "cv_mse_std"}
    r = RandomSearch(mm.models.LinearRegression, {"l2": [0.0, 1.0, 2.0]}, n_iter=2, seed=0, cv=3, scoring="r2",
                     registry=reg, experiment="rand").fit(X, y)
    assert len(reg.runs("rand")) == 3 and r.run.id in {x.parent_id for x in reg.runs("rand")}


def test_multi_metric_scoring_equals_sklearn_gridsearchcv():
    sklearn_ms = pytest.importorskip("sklearn.model_selection")
    from sklearn.linear_model import LinearRegression as SkLinear

    rng = np.random.default_rng(1)
    X = rng.standard_normal((90, 4))
    y = X @ rng.standard_normal(4) + 2.0 + 0.3 * rng.standard_normal(90)
    grid = {"fit_intercept": [True, False]}
    ours = GridSearch(mm.models.LinearRegression, grid, cv=5, scoring=("r2", "mse"), refit="r2").fit(X, y)
    theirs = sklearn_ms.GridSearchCV(SkLinear(), grid, cv=5, scoring={"r2": "r2", "mse": "neg_mean_squared_error"},
                                     refit="r2").fit(X, y)
    for i, row in enumerate(ours.results):
        assert row["params"] == theirs.cv_results_["params"][i]
        for name in ("r2", "mse"):
            assert row[f"mean_{name}"] == pytest.approx(theirs.cv_results_[f"mean_test_{name}"][i], rel=1e-9)
            assert row[f"std_{name}"] == pytest.approx(theirs.cv_results_[f"std_test_{name}"][i], rel=1e-7)
            assert row[f"rank_{name}"] == theirs.cv_results_[f"rank_test_{name}"][i]
    assert ours.best_params == theirs.best_params_
    assert ours.best_score == pytest.approx(theirs.best_score_, rel=1e-9)
    np.testing.assert_allclose(ours.best_model.predict(X), theirs.best_estimator_.predict(X), rtol=1e-9)


def test_multi_metric_refit_names_one_metric_or_takes_the_first():
    X0 = np.random.default_rng(3).standard_normal((40, 2))
    first = GridSearch(mm.models.LinearRegression, {"l2": [0.0, 50.0]}, cv=4, scoring=("mse", "r2")).fit(X0, X0[:, 1])
    assert first.best_score == first.results[first.best_index]["mean_mse"]  # refit=True: the first metric
    assert first.best_model is not None and first.results[first.best_index]["rank_mse"] == 1
    with pytest.raises(mm.InvalidArgumentError, match="refit='mae' is not one of the scoring metrics: r2, mse"):
        GridSearch(mm.models.LinearRegression, {"l2": [0.0]}, scoring=("r2", "mse"), refit="mae")
    with pytest.raises(mm.InvalidArgumentError, match="refit must be True, False"):
        GridSearch(mm.models.LinearRegression, {"l2": [0.0]}, scoring="r2", refit=1)
    X = np.random.default_rng(0).standard_normal((40, 2))
    s = GridSearch(mm.models.LinearRegression, {"l2": [0.0, 5.0]}, cv=4, scoring=("r2", "mse"), refit=False).fit(X, X[:, 0])
    assert s.best_model is None and s.results[s.best_index]["rank_r2"] == 1


def test_halving_search_logs_nested_runs(tmp_path):
    from modelmgmt.tuning import HalvingSearch

    rng = np.random.default_rng(2)
    X = rng.standard_normal((90, 3))
    y = X @ np.array([1.0, 2.0, -1.0])
    reg = mm.Registry(tmp_path)
    s = HalvingSearch(mm.models.LinearRegression, {"l2": [0.0, 0.1, 1.0]}, resource="n_samples", factor=3,
                      cv=3, scoring="r2", registry=reg, experiment="halving").fit(X, y)
    runs = reg.runs("halving")
    children = [r for r in runs if r.parent_id == s.run.id]
    assert len(children) == len(s.results) and len(runs) == len(s.results) + 1
    assert sorted(c.params["l2"] for c in children if c.tags["candidate"] < 3) == [0.0, 0.1, 1.0]
    assert s.run.tags["best_run_id"] == s.results[s.best_index]["run_id"]
