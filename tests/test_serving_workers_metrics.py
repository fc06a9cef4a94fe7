"""/metrics served by several worker processes (real processes, real sockets): whichever
worker answers a scrape, it serves the same merged exposition, whose counters equal the
requests every process answered (after one collection), never go backwards from one scrape
to the next, and keep the counts of a worker that died."""

from __future__ import annotations

import collections
import http.client
import json
import os
import signal
import sys
import time
import urllib.parse

import numpy as np
import pytest
from _deploy_fakes import two_versions
from prometheus_client.parser import text_string_to_metric_families

import modelmgmt as mm
from modelmgmt.deployment import workers

W1, W2 = np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 1.0])
INTERVAL = 0.2  # seconds between two collections in these tests (1 s in production)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="worker processes share a port with SO_REUSEPORT")


@pytest.fixture
def fast(monkeypatch):
    """Collect every 0.2 s instead of every second."""
    monkeypatch.setattr(workers, "COLLECT_INTERVAL", INTERVAL)


@pytest.fixture
def reg(tmp_path):
    return two_versions(str(tmp_path / "reg"), W1, W2)


def _request(url, method, path, body=None):
    """One request on a fresh connection (so SO_REUSEPORT may pick another worker): (status, body)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _predict(url, n):
    for i in range(n):
        status, data = _request(url, "POST", "/invocations", json.dumps({"inputs": [[i, 1.0, 2.0]]}))
        assert status == 200, data


def _bad(url, n):
    """n requests refused with 400 (not JSON): counted as HTTP errors, not as predictions."""
    for _ in range(n):
        status, _ = _request(url, "POST", "/invocations", "{not json")
        assert status == 400


def _parse(text):
    """{(sample name, sorted labels): value}, after checking the exposition is valid: each
    family once (one HELP and one TYPE line), no sample twice."""
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")]
    assert len(types) == len(set(types)) and sorted(types) == sorted(helps), "a family written twice"
    families = list(text_string_to_metric_families(text))
    names = [f.name for f in families]
    assert len(names) == len(set(names)), [n for n, c in collections.Counter(names).items() if c > 1]
    samples = {}
    for f in families:
        for s in f.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, f"sample {key} twice"
            samples[key] = s.value
    return families, samples


def _scrape(url):
    status, data = _request(url, "GET", "/metrics")
    assert status == 200, data
    return _parse(data.decode())


def _counters(families, samples):
    """The samples of counter and histogram families (the ones that must never go down)."""
    kinds = {f.name: f.type for f in families}
    out = {}
    for f in families:
        if kinds[f.name] in ("counter", "histogram"):
            for s in f.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


class Scrapes:
    """Every scrape of a test, checked against the previous one: no counter goes down."""

    def __init__(self, url):
        self.url = url
        self.last: dict = {}
        self.n = 0

    def __call__(self):
        families, samples = _scrape(self.url)
        counters = _counters(families, samples)
        for key, value in self.last.items():
            assert counters.get(key, 0) >= value, f"{key} went from {value} to {counters.get(key)}"
        self.last = counters
        self.n += 1
        return samples

    def until(self, check, timeout=10.0):
        """Scrape (over fresh connections) until ``check(samples)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            samples = self()
            if check(samples):
                return samples
            assert time.monotonic() < deadline, "the merged /metrics never got there"
            time.sleep(INTERVAL / 4)


def _get(samples, metric, **labels):
    return samples.get((metric, tuple(sorted(labels.items()))), 0)


def _totals(samples):
    """(predictions, answered /invocations, the /invocations latency histogram's count and
    +Inf bucket: answered and refused requests)."""
    return (_get(samples, "modelmgmt_predictions_total", name="m"),
            _get(samples, "modelmgmt_requests_total", endpoint="invocations", code="200"),
            _get(samples, "modelmgmt_request_duration_seconds_count", endpoint="invocations"),
            _get(samples, "modelmgmt_request_duration_seconds_bucket", endpoint="invocations", le="+Inf"))


def _expected(sent, bad=0):
    return (sent, sent, sent + bad, sent + bad)


def _answered_by(st, endpoint):
    """How many requests to ``endpoint`` each process answered (worker 0 first)."""
    return [w["http"]["endpoints"].get(endpoint, {}).get("requests", 0) for w in st["workers"]]


def test_every_worker_serves_the_same_merged_monotone_counters(reg, fast):
    with mm.deploy("m/1", registry=reg, target="http", workers=3, max_batch_size=4) as dep:
        dep.shadow("m/2")
        scrape = Scrapes(dep.url)
        sent = bad = 0
        for _ in range(6):  # traffic and scrapes interleaved: the counters never go backwards
            _predict(dep.url, 10)
            _bad(dep.url, 1)
            sent, bad = sent + 10, bad + 1
            for _ in range(3):
                scrape()
        # within about one collection: every process's requests, whichever worker answers
        samples = scrape.until(lambda s: _totals(s) == _expected(sent, bad)
                               and _get(s, "modelmgmt_shadow_requests_total", name="m", shadow="m/2") == sent)
        for _ in range(15):  # no new traffic: every scrape, from any worker, shows the same totals
            samples = scrape()
            assert _totals(samples) == _expected(sent, bad)
            assert _get(samples, "modelmgmt_requests_total", endpoint="invocations", code="400") == bad
            assert _get(samples, "modelmgmt_request_errors_total", endpoint="invocations") == bad
            assert _get(samples, "modelmgmt_batched_requests_total", name="m") == sent
            assert _get(samples, "modelmgmt_shadow_requests_total", name="m", shadow="m/2") == sent
            assert _get(samples, "modelmgmt_shadow_agreement", name="m", shadow="m/2") == 0.0  # W2 differs
            assert _get(samples, "modelmgmt_model_version", name="m", model="m") == 1
            assert _get(samples, "modelmgmt_monitor_errors_total", name="m") == 0
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in samples.items()
                         if k[0] == "modelmgmt_request_duration_seconds_bucket"
                         and dict(k[1])["endpoint"] == "invocations")
        assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative, summed bucket by bucket
        assert samples[("modelmgmt_request_duration_seconds_sum", (("endpoint", "invocations"),))] > 0

        # the traffic and the scrapes were answered by several processes
        st = dep.status()
        assert sum(n > 0 for n in _answered_by(st, "invocations")) >= 2
        assert sum(n > 0 for n in _answered_by(st, "metrics")) >= 2
        # status() collects at once and reports the same sums as /metrics
        assert st["predictions"] == sum(w["predictions"] for w in st["workers"]) == sent
        assert st["http"]["endpoints"]["invocations"]["requests"] == sent + bad
        assert st["batching"]["requests"] == sent and st["shadow"]["requests"] == sent
        assert st["collect_errors"] == 0 and st["monitor_errors"] == 0
        after = scrape()  # published by that status(): right away
        assert _totals(after) == _expected(sent, bad)
        assert _get(after, "modelmgmt_requests_total", endpoint="metrics", code="200") >= scrape.n - 1  # all but itself

        dep.update("m/2")  # a swap: the gauge changes everywhere, the counters go on
        _predict(dep.url, 9)
        sent += 9
        samples = scrape.until(lambda s: _totals(s) == _expected(sent, bad))
        assert _get(samples, "modelmgmt_model_version", name="m", model="m") == 2
    assert dep.status()["predictions"] == sent  # after stop: every worker's final counts


def test_a_dead_workers_counts_stay(reg, fast):
    with mm.deploy("m/1", registry=reg, target="http", workers=3) as dep:
        scrape = Scrapes(dep.url)
        _predict(dep.url, 45)
        scrape.until(lambda s: _totals(s) == _expected(45))
        st = dep.status()
        victim = dep.pool.workers[0]
        share = next(w["predictions"] for w in st["workers"] if w["pid"] == victim.proc.pid)
        assert share > 0  # (2/3)**45 chance that it answered nothing
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(10)
        for _ in range(10):  # its counts stay in the sums: no counter goes down
            assert _totals(scrape()) == _expected(45)
            time.sleep(INTERVAL / 2)
        _predict(dep.url, 15)  # the two left answer
        scrape.until(lambda s: _totals(s) == _expected(60))
        for _ in range(10):
            assert _totals(scrape()) == _expected(60)
        st = dep.status()
        assert len(st["workers"]) == 2  # the dead one is left out of the list, not of the sums
        assert st["predictions"] == 60 and sum(w["predictions"] for w in st["workers"]) == 60 - share


def test_one_worker_serves_its_own_live_counters(reg):
    with mm.deploy("m/1", registry=reg, target="http") as dep:
        assert dep.pool is None and dep.published is None
        _predict(dep.url, 3)
        _, samples = _scrape(dep.url)  # no collection: the counts are there at once
        assert _totals(samples) == _expected(3)
