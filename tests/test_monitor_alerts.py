"""Alert rules that don't flap: for_ consecutive evaluations, cooldown, reset on clear,
unknown metrics refused, firing state in the Prometheus text."""

from __future__ import annotations

import time

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

import modelmgmt as mm
from modelmgmt.monitor.alerts import METRICS


def _flapping_monitor():
    """A monitor whose accuracy we set per report: feed the exact rows we want each time."""
    rng = np.random.default_rng(0)
    return mm.Monitor(rng.normal(size=(100, 2)), window=100), rng


def _accuracy(mon, rng, acc):
    X = rng.normal(size=(100, 2))
    y = np.ones(100, int)
    pred = np.where(np.arange(100) < round(acc * 100), 1, 0)
    mon.observe(X, y_pred=pred, y_true=y)
    return mon.report()


def test_for_waits_for_consecutive_evaluations_and_fires_once():
    mon, rng = _flapping_monitor()
    fired = []
    rule = mon.alert_when("accuracy", "<", 0.9, fired.append, for_=3)
    for acc in (0.8, 0.8, 0.95, 0.8, 0.8):  # broken streak: no alert
        _accuracy(mon, rng, acc)
    assert fired == [] and not rule.firing
    _accuracy(mon, rng, 0.8)  # third in a row
    assert len(fired) == 1 and fired[0].value == pytest.approx(0.8) and rule.firing
    for _ in range(5):  # keeps holding: no second alert without a cooldown
        _accuracy(mon, rng, 0.7)
    assert len(fired) == 1
    _accuracy(mon, rng, 0.95)  # clears; the count starts over
    assert not rule.firing
    for _ in range(3):
        _accuracy(mon, rng, 0.5)
    assert len(fired) == 2


def test_flapping_value_does_not_fire_repeatedly_with_for():
    """The issue: drift_share >= 0.2 fired 3 times while flapping around the threshold."""
    mon, rng = _flapping_monitor()
    fired = []
    mon.alert_when("accuracy", "<", 0.9, fired.append, for_=2)
    for acc in (0.89, 0.91) * 10:
        _accuracy(mon, rng, acc)
    assert fired == []


def test_cooldown_refires_while_holding():
    mon, rng = _flapping_monitor()
    fired = []
    mon.alert_when("accuracy", "<", 0.9, fired.append, cooldown_s=0.05)
    _accuracy(mon, rng, 0.5)
    mon.report()  # within the cooldown: quiet
    assert len(fired) == 1
    time.sleep(0.06)
    mon.report()
    assert len(fired) == 2
    zero = []
    mon.alert_when("accuracy", "<", 0.9, zero.append, cooldown_s=0)
    for _ in range(3):
        mon.report()
    assert len(zero) == 3


def test_reset_starts_rules_over_so_they_fire_again():
    """The issue: a per-feature rule never fired after a manual reset()."""
    rng = np.random.default_rng(1)
    mon = mm.Monitor(rng.normal(size=(500, 2)), tests={0: "wasserstein"})
    fired = []
    mon.alert_when("feature:x0", ">", 0.4, fired.append)
    mon.observe(rng.normal(2, 1, size=(200, 2)))
    mon.report()
    mon.reset()
    mon.observe(rng.normal(2, 1, size=(200, 2)))
    rep = mon.report()
    assert rep.feature("x0").statistic > 0.4 and len(fired) == 2


def test_unknown_metric_lists_the_known_ones():
    mon = mm.Monitor(np.zeros((10, 2)), feature_names=["a", "b"])
    with pytest.raises(mm.NotFoundError, match="unknown metric 'acuracy'.*accuracy"):
        mon.alert_when("acuracy", "<", 0.9)
    with pytest.raises(mm.NotFoundError, match="unknown feature 'c'.*'a', 'b'"):
        mon.alert_when("feature:c", ">", 0.1)
    with pytest.raises(mm.NotFoundError, match="unknown feature field 'mean'"):
        mon.alert_when("feature:a:mean", ">", 0.1)
    with pytest.raises(mm.InvalidArgumentError, match="for_"):
        mon.alert_when("accuracy", "<", 0.9, for_=0)
    with pytest.raises(mm.InvalidArgumentError, match="cooldown_s"):
        mon.alert_when("accuracy", "<", 0.9, cooldown_s=-1)
    for metric in METRICS:
        mon.alert_when(metric, ">", 0.0)
    mon.alert_when("feature:a:missing_share", ">", 0.1)


def test_feature_field_and_estimated_metrics_are_watched():
    rng = np.random.default_rng(2)
    mon = mm.Monitor(rng.normal(size=(300, 2)))
    fired = []
    mon.alert_when("feature:x1:missing_share", ">=", 0.5, fired.append)
    mon.alert_when("estimated_accuracy", "<", 0.6, fired.append)
    X = rng.normal(size=(100, 2))
    X[:60, 1] = np.nan
    mon.observe(X, y_score=np.full(100, 0.55))
    mon.report()
    assert sorted(a.rule.metric for a in fired) == ["estimated_accuracy", "feature:x1:missing_share"]


def test_alert_state_in_prometheus_text():
    mon, rng = _flapping_monitor()
    mon.alert_when("accuracy", "<", 0.9, lambda a: None)
    mon.alert_when("drift_share", ">", 2, lambda a: None)
    _accuracy(mon, rng, 0.5)
    fams = {f.name: f for f in text_string_to_metric_families(mon.to_prometheus(labels={"model": "m"}))}
    got = {s.labels["metric"]: s.value for s in fams["modelmgmt_alert_firing"].samples}
    assert got == {"accuracy": 1.0, "drift_share": 0.0}
    assert all(s.labels["model"] == "m" for s in fams["modelmgmt_alert_firing"].samples)


def test_evaluate_every_fires_without_reports():
    mon, rng = _flapping_monitor()
    fired = []
    mon.alert_when("accuracy", "<", 0.9, fired.append)
    X = rng.normal(size=(100, 2))
    mon.observe(X, y_pred=np.zeros(100, int), y_true=np.ones(100, int))
    mon.evaluate_every(0.01)
    try:
        deadline = time.monotonic() + 5
        while not fired and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        mon.stop_evaluating()
    assert len(fired) == 1
    with pytest.raises(mm.InvalidArgumentError, match="interval_s"):
        mon.evaluate_every(0)
