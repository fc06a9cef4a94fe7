"""`modelmgmt serve` in a child process: prints the real URL, serves, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from modelmgmt.registry import Registry
from _deploy_fakes import linear

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_cli_serve_port_zero_prints_real_url_and_stops_on_sigterm(tmp_path):
    reg = Registry(str(tmp_path / "reg"))
    reg.register("m", linear([1.0, 2.0, 3.0], b=0.5))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelmgmt", "--registry", str(tmp_path / "reg"), "serve", "m", "--port", "0",
         "--token", "tok"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving m/1 at http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() is not None else "")
        url = line.split(" at ", 1)[1].split()[0]
        assert not url.endswith(":0")
        req = urllib.request.Request(url + "/invocations", data=json.dumps({"inputs": [[1, 1, 1]]}).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer tok"})
        body = json.loads(urllib.request.urlopen(req, timeout=10).read())
        np.testing.assert_allclose(body["predictions"], [6.5])
        # the deployment event landed in the same registry
        assert reg.deployment_history("m")[-1]["event"] == "deploy"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - the failure we test for
            proc.kill()
            raise
    assert rc == 0
    assert [e["event"] for e in reg.deployment_history("m")] == ["deploy", "stop"]


def test_cli_serve_unknown_ref_fails_cleanly(tmp_path):
    Registry(str(tmp_path / "reg")).register("m", linear([1.0]))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run(
        [sys.executable, "-m", "modelmgmt", "--registry", str(tmp_path / "reg"), "serve", "nope", "--port", "0"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert res.returncode == 1 and "nope" in res.stderr


def test_bench_serve_quick_runs():
    res = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "bench_serve.py"), "--quick", "--no-mlflow"],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "in-process predict" in res.stdout and "result: ok" in res.stdout
    assert "OIP v2 binary tensors" in res.stdout
