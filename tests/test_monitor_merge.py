"""Replicas: merged monitors equal one monitor that saw every stream (statistics and p-values
to 1e-12); save/load through a registry attachment (JSON, no pickle) continues exactly."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest
from _monitor_streams import stream as _stream
from hypothesis import given, settings
from hypothesis import strategies as hs

import modelmgmt as mm
from tests.test_monitor_window import assert_same_report


def _monitor(ref, y_pred, **kw):
    return mm.Monitor(ref, categorical=[1], reference_predictions=y_pred[:500], task="classification", **kw)


def _feed(mon, X, y_pred, y_true, score, a, b, labels=True):
    if labels:
        mon.observe(X[a:b], y_pred=y_pred[a:b], y_true=y_true[a:b], y_score=score[a:b])
    else:
        mon.observe(X[a:b], y_pred=y_pred[a:b], y_score=score[a:b])


@settings(max_examples=15, deadline=None)
@given(seed=hs.integers(0, 2**32 - 1), parts=hs.integers(2, 16),
       exact_rows=hs.sampled_from([0, 500, 10_000]))
def test_merge_of_replicas_equals_one_monitor(seed, parts, exact_rows):
    ref, X, y_pred, y_true, score = _stream(seed, 3000)
    one = _monitor(ref, y_pred, exact_rows=exact_rows)
    bounds = np.linspace(0, 3000, parts + 1).astype(int)
    replicas = []
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        _feed(one, X, y_pred, y_true, score, a, b, labels=i % 2 == 0)
        rep = _monitor(ref, y_pred, exact_rows=exact_rows)
        _feed(rep, X, y_pred, y_true, score, a, b, labels=i % 2 == 0)
        replicas.append(rep)
    merged = replicas[0]
    for r in replicas[1:]:
        assert merged.merge(r) is merged
    assert_same_report(merged.report(), one.report())
    assert merged.n_observed == 3000


def test_merge_of_windowed_monitors_appends_the_other_window():
    ref, X, y_pred, y_true, score = _stream(5, 3000)
    a, b = _monitor(ref, y_pred, window=800), _monitor(ref, y_pred, window=800)
    _feed(a, X, y_pred, y_true, score, 0, 1500)
    _feed(b, X, y_pred, y_true, score, 1500, 3000)
    a.merge(b)
    fresh = _monitor(ref, y_pred)
    _feed(fresh, X, y_pred, y_true, score, 2200, 3000)  # b's window is the last 800 rows
    assert_same_report(a.report(), fresh.report())


def test_merge_refuses_other_references_and_non_monitors():
    rng = np.random.default_rng(6)
    a = mm.Monitor(rng.normal(size=(100, 2)))
    with pytest.raises(mm.InvalidArgumentError, match="different references"):
        a.merge(mm.Monitor(rng.normal(size=(100, 2))))
    ref = rng.normal(size=(100, 2))
    with pytest.raises(mm.InvalidArgumentError, match="different references or settings"):
        mm.Monitor(ref).merge(mm.Monitor(ref, window=10))
    with pytest.raises(mm.InvalidArgumentError, match="another Monitor"):
        a.merge("monitor")
    with pytest.raises(mm.InvalidArgumentError, match="itself"):
        a.merge(a)


def _registry(name: str):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(60, 3))
    model = mm.models.LinearRegression()
    model.fit(X, X @ np.array([1.0, -1.0, 0.5]), epochs=1)
    reg = mm.Registry(f"memory://{name}")
    reg.register("m", model)
    return reg


@pytest.mark.parametrize("window", [None, 700])
def test_save_load_continues_exactly(window):
    ref, X, y_pred, y_true, score = _stream(8, 3000)
    reg = _registry(f"monitor-saveload-{window}")
    saved = _monitor(ref, y_pred, window=window, exact_rows=400)
    _feed(saved, X, y_pred, y_true, score, 0, 1700)
    name = saved.save(reg, "m/1")
    assert name.startswith("monitor/report-") and name in reg.attachments("m/1")
    text = reg.attachment("m/1", name)
    assert "monitor_state" in json.loads(text)  # JSON, no pickle
    # the attachment is also the report (what the UI draws)
    assert mm.DriftReport.from_json(text).to_dict()["features"] == saved.report().to_dict()["features"]
    loaded = mm.Monitor.load(reg, "m/1")
    assert_same_report(loaded.report(), saved.report())
    for mon in (saved, loaded):
        _feed(mon, X, y_pred, y_true, score, 1700, 3000)
    assert_same_report(loaded.report(), saved.report())
    assert loaded.n_observed == saved.n_observed == 3000


def test_replicas_ship_state_through_the_registry():
    ref, X, y_pred, y_true, score = _stream(9, 2000)
    reg = _registry("monitor-replicas")
    one = _monitor(ref, y_pred)
    _feed(one, X, y_pred, y_true, score, 0, 2000)
    for a, b in ((0, 900), (900, 2000)):
        rep = _monitor(ref, y_pred)
        _feed(rep, X, y_pred, y_true, score, a, b)
        rep.save(reg, "m/1")
    names = [n for n in reg.attachments("m/1") if n.startswith("monitor/")]
    assert len(names) == 2
    merged = mm.Monitor.load(reg, "m/1", names[0]).merge(mm.Monitor.load(reg, "m/1", names[1]))
    assert_same_report(merged.report(), one.report())


def test_load_errors_name_what_is_missing():
    reg = _registry("monitor-load-errors")
    with pytest.raises(mm.NotFoundError, match="no monitor saved"):
        mm.Monitor.load(reg, "m/1")
    old_report = "monitor/report-20200101T000000000000Z.json"
    reg.attach("m/1", old_report, b'{"features": []}')
    with pytest.raises(mm.NotFoundError, match="report only"):
        mm.Monitor.load(reg, "m/1")
    with pytest.raises(mm.NotFoundError, match="report only"):
        mm.Monitor.load(reg, "m/1", old_report)


def test_save_refuses_unsaveable_categories():
    ref = np.empty((2, 1), dtype=object)
    ref[0, 0], ref[1, 0] = (1, 2), (3, 4)
    mon = mm.Monitor(ref, categorical=[0])
    with pytest.raises(mm.InvalidArgumentError, match="cannot save a category"):
        mon.save(_registry("monitor-unsaveable"), "m/1")


def test_saved_monitor_page_shows_the_report_not_the_state():
    """The UI reads the saved attachment as a report; the state (reference rows) stays out."""
    ref, X, y_pred, y_true, score = _stream(10, 600)
    reg = _registry("monitor-ui")
    mon = _monitor(ref, y_pred)
    _feed(mon, X, y_pred, y_true, score, 0, 600)
    mon.save(reg, "m/1")
    with mm.ui.serve(reg) as server:
        with urllib.request.urlopen(server.url + "/api/monitors/m", timeout=30) as r:
            data = json.loads(r.read())
    assert data["report"]["features"][0]["name"] == "x0"
    assert "monitor_state" not in json.dumps(data)


def test_save_load_keeps_the_calibration():
    rng = np.random.default_rng(11)
    X_ref = rng.normal(size=(2000, 2))
    ref_score = 1 / (1 + np.exp(-3 * X_ref[:, 0]))
    y_ref = (rng.random(2000) < 1 / (1 + np.exp(-X_ref[:, 0]))).astype(int)
    mon = mm.Monitor(X_ref, reference_labels=y_ref, reference_scores=ref_score, calibrate=True)
    X = rng.normal(0.5, 1, size=(500, 2))
    mon.observe(X, y_score=1 / (1 + np.exp(-3 * X[:, 0])))
    reg = _registry("monitor-calibrated")
    mon.save(reg, "m/1")
    back = mm.Monitor.load(reg, "m/1")
    assert back.calibration == mon.calibration
    assert back.report().estimated_performance == mon.report().estimated_performance
    assert back.merge(mon).n_observed == 1000  # same reference, same calibration: mergeable
    with pytest.raises(mm.InvalidArgumentError, match="different references or settings"):
        mon.merge(mm.Monitor(X_ref, reference_labels=y_ref, reference_scores=ref_score))
