"""Tracking runs: logging, persistence, status from the with-block, lineage to versions."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from _toy_models import ToyLinear

import modelmgmt as mm
from modelmgmt.registry import Run


@pytest.fixture(params=["file", "memory"])
def reg(request, tmp_path):
    if request.param == "file":
        return mm.Registry(tmp_path / "reg")
    return mm.Registry(f"memory://track-{uuid.uuid4().hex}")


def test_run_logs_and_persists(reg):
    with reg.start_run("exp", params={"lr": 0.1}, tags={"who": "me"}) as run:
        assert isinstance(run, Run) and run.status == "running"
        assert len(run.id) == 32
        run.log_param("epochs", 3)
        run.log_params({"batch": 32, "opt": "adam"})
        run.log_metric("loss", 1.0)
        run.log_metric("loss", 0.5)
        run.log_metric("loss", 0.25, step=10)
        run.log_metrics({"acc": np.float64(0.8), "f1": 0.7}, step=2)
        run.set_tag("stage", "dev")
        # visible to other readers while running (params/tags are written at once)
        seen = reg.get_run(run.id)
        assert seen.status == "running" and seen.params["epochs"] == 3
    assert run.status == "finished" and run.end_time is not None
    assert run.metrics["loss"] == [(0, 1.0), (1, 0.5), (10, 0.25)]
    assert run.metrics["acc"] == [(2, 0.8)]
    [back] = reg.runs("exp")
    assert back.id == run.id and back.status == "finished"
    assert back.params == {"lr": 0.1, "epochs": 3, "batch": 32, "opt": "adam"}
    assert back.metrics == run.metrics
    assert back.tags == {"who": "me", "stage": "dev"}
    assert reg.experiments() == ["exp"]


def test_failed_run_records_status_and_reraises(reg):
    with pytest.raises(RuntimeError, match="boom"):
        with reg.start_run("exp") as run:
            run.log_metric("loss", 3.0)
            raise RuntimeError("boom")
    [back] = reg.runs("exp")
    assert back.status == "failed" and back.error == "RuntimeError: boom"
    assert back.metrics["loss"] == [(0, 3.0)]  # unflushed metrics were written at the end


def test_runs_sorted_by_start_and_separated_by_experiment(reg):
    ids = []
    for i in range(3):
        with reg.start_run("a") as run:
            run.log_metric("i", i)
        ids.append(run.id)
    with reg.start_run("b"):
        pass
    assert [r.id for r in reg.runs("a")] == ids
    assert len(reg.runs("b")) == 1
    with pytest.raises(mm.NotFoundError, match=r"no experiment named 'nothing-yet'.*known: \['a', 'b'\]"):
        reg.runs("nothing-yet")
    assert reg.experiments() == ["a", "b"]
    with pytest.raises(mm.NotFoundError, match="no run with id"):
        reg.get_run("0" * 32)
    with pytest.raises(ValueError):
        reg.get_run("../x")


def test_register_with_run_records_lineage(reg):
    with reg.start_run("exp", params={"lr": 0.01}) as run:
        v = reg.register("m", ToyLinear.random(), run=run)
        assert v.run_id == run.id
    assert reg.get("m").run_id == run.id
    back = reg.get_run(run.id)
    assert back.versions == ["m/1"] and back.tags["registered_versions"] == "m/1"
    with pytest.raises(TypeError, match="run must be a tracking Run"):
        reg.register("m", ToyLinear.random(), run="not a run")


def test_metric_batching_still_persists_on_flush(reg):
    run = reg.start_run("exp")
    run.flush_interval = 3600.0
    run.log_metric("loss", 1.0)  # buffered
    key = f"runs/exp/{run.id}.json"
    stored = json.loads(reg.store.get(key))
    run.flush()
    assert json.loads(reg.store.get(key))["metrics"]["loss"] == [[0, 1.0]]
    assert stored["status"] == "running"
    run.end()
    assert reg.get_run(run.id).status == "finished"


def test_bad_logging_input(reg):
    with reg.start_run("exp") as run:
        with pytest.raises(TypeError, match="metric 'loss' must be a real number; got str"):
            run.log_metric("loss", "high")
        with pytest.raises(TypeError, match="metric 'ok' must be a real number"):
            run.log_metric("ok", True)
        with pytest.raises(TypeError, match="step must be an int"):
            run.log_metric("loss", 1.0, step=-1)
        with pytest.raises(TypeError, match="metric name must be a non-empty str"):
            run.log_metric("", 1.0)
        with pytest.raises(TypeError, match="JSON-serialisable"):
            run.log_param("p", object())
        with pytest.raises(TypeError, match="params must be a dict"):
            run.log_params([("a", 1)])
        with pytest.raises(TypeError, match="metric 'b' must be a real number"):
            run.log_metrics({"a": 1.0, "b": None})
        assert "a" not in run.metrics and "loss" not in run.metrics  # nothing half-logged
        with pytest.raises(ValueError, match="status must be"):
            run.end("weird")
    with pytest.raises(ValueError):
        reg.start_run("a/b")
    with pytest.raises(TypeError, match="params must be a dict"):
        reg.start_run("exp", params=3)


def test_fit_logs_into_a_run(tmp_path):
    reg = mm.Registry(tmp_path)
    X = np.random.default_rng(0).standard_normal((40, 3))
    y = (X[:, 0] > 0).astype(int)
    model = mm.models.LogisticRegression()
    with reg.start_run("train") as run:
        model.fit(X, y, epochs=3, seed=0, run=run, optimizer=mm.optim.SGD(lr=0.1))  # the gradient path: one loss per epoch
        reg.register("clf", model, run=run)
    back = reg.get_run(run.id)
    assert len(back.metrics["loss"]) == 3
    assert reg.get("clf").run_id == run.id
