"""OIP v2 over gRPC with ``workers=N``: every worker process listens on the same gRPC port
(SO_REUSEPORT), answers with the same token, limits and versions, and its RPCs are summed on
the merged /metrics. Real processes, real sockets, the real tritonclient gRPC client, each
call on a fresh channel (a new TCP connection, so the kernel may pick another process)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import grpc
import numpy as np
import psutil
import pytest
import tritonclient.grpc as tg
from _deploy_fakes import linear
from prometheus_client.parser import text_string_to_metric_families
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

import modelmgmt as mm

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="worker processes share the gRPC port with SO_REUSEPORT")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
W1, W2 = [1.0, 2.0, 3.0], [-1.0, 0.0, 1.0]
X = np.array([[0.1, 0.2, 0.3], [3.0, -1.0, 0.5]])
TOKEN = "s3cret"
AUTH = {"authorization": f"Bearer {TOKEN}"}
#: a channel of its own: grpc shares connections between a process's channels by default
FRESH = [("grpc.use_local_subchannel_pool", 1)]


@pytest.fixture
def reg(tmp_path):
    r = mm.Registry(str(tmp_path / "reg"))  # a folder: the worker processes open it too
    r.register("m", linear(W1, b=0.5))
    r.register("m", linear(W2))
    return r


def _infer(address, X, headers=None, model="m"):
    """One ModelInfer on a fresh channel, through tritonclient's client."""
    c = tg.InferenceServerClient(address, channel_args=FRESH)
    try:
        inp = tg.InferInput("input-0", list(X.shape), "FP64")
        inp.set_data_from_numpy(X)
        return c.infer(model, [inp], headers=headers)
    finally:
        c.close()


def _refused(*args, **kwargs) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as info:
        _infer(*args, **kwargs)
    return info.value


def _version(address):
    """(model_version, x-model-version metadata) of one ModelInfer on a fresh channel, through
    tritonclient's generated stub (its client hides the response metadata)."""
    req = service_pb2.ModelInferRequest(model_name="m")
    req.inputs.add(name="input-0", datatype="FP64", shape=list(X.shape))
    req.raw_input_contents.append(X.tobytes())
    with grpc.insecure_channel(address, options=FRESH) as channel:
        resp, call = service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer.with_call(req, timeout=30)
    return resp.model_version, dict(call.initial_metadata())["x-model-version"]


def _grpc_metrics(url, headers=None):
    """{(method, code): count} of modelmgmt_grpc_requests_total on a scrape of /metrics."""
    with urllib.request.urlopen(urllib.request.Request(f"{url}/metrics", headers=headers or {}), timeout=30) as r:
        fams = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
    fam = fams.get("modelmgmt_grpc_requests")
    return {} if fam is None else {(s.labels["endpoint"], s.labels["code"]): s.value
                                   for s in fam.samples if s.name == "modelmgmt_grpc_requests_total"}


def _listens(pid, port):
    """Whether process ``pid`` has a TCP socket listening on ``port``."""
    proc = psutil.Process(pid)
    conns = proc.net_connections(kind="tcp") if hasattr(proc, "net_connections") else proc.connections(kind="tcp")
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns)


def _port(address):
    return int(address.rsplit(":", 1)[1])


def test_every_worker_answers_grpc_with_the_same_token_and_limits_and_metrics_sum_them(reg):
    n = 45
    rows = [X + i for i in range(n)]
    model = reg.load("m/1")
    with mm.deploy("m/1", registry=reg, target="http", workers=3, grpc_port=0, token=TOKEN,
                   max_body_bytes=4000) as dep:
        address = dep.grpc_address
        assert address.startswith("127.0.0.1:") and _port(address) != 0
        for i in range(n):
            r = _infer(address, rows[i], headers=AUTH)
            np.testing.assert_array_equal(r.as_numpy("predict"), model.predict(rows[i]))
            assert r.get_response().model_version == "1"
        # every process refuses what one process refuses: no token, a message over max_body_bytes
        for _ in range(6):
            err = _refused(address, X)
            assert err.status() == "StatusCode.UNAUTHENTICATED" and "bearer token" in err.message()
        for _ in range(6):
            err = _refused(address, np.zeros((200, 3)), headers=AUTH)
            assert err.status() == "StatusCode.RESOURCE_EXHAUSTED"

        st = dep.status()  # collects every worker's counters now, and publishes /metrics
        workers = st["workers"]
        pids = [w["pid"] for w in workers]
        assert len(set(pids)) == 3 and pids[0] == os.getpid()
        assert all(_listens(pid, _port(address)) for pid in pids)  # one port, three listeners
        own = [w["grpc"]["endpoints"].get("ModelInfer", {}).get("requests", 0) for w in workers]
        assert sum(own) == n + 6  # the refused-for-auth ones too (RESOURCE_EXHAUSTED never reaches a handler)
        assert sum(c > 0 for c in own) >= 2, own  # several processes answered
        assert st["grpc"]["endpoints"]["ModelInfer"]["requests"] == n + 6
        assert st["predictions"] == n and sum(w["predictions"] for w in workers) == n
        counts = _grpc_metrics(dep.url, AUTH)  # whichever process answers the scrape: the sums
        assert counts[("ModelInfer", "OK")] == n and counts[("ModelInfer", "UNAUTHENTICATED")] == 6
        assert _grpc_metrics(dep.url, AUTH) == counts
        assert dep.grpc_address == address


def test_a_followed_alias_move_and_update_are_seen_over_grpc_by_every_worker(reg):
    reg.set_alias("m", "prod", 1)
    with mm.deploy("m@prod", registry=reg, target="http", workers=3, grpc_port=0, follow=0.05) as dep:
        address = dep.grpc_address
        assert {_version(address) for _ in range(12)} == {("1", "m/1")}
        reg.set_alias("m", "prod", 2)  # the parent's follower swaps every worker, then itself
        deadline = time.monotonic() + 15
        while dep.version.version != 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert {_version(address) for _ in range(15)} == {("2", "m/2")}
        np.testing.assert_array_equal(_infer(address, X).as_numpy("predict"), reg.load("m/2").predict(X))
        dep.update("m/1")
        assert {_version(address) for _ in range(15)} == {("1", "m/1")}
        per_worker = [w["grpc"]["endpoints"]["ModelInfer"]["requests"] for w in dep.status()["workers"]]
        assert sum(per_worker) == 43 and sum(c > 0 for c in per_worker) >= 2, per_worker
    assert [e["event"] for e in reg.deployment_history("m")] == ["deploy", "follow", "update", "stop"]


def test_cli_serve_workers_and_grpc_port(reg, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "modelmgmt", "--registry", str(tmp_path / "reg"), "serve", "m/2",
                             "--port", "0", "--grpc-port", "0", "--workers", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving m/2 at http://127.0.0.1:") and ", 3 workers, gRPC at 127.0.0.1:" in line, \
            (line, proc.stderr.read() if proc.poll() is not None else "")
        url = line.split(" at ", 1)[1].split(",")[0]
        address = line.split(", gRPC at ", 1)[1].split()[0]
        children = psutil.Process(proc.pid).children()
        assert len(children) == 2 and all(_listens(p, _port(address)) for p in [proc.pid, *(c.pid for c in children)])
        model = reg.load("m/2")
        for i in range(20):
            np.testing.assert_array_equal(_infer(address, X + i).as_numpy("predict"), model.predict(X + i))
        deadline = time.monotonic() + 10  # /metrics: summed over the processes, about a second behind
        while _grpc_metrics(url).get(("ModelInfer", "OK")) != 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _grpc_metrics(url)[("ModelInfer", "OK")] == 20
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - the failure we test for
            proc.kill()
            raise
    assert rc == 0
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)


_OTHER_SERVER = """
import sys, time, grpc
from concurrent.futures import ThreadPoolExecutor
server = grpc.server(ThreadPoolExecutor(1))  # grpcio's defaults: SO_REUSEPORT on Linux
print(server.add_insecure_port("127.0.0.1:0"), flush=True)
server.start()
sys.stdin.read()
"""


def test_a_grpc_port_another_server_listens_on_is_refused_and_no_worker_starts(reg, monkeypatch):
    # another process's gRPC server, which listens with SO_REUSEPORT itself: without a check
    # the workers would join it and share its connections
    other = subprocess.Popen([sys.executable, "-c", _OTHER_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        port = int(other.stdout.readline())
        before = psutil.Process().children()
        with pytest.raises(mm.ModelmgmtError, match=f"cannot listen for gRPC on 127.0.0.1:{port}: "):
            mm.deploy("m", registry=reg, target="http", workers=3, grpc_port=port)
        assert psutil.Process().children() == before  # refused before any worker started
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the other server still listens
        # the good case next to it: a free port works
        with mm.deploy("m", registry=reg, target="http", workers=2, grpc_port=0) as dep:
            assert _port(dep.grpc_address) != port
            np.testing.assert_array_equal(_infer(dep.grpc_address, X).as_numpy("predict"), reg.load("m").predict(X))
    finally:
        other.stdin.close()
        other.wait(timeout=15)
    # where the OS has no SO_REUSEPORT, gRPC with workers > 1 is refused before anything starts
    monkeypatch.delattr(socket, "SO_REUSEPORT")
    with pytest.raises(mm.InvalidArgumentError, match="grpc_port with workers > 1 needs SO_REUSEPORT"):
        mm.deploy("m", registry=reg, target="http", workers=2, grpc_port=0)
    with pytest.raises(mm.InvalidArgumentError, match=r"grpc_port must be None or an int in 0\.\.65535"):
        mm.deploy("m", registry=reg, target="http", workers=2, grpc_port=70000)
