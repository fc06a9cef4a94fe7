"""A served model's monitor: a sliding window, alerts and data quality reach /metrics of the
HTTP deployment (real sockets, parsed with prometheus_client's parser)."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

import modelmgmt as mm


def _post(url: str, rows: np.ndarray) -> None:
    req = urllib.request.Request(url + "/invocations", data=json.dumps({"inputs": rows.tolist()}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200


def _metrics(url: str) -> dict:
    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        return {f.name: f for f in text_string_to_metric_families(r.read().decode())}


def test_http_deployment_metrics_carry_window_quality_and_alerts():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    model = mm.models.LinearRegression()
    model.fit(X, X @ np.array([1.0, -2.0, 0.5]), epochs=1)
    reg = mm.Registry("memory://monitor-serving")
    reg.register("lin", model)
    mon = mm.Monitor(X, reference_predictions=model.predict(X), window=200)
    fired = []
    mon.alert_when("drift_share", ">=", 0.5, fired.append, for_=2)
    mon.alert_when("feature:x2:out_of_range_share", ">", 0.5, fired.append)
    with mm.deploy("lin/1", registry=reg, target="http", monitor=mon) as dep:
        for _ in range(5):
            _post(dep.url, rng.normal(size=(100, 3)))
        fams = _metrics(dep.url)
        assert fams["modelmgmt_report_rows"].samples[0].value == 200
        assert fams["modelmgmt_rows_observed"].samples[0].value == 500  # the counter's family name
        firing = {s.labels["metric"]: s.value for s in fams["modelmgmt_alert_firing"].samples}
        assert firing == {"drift_share": 0.0, "feature:x2:out_of_range_share": 0.0}
        shifted = rng.normal(size=(200, 3))
        shifted[:, 2] += 50  # every value of x2 far outside the reference range
        shifted[:, :2] += 3
        _post(dep.url, shifted)
        mon.report()  # first evaluation that holds: for_=2 waits
        fams = _metrics(dep.url)  # /metrics evaluates the rules too
        firing = {s.labels["metric"]: s.value for s in fams["modelmgmt_alert_firing"].samples}
        assert firing == {"drift_share": 1.0, "feature:x2:out_of_range_share": 1.0}
        oor = {s.labels["feature"]: s.value for s in fams["modelmgmt_feature_out_of_range_share"].samples}
        assert oor["x2"] == 1.0
        drifted = {s.labels["feature"]: s.value for s in fams["modelmgmt_feature_drifted"].samples}
        assert drifted["x0"] == drifted["x1"] == drifted["x2"] == 1.0
    assert sorted(a.rule.metric for a in fired) == ["drift_share", "feature:x2:out_of_range_share"]
