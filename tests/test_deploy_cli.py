"""`modelmgmt serve` in a child process: prints the real URL, serves, stops on SIGTERM."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
from _deploy_fakes import linear, stop_cli

from modelmgmt.registry import Registry

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
        rc = stop_cli(proc, timeout=15)
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


# --- serving for production from the command line ---------------------------------------------

def _start(tmp_path, *args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "modelmgmt", "--registry", str(tmp_path / "reg"), "serve", *args,
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    if not line.startswith("serving "):
        proc.kill()
        raise AssertionError((line, proc.communicate()[1][-3000:]))
    return proc, line, line.split(" at ", 1)[1].split()[0].rstrip(",")


def _stop(proc):
    assert stop_cli(proc) == 0


def _post(url, path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["X-Model-Version"], json.loads(r.read())


def test_cli_serves_several_refs_with_canary_and_shadow(tmp_path):
    reg = Registry(str(tmp_path / "reg"))
    reg.register("m", linear([1.0, 2.0, 3.0]))
    reg.register("m", linear([0.0, 0.0, 1.0]))
    reg.register("n", linear([1.0]))
    proc, line, url = _start(tmp_path, "m/1", "n", "--canary", "m/2:0.5", "--shadow", "m/2",
                             "--max-batch-size", "4", "--follow", "1")
    try:
        assert "m/1, n/1" in line
        seen = {_post(url, "/invocations?model=m", {"inputs": [[1, 1, 1]]})[0] for _ in range(40)}
        assert seen == {"m/1", "m/2"}
        assert _post(url, "/invocations?model=n", {"inputs": [[2]]}) == ("n/1", {"predictions": [2.0]})
        metrics = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
        assert 'modelmgmt_shadow_requests_total{name="m",shadow="m/2"}' in metrics
    finally:
        _stop(proc)
    events = [e["event"] for e in reg.deployment_history("m")]
    assert events[:3] == ["deploy", "split", "shadow"] and events[-1] == "stop"


def test_cli_monitor_from_an_attachment_puts_drift_on_metrics(tmp_path):
    reg = Registry(str(tmp_path / "reg"))
    reg.register("m", linear([1.0, 2.0, 3.0]))
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(0).normal(size=(300, 3)))
    reg.attach("m/1", "reference.npy", buf.getvalue())
    proc, _, url = _start(tmp_path, "m", "--monitor", "reference.npy")
    try:
        shifted = np.random.default_rng(1).normal(loc=4.0, size=(200, 3))
        _post(url, "/invocations", {"inputs": shifted.tolist()})
        metrics = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    finally:
        _stop(proc)
    assert 'modelmgmt_feature_drifted{feature="x0",test="ks"} 1' in metrics


@pytest.mark.parametrize("args, match", [
    (["m", "--canary", "m/2"], "REF:WEIGHT"),
    (["m", "--canary", "m/2:1.5"], "0 < WEIGHT < 1"),
    (["m", "--workers", "0"], "workers"),
    (["m", "--monitor", "missing.npy"], "missing.npy"),
])
def test_cli_serve_bad_options_fail_cleanly(tmp_path, args, match):
    Registry(str(tmp_path / "reg")).register("m", linear([1.0]))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-m", "modelmgmt", "--registry", str(tmp_path / "reg"), "serve", *args,
                          "--port", "0"], capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode != 0 and match in res.stderr, res.stderr


def test_cli_serve_workers(tmp_path):
    reg = Registry(str(tmp_path / "reg"))
    reg.register("m", linear([1.0, 2.0, 3.0]))
    proc, line, url = _start(tmp_path, "m", "--workers", "2")
    try:
        assert "2 workers" in line
        assert _post(url, "/invocations", {"inputs": [[1, 1, 1]]}) == ("m/1", {"predictions": [6.0]})
    finally:
        _stop(proc)
