"""A monitor served by several worker processes (real processes, real sockets): every worker
observes its own requests, the deployed monitor is the merged view (equal to one monitor that
saw every request), and /metrics shows the totals whichever worker answers."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse

import numpy as np
import pytest
from _deploy_fakes import stop_cli, two_versions
from prometheus_client.parser import text_string_to_metric_families

import modelmgmt as mm
from modelmgmt.deployment import workers
from tests.test_monitor_window import assert_same_report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
W1, W2 = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 1.0])
REF = np.random.default_rng(0).normal(size=(400, 3))

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="worker processes share a port with SO_REUSEPORT")


def _request(url, method, path, body=None):
    """One request on a fresh connection (so SO_REUSEPORT may pick another worker)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        assert r.status == 200, data
        return data
    finally:
        conn.close()


def _predict(url, X):
    return np.array(json.loads(_request(url, "POST", "/invocations", {"inputs": X.tolist()}))["predictions"])


def _scrape(url):
    """/metrics parsed by prometheus_client: {(family, feature label or None): value}."""
    text = _request(url, "GET", "/metrics").decode()
    return {(s.name, s.labels.get("feature")): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def _send(url, expected, rng, n, shift):
    """n requests of 1..6 rows each; ``expected`` observes exactly what the server answered."""
    for _ in range(n):
        X = rng.normal(size=(int(rng.integers(1, 7)), 3)) + shift
        expected.observe(X, y_pred=_predict(url, X))


def _wait_for(mon, rows, timeout=15.0):
    deadline = time.monotonic() + timeout
    while mon.n_observed < rows and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mon.n_observed == rows


def _same_as_metrics(sample, report):
    assert sample[("modelmgmt_rows_observed_total", None)] == report.n_observed
    for f in [*report.features, *([report.prediction_drift] if report.prediction_drift else [])]:
        assert sample[("modelmgmt_drift_statistic", f.name)] == pytest.approx(f.statistic, rel=1e-12, abs=1e-12)
        assert sample[("modelmgmt_feature_drifted", f.name)] == int(f.drifted)


@pytest.fixture
def fast(monkeypatch):
    """Collect every 0.2 s instead of every second (more merge rounds, shorter waits)."""
    monkeypatch.setattr(workers, "COLLECT_INTERVAL", 0.2)


@pytest.fixture
def reg(tmp_path):
    return two_versions(str(tmp_path / "reg"), W1, W2)


def _monitor():
    return mm.Monitor(REF, reference_predictions=REF @ W1)


def test_merged_monitor_equals_one_monitor_that_saw_every_request(reg, fast):
    rng = np.random.default_rng(1)
    mon, expected = _monitor(), _monitor()
    alerts = []
    mon.alert_when("drift_share", ">=", 0.5, callback=alerts.append)
    rows_seen = []
    with mm.deploy("m/1", registry=reg, target="http", workers=3, monitor=mon) as dep:
        assert dep.monitor is not mon  # this process observes into its replica; mon is the merged view
        for _ in range(6):  # traffic and scrapes interleaved: the counter never goes backwards
            _send(dep.url, expected, rng, 5, shift=1.5)
            rows_seen.append(_scrape(dep.url)[("modelmgmt_rows_observed_total", None)])
        dep.update("m/2")  # a swap: every worker keeps observing
        _send(dep.url, expected, rng, 10, shift=1.5)
        _wait_for(mon, expected.n_observed)
        assert_same_report(mon.report(), expected.report())
        # /metrics from whichever worker answers: the merged totals (published within ~1 s)
        deadline = time.monotonic() + 10
        while _scrape(dep.url)[("modelmgmt_rows_observed_total", None)] < expected.n_observed:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        report = expected.report()
        for _ in range(12):
            sample = _scrape(dep.url)
            rows_seen.append(sample[("modelmgmt_rows_observed_total", None)])
            _same_as_metrics(sample, report)
            assert sample[("modelmgmt_alert_firing", None)] == 1
        st = dep.status()
        assert all(w["predictions"] > 0 for w in st["workers"])  # every process observed a share
        scraped = [st["http"]["endpoints"].get("metrics", {}).get("requests", 0)]
        scraped += [w["http"]["endpoints"].get("metrics", {}).get("requests", 0) for w in st["workers"][1:]]
        assert sum(n > 0 for n in scraped) >= 2  # the scrapes were answered by several workers
        assert st["monitor_errors"] == 0
        _send(dep.url, expected, rng, 4, shift=1.5)  # then stop at once: the workers' last rows still arrive
    assert rows_seen == sorted(rows_seen)
    assert mon.n_observed == expected.n_observed
    assert_same_report(mon.report(), expected.report())
    assert len(alerts) == 1  # evaluated on the merged view, in this process only


def test_a_dead_worker_does_not_lose_the_others_observations(reg, fast):
    rng = np.random.default_rng(2)
    mon, expected = _monitor(), _monitor()
    with mm.deploy("m/1", registry=reg, target="http", workers=3, monitor=mon) as dep:
        _send(dep.url, expected, rng, 12, shift=0.0)
        _wait_for(mon, expected.n_observed)  # collected: what the doomed worker saw is merged
        victim = dep.pool.workers[0].proc
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        _send(dep.url, expected, rng, 12, shift=2.0)
        _wait_for(mon, expected.n_observed)
        assert_same_report(mon.report(), expected.report())
        assert dep.update("m/2").version == 2  # swaps still reach the living workers
        _send(dep.url, expected, rng, 6, shift=2.0)
        assert len(dep.status()["workers"]) == 2  # the dead one is left out
    assert_same_report(mon.report(), expected.report())


def test_workers_need_a_monitor_they_can_replicate(reg):
    class CountingMonitor:
        def observe(self, X, y_pred=None, y_true=None):
            pass

    with pytest.raises(mm.InvalidArgumentError, match="mm.Monitor"):
        mm.deploy("m", registry=reg, target="http", workers=2, monitor=CountingMonitor())
    with mm.deploy("m", registry=reg, target="http", workers=1, monitor=CountingMonitor()) as dep:
        assert _predict(dep.url, np.ones((1, 3))).tolist() == [5.0]  # one process: any observe() will do


def _cli(tmp_path, *args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return [sys.executable, "-m", "modelmgmt", "--registry", str(tmp_path / "reg"), "serve", *args,
            "--port", "0"], env


def test_cli_serve_workers_with_a_monitor_shows_the_merged_totals(tmp_path, reg):
    buf = io.BytesIO()
    np.save(buf, REF)
    reg.attach("m/1", "reference.npy", buf.getvalue())
    cmd, env = _cli(tmp_path, "m/1", "--workers", "2", "--monitor", "reference.npy")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "2 workers" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        url = line.split(" at ", 1)[1].split()[0].rstrip(",")
        expected = mm.Monitor(REF)
        _send(url, expected, np.random.default_rng(3), 20, shift=1.0)
        deadline = time.monotonic() + 15
        while _scrape(url)[("modelmgmt_rows_observed_total", None)] < expected.n_observed:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        report = expected.report()
        for _ in range(8):
            _same_as_metrics(_scrape(url), report)
    finally:
        assert stop_cli(proc) == 0


def test_cli_serve_workers_with_a_missing_reference_fails_cleanly(tmp_path, reg):
    cmd, env = _cli(tmp_path, "m", "--workers", "2", "--monitor", "missing.npy")
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode != 0 and "missing.npy" in res.stderr, res.stderr
