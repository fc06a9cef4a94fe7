"""Monitors on a served model: two monitored models on one port give one valid /metrics, and a
served classifier's monitor estimates performance without labels (real sockets, real parser)."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

import modelmgmt as mm
from modelmgmt._prometheus import merge_texts


def _post(url: str, rows: np.ndarray, model: str) -> None:
    req = urllib.request.Request(f"{url}/invocations?model={model}", data=json.dumps({"inputs": rows.tolist()}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200


def test_two_monitored_models_share_one_valid_exposition():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    reg = mm.Registry("memory://serving-monitors")
    for name in ("a", "b"):
        model = mm.models.LogisticRegression()
        model.fit(X, y)
        reg.register(name, model)
    mon_a, mon_b = mm.Monitor(X), mm.Monitor(X)
    with mm.deploy(["a/1", "b/1"], registry=reg, target="http", monitor=mon_a) as dep:
        dep.models["b"].monitor = mon_b
        _post(dep.url, rng.normal(size=(50, 3)), "a")
        _post(dep.url, rng.normal(size=(80, 3)) + 3, "b")
        with urllib.request.urlopen(dep.url + "/metrics", timeout=30) as r:
            text = r.read().decode()
    families = list(text_string_to_metric_families(text))
    names = [f.name for f in families]
    assert len(names) == len(set(names))  # every family once
    assert text.count("# TYPE modelmgmt_drift_share ") == 1
    rows = {s.labels["name"]: s.value for f in families if f.name == "modelmgmt_report_rows" for s in f.samples}
    assert rows == {"a": 50.0, "b": 80.0}
    estimated = {s.labels["name"] for f in families for s in f.samples if "estimated" in f.name}
    assert estimated == {"a", "b"}  # the server passed class probabilities: CBPE without labels


def test_served_classifier_monitor_estimates_accuracy_without_labels():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2000, 2))
    y = (rng.random(2000) < 1 / (1 + np.exp(-2 * X[:, 0]))).astype(int)
    model = mm.models.LogisticRegression()
    model.fit(X, y)
    reg = mm.Registry("memory://serving-cbpe")
    reg.register("clf", model)
    mon = mm.Monitor(X)
    with mm.deploy("clf/1", registry=reg, monitor=mon) as dep:
        Xc = rng.normal(size=(3000, 2)) + [0.7, 0]
        dep.predict(Xc)  # /invocations-style call: only predict is asked for
    est = mon.report().estimated_performance
    truth = (rng.random(3000) < 1 / (1 + np.exp(-2 * Xc[:, 0]))).astype(int)
    assert abs(est["accuracy"] - float(np.mean(model.predict(Xc) == truth))) < 0.05


def test_merge_texts_keeps_each_family_once_with_every_sample():
    a = "# HELP x X.\n# TYPE x gauge\nx{m=\"a\"} 1\n# HELP y Y.\n# TYPE y gauge\ny 2\n"
    b = "# HELP x X.\n# TYPE x gauge\nx{m=\"b\"} 3\n"
    merged = merge_texts([a, b])
    assert merged == "# HELP x X.\n# TYPE x gauge\nx{m=\"a\"} 1\nx{m=\"b\"} 3\n# HELP y Y.\n# TYPE y gauge\ny 2\n"
    assert [f.name for f in text_string_to_metric_families(merged)] == ["x", "y"]
