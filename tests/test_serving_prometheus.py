"""A real Prometheus server (2.42, /usr/bin/prometheus) scrapes a modelmgmt server's /metrics."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import numpy as np
import pytest
from _deploy_fakes import linear

import modelmgmt as mm

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
pytestmark = pytest.mark.skipif(not os.path.exists(PROMETHEUS), reason="no Prometheus server installed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(port, expr):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())["data"]["result"]


def test_prometheus_scrapes_every_metric_family(tmp_path):
    reg = mm.Registry(str(tmp_path / "reg"))
    reg.register("m", linear([1.0, 2.0, 3.0]))
    reg.register("m", linear([0.0, 1.0, 1.0]))
    mon = mm.Monitor(np.random.default_rng(0).normal(size=(200, 3)))
    with mm.deploy("m/1", registry=reg, target="http", monitor=mon, max_batch_size=4) as dep:
        dep.shadow("m/2")
        for _ in range(3):
            dep.predict(np.random.default_rng(1).normal(loc=3, size=(20, 3)))
        try:
            dep.predict(np.ones((1, 2)))  # a 422: not a prediction
        except ValueError:
            pass
        dep._shadow.drain()
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: modelmgmt\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{dep.port}']\n"
        )
        proc = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    up = query(port, 'up{job="modelmgmt"}')
                    if up and up[0]["value"][1] == "1" and query(port, "modelmgmt_predictions_total"):
                        break
                except OSError:
                    pass
                assert proc.poll() is None, "prometheus exited"
                assert time.monotonic() < deadline, "prometheus never scraped the server"
                time.sleep(0.5)
            preds = query(port, "modelmgmt_predictions_total")
            assert [(r["metric"]["name"], r["value"][1]) for r in preds] == [("m", "3")]
            version = query(port, "modelmgmt_model_version")
            assert version[0]["metric"]["model"] == "m" and version[0]["value"][1] == "1"
            assert query(port, 'modelmgmt_shadow_requests_total{shadow="m/2"}')[0]["value"][1] == "3"
            drifted = query(port, "modelmgmt_feature_drifted")
            assert {r["metric"]["feature"] for r in drifted} == {"x0", "x1", "x2"}
            # the exposition parsed without a single error: every series of ours arrived
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5).read())
            (target,) = targets["data"]["activeTargets"]
            assert target["health"] == "up" and target["lastError"] == ""
        finally:
            proc.terminate()
            proc.wait(timeout=20)
