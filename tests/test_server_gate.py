"""The server's gate: one request thread at a time in CPU-bound work, never in blocking I/O.

Without it, a thread per connection lets many runnable threads fight over the GIL and
throughput falls as clients are added (figures in docs/performance.md); with it, a client
that stalls mid-body or a request waiting in the batcher must not hold the others up."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request

import numpy as np
import pytest
from _deploy_fakes import linear

import modelmgmt as mm
from modelmgmt._threads import Gate


def _post(url, body):
    req = urllib.request.Request(url + "/invocations", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_step_out_releases_only_a_gate_this_thread_holds():
    gate = Gate()
    with Gate.step_out():  # holding nothing: a no-op
        pass
    gate.enter()
    got = []
    other = threading.Thread(target=lambda: (gate.enter(), got.append("in"), gate.leave()))
    other.start()
    time.sleep(0.05)
    assert got == []  # held: the other thread waits
    with Gate.step_out():
        other.join(timeout=5)
        assert got == ["in"]  # stepped out: it went through
    assert not gate._lock.acquire(blocking=False)  # and this thread holds it again
    gate.leave()
    assert gate._lock.acquire(blocking=False)
    gate._lock.release()


@pytest.mark.parametrize("batching", [False, True])
def test_a_client_stalling_mid_body_does_not_hold_up_the_others(batching):
    reg = mm.Registry("memory://gate-stall")
    reg.register("m", linear([1.0, 2.0, 3.0]))
    options = {"max_batch_size": 8, "max_batch_delay_ms": 5} if batching else {}
    with mm.deploy("m", registry=reg, target="http", read_timeout=3.0, **options) as dep:
        host, port = dep.url.split("//")[1].split(":")
        stalled = socket.create_connection((host, int(port)))
        stalled.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 100\r\n\r\n{\"inputs\": [[1,")  # 15 of 100 bytes, then nothing
        time.sleep(0.1)
        t0 = time.perf_counter()
        answers = [_post(dep.url, {"inputs": [[1, 1, 1]]}) for _ in range(20)]
        took = time.perf_counter() - t0
        assert answers == [{"predictions": [6.0]}] * 20
        assert took < 2.0  # far under the 3 s the stalled body may take before its 408
        stalled.settimeout(10)
        assert stalled.recv(1000).startswith(b"HTTP/1.1 408")  # and the staller still gets its answer
        stalled.close()


def test_batched_requests_step_out_of_the_gate_while_they_wait():
    """Concurrent requests through a batcher share calls: a waiting request let the others in."""
    reg = mm.Registry("memory://gate-batch")
    reg.register("m", linear([1.0, 2.0, 3.0]))
    with mm.deploy("m", registry=reg, target="http", max_batch_size=16, max_batch_delay_ms=50) as dep:
        rows = np.arange(24.0).reshape(8, 3)
        out = {}
        threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, _post(dep.url, {"inputs": [rows[i].tolist()]})))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        stats = dep.status()["batching"]
    assert [out[i]["predictions"][0] for i in range(8)] == list(rows @ [1.0, 2.0, 3.0])
    assert stats["requests"] == 8 and stats["batches"] < 8  # some of them shared a call
