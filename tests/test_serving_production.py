"""Serving for production over real sockets: several models on one port, follow, batching,
canary split, shadow traffic and worker processes sharing memory-mapped weights."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import warnings

import numpy as np
import pytest
from _deploy_fakes import linear, softmax

import modelmgmt as mm
from modelmgmt.deployment.served import ROW_ALIGN

W1 = np.array([1.0, 2.0, 3.0])
W2 = np.array([0.0, -1.0, 1.0])


def post(url, path, body, headers=None):
    """One request on a fresh connection: (status, X-Model-Version, parsed body)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json", **(headers or {})})
        r = conn.getresponse()
        data = r.read()
        return r.status, r.getheader("X-Model-Version"), json.loads(data) if data else None
    finally:
        conn.close()


def get(url, path):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@pytest.fixture
def reg(tmp_path):
    """A file:// registry: linear "m" v1 (W1) and v2 (W2, b=5), alias prod -> 1, classifier "clf"."""
    r = mm.Registry(str(tmp_path / "reg"))
    r.register("m", linear(W1))
    r.register("m", linear(W2, b=5.0))
    r.register("clf", softmax(np.arange(12.0).reshape(3, 4) / 10 - 0.5))
    r.set_alias("m", "prod", 1)
    return r


def expect(version, X):
    X = np.asarray(X, dtype=float)
    return (X @ W1).tolist() if version == 1 else (X @ W2 + 5).tolist()


# --- several models on one port -------------------------------------------------------------

def test_several_models_on_one_port(reg):
    with mm.deploy(["m@prod", "clf"], registry=reg, target="http") as dep:
        assert list(dep.models) == ["m", "clf"] and dep.models["clf"].url == dep.url
        status, version, body = post(dep.url, "/v2/models/clf/infer",
                                     {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]})
        assert status == 200 and version == "clf/1" and body["model_name"] == "clf"
        assert post(dep.url, "/invocations?model=m", {"inputs": [[1, 1, 1]]})[1:] == ("m/1", {"predictions": [6.0]})
        assert post(dep.url, "/invocations?model=clf", {"inputs": [[1, 1, 1]]})[1] == "clf/1"
        status, _, err = post(dep.url, "/invocations", {"inputs": [[1, 1, 1]]})
        assert status == 400 and "model=NAME" in err["message"] and "clf" in err["message"]
        status, _, err = post(dep.url, "/invocations?model=nope", {"inputs": [[1, 1, 1]]})
        assert status == 404 and "'m'" in err["message"]
        status, _, index = post(dep.url, "/v2/repository/index", {})
        assert status == 200
        assert [(e["name"], e["version"], e["state"]) for e in index] == [("m", "1", "READY"), ("clf", "1", "READY")]
        # each model swaps on its own
        dep.models["clf"].update("clf/1")
        dep.update("m/2")
        assert post(dep.url, "/invocations?model=m", {"inputs": [[1, 1, 1]]})[1] == "m/2"
        assert dep.status()["models"]["clf"]["version"] == 1
    assert [e["event"] for e in reg.deployment_history("clf")] == ["deploy", "update", "stop"]


def test_two_refs_of_one_model_are_refused(reg):
    with pytest.raises(mm.InvalidArgumentError, match="two refs name the model 'm'"):
        mm.deploy(["m/1", "m/2"], registry=reg, target="http")


def test_inprocess_target_refuses_several_refs(reg):
    with pytest.raises(mm.InvalidArgumentError, match="target 'http' only"):
        mm.deploy(["m/1", "clf"], registry=reg)


def test_listen_backlog_is_at_least_128(reg):
    with mm.deploy("m/1", registry=reg, target="http") as dep:
        out = subprocess.run(["ss", "-ltnH", f"sport = :{dep.port}"], capture_output=True, text=True)
        if out.returncode != 0 or not out.stdout.strip():
            pytest.skip("ss cannot list listening sockets here")
        send_q = int(out.stdout.split()[2])  # for a listening socket: its backlog
        assert send_q >= 128


# --- follow ------------------------------------------------------------------------------------

def test_follow_swaps_when_the_alias_moves_with_zero_failed_requests(reg):
    X = [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]
    failures, seen = [], set()
    stop = threading.Event()
    with mm.deploy("m@prod", registry=reg, target="http", follow=0.02) as dep:
        def client():
            while not stop.is_set():
                try:
                    status, version, body = post(dep.url, "/invocations", {"inputs": X})
                    if status != 200:
                        failures.append((status, body))
                        continue
                    v = int(version.split("/")[1])
                    seen.add(v)
                    if body["predictions"] != expect(v, X):
                        failures.append(("wrong answer", version, body))
                except Exception as exc:  # a refused or reset connection is a failed request
                    failures.append(exc)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for i in range(6):
                target = 2 if i % 2 == 0 else 1
                reg.set_alias("m", "prod", target)
                deadline = time.monotonic() + 30
                while dep.version.version != target and time.monotonic() < deadline:
                    time.sleep(0.01)
                assert dep.version.version == target
        finally:
            stop.set()
            for t in threads:
                t.join()
    assert not failures, failures[:3]
    assert seen == {1, 2}
    events = reg.deployment_history("m")
    follows = [e for e in events if e["event"] == "follow"]
    assert [e["version"] for e in follows] == [2, 1, 2, 1, 2, 1]
    assert all({"event", "version", "time"} <= set(e) for e in events)


def test_follow_latest_but_not_a_pinned_version(reg):
    with mm.deploy("m", registry=reg, target="http", follow=0.02) as latest, \
            mm.deploy("m/2", registry=reg, target="http", follow=0.02, name="pinned") as pinned:
        assert latest.version.version == 2
        reg.register("m", linear(W1, b=1.0))
        deadline = time.monotonic() + 30
        while latest.version.version != 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert latest.version.version == 3
        assert pinned.follow_check() is None and pinned.version.version == 2


def test_follow_must_be_positive(reg):
    with pytest.raises(mm.InvalidArgumentError, match="follow"):
        mm.deploy("m@prod", registry=reg, target="http", follow=0)


def test_every_inference_response_names_the_version(reg):
    with mm.deploy("clf", registry=reg, target="http") as dep:
        body = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}
        assert post(dep.url, "/v2/models/clf/infer", body)[1] == "clf/1"
        assert post(dep.url, "/v2/models/clf/versions/1/infer", body)[1] == "clf/1"
        assert post(dep.url, "/invocations", {"inputs": [[1, 2, 3]]})[1] == "clf/1"
        # refused requests say which version refused them
        assert post(dep.url, "/invocations", {"inputs": [[1, 2]]})[:2] == (422, "clf/1")
        bad = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]}
        assert post(dep.url, "/v2/models/clf/infer", bad)[:2] == (422, "clf/1")


# --- batching ----------------------------------------------------------------------------------

def _mlp(seed=0, hidden=(64, 64)):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 12))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    model = mm.models.MLP(hidden=hidden)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs are enough for a model to serve
        model.fit(X, y, epochs=2, seed=seed)
    return model


def test_batching_is_bit_identical_to_requests_served_alone(tmp_path):
    reg = mm.Registry(str(tmp_path / "r"))
    reg.register("mlp", _mlp())
    rng = np.random.default_rng(1)
    requests = [rng.normal(size=(int(rng.integers(1, 6)), 12)) for _ in range(64)]
    with mm.deploy("mlp", registry=reg, target="http", max_batch_size=32, max_batch_delay_ms=20) as dep:
        served = dep.served()
        alone = [served.compute_aligned(X, ("predict", "predict_proba")) for X in requests]
        results: dict[int, dict] = {}

        def client(ids):
            for i in ids:
                body = {"inputs": [{"name": "x", "shape": list(requests[i].shape), "datatype": "FP64",
                                    "data": requests[i].ravel().tolist()}],
                        "parameters": {"binary_data_output": False}}
                status, _, resp = post(dep.url, "/v2/models/mlp/infer", body)
                assert status == 200, resp
                results[i] = {o["name"]: np.reshape(o["data"], o["shape"]) for o in resp["outputs"]}

        threads = [threading.Thread(target=client, args=(range(k, 64, 16),)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = dep.status()["batching"]
    assert stats["requests"] == 64 and stats["batches"] < 64  # some requests shared a call
    for i, want in enumerate(alone):
        np.testing.assert_array_equal(results[i]["predict"], want["predict"])
        np.testing.assert_array_equal(results[i]["predict_proba"], want["predict_proba"])  # bit for bit
    # and requests whose rows fill whole blocks equal the plain model's answer
    X = rng.normal(size=(ROW_ALIGN * 2, 12))
    np.testing.assert_array_equal(served.compute_aligned(X, ("predict_proba",))["predict_proba"],
                                  served.model.predict_proba(X))


def test_batched_requests_equal_an_unbatched_deployment_in_process(tmp_path):
    reg = mm.Registry(str(tmp_path / "r"))
    reg.register("mlp", _mlp(seed=3))
    X = np.random.default_rng(2).normal(size=(7, 12))
    with mm.deploy("mlp", registry=reg, max_batch_size=64, max_batch_delay_ms=1) as batched:
        got = [batched.predict_proba(X[i:i + 1]) for i in range(7)]
        np.testing.assert_array_equal(np.concatenate(got), batched.predict_proba(X))


def test_one_bad_request_in_a_batch_fails_alone(tmp_path):
    reg = mm.Registry(str(tmp_path / "r"))
    reg.register("m", linear(W1))
    with mm.deploy("m", registry=reg, target="http", max_batch_size=64, max_batch_delay_ms=50) as dep:
        out = {}

        def client(i):
            X = [[np.nan, 1, 1]] if i == 3 else [[i, 1, 1]]
            out[i] = post(dep.url, "/invocations", {"inputs": X} if i != 3 else {"inputs": [[None, 1, 1]]})

        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert out[3][0] == 422
    for i in set(range(8)) - {3}:
        assert out[i][0] == 200 and out[i][2]["predictions"] == [i + 5.0]


@pytest.mark.parametrize("kw, match", [({"max_batch_size": 0}, "max_batch_size"),
                                       ({"max_batch_delay_ms": -1.0}, "max_batch_delay_ms"),
                                       ({"max_batch_size": 2.5}, "max_batch_size")])
def test_batching_options_are_checked(reg, kw, match):
    with pytest.raises(mm.InvalidArgumentError, match=match):
        mm.deploy("m/1", registry=reg, target="http", **kw)


# --- canary split and shadow ------------------------------------------------------------------

def test_canary_split_routes_whole_requests_and_counts_them(reg):
    X = [[1.0, 1.0, 1.0], [2.0, 0.0, 1.0]]
    with mm.deploy("m/1", registry=reg, target="http") as dep:
        weights = dep.split({"m/1": 0.7, "m/2": 0.3})
        assert weights == pytest.approx({"m/1": 0.7, "m/2": 0.3})
        seen = {"m/1": 0, "m/2": 0}
        for _ in range(120):
            status, version, body = post(dep.url, "/invocations", {"inputs": X})
            assert status == 200
            seen[version] += 1
            assert body["predictions"] == expect(int(version[-1]), X)  # both rows from one version
        assert dep.status()["split"] == seen
        assert seen["m/1"] > 0 and seen["m/2"] > 0
        assert [e["event"] for e in reg.deployment_history("m")][-1] == "split"
        dep.split(None)
        assert dep.status()["split"] is None
        assert all(post(dep.url, "/invocations", {"inputs": X})[1] == "m/1" for _ in range(10))


@pytest.mark.parametrize("weights, match", [
    ({"m/1": -0.5, "m/2": 1.0}, "split weight"),
    ({"m/1": 0.0, "m/2": 0.0}, "more than 0"),
    ({"m/1": 0.5, "clf/1": 0.5}, "names model 'clf'"),
    ({"m/1": "half"}, "split weight"),
    ([("m/1", 1.0)], "dict"),
])
def test_canary_split_bad_weights(reg, weights, match):
    with mm.deploy("m/1", registry=reg) as dep:
        with pytest.raises(mm.InvalidArgumentError, match=match):
            dep.split(weights)
        assert dep.status()["split"] is None


def test_split_unknown_version_is_not_found(reg):
    with mm.deploy("m/1", registry=reg) as dep:
        with pytest.raises(mm.NotFoundError):
            dep.split({"m/1": 0.5, "m/9": 0.5})


def test_shadow_compares_off_the_response_path(reg):
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(3, 3)).round(0) for _ in range(30)]
    with mm.deploy("m/1", registry=reg, target="http") as dep:
        v = dep.shadow("m/2")
        assert (v.name, v.version) == ("m", 2)
        for X in batches:
            status, version, body = post(dep.url, "/invocations", {"inputs": X.tolist()})
            assert status == 200 and version == "m/1" and body["predictions"] == expect(1, X)
        dep._shadow.drain()
        sh = dep.status()["shadow"]
    p1 = np.concatenate([X @ W1 for X in batches])
    p2 = np.concatenate([X @ W2 + 5 for X in batches])
    assert sh["version"] == "m/2" and sh["requests"] == 30 and sh["errors"] == 0
    assert sh["agreement"] == pytest.approx(np.mean(p1 == p2))
    assert sh["mean_abs_diff"] == pytest.approx(np.mean(np.abs(p1 - p2)))


def test_a_failing_shadow_never_fails_the_caller(reg):
    reg.register("m", linear([1.0, 2.0]))  # m/3 takes 2 features: every shadow call fails
    with mm.deploy("m/1", registry=reg, target="http") as dep:
        dep.shadow("m/3")
        for _ in range(5):
            assert post(dep.url, "/invocations", {"inputs": [[1, 1, 1]]})[0] == 200
        dep._shadow.drain()
        sh = dep.status()["shadow"]
        assert sh["requests"] == 5 and sh["errors"] == 5 and sh["agreement"] is None
        dep.shadow(None)
        assert dep.status()["shadow"] is None


# --- worker processes --------------------------------------------------------------------------

def _fresh(url, n, body):
    """n requests, each on a new connection (SO_REUSEPORT spreads connections over workers)."""
    return [post(url, "/invocations", body) for _ in range(n)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/PID/maps")
def test_workers_share_one_port_and_memory_mapped_weights(reg):
    with mm.deploy("m@prod", registry=reg, target="http", workers=2, follow=0.05) as dep:
        answers = _fresh(dep.url, 40, {"inputs": [[1, 1, 1]]})
        assert all(a[:2] == (200, "m/1") and a[2] == {"predictions": [6.0]} for a in answers)
        workers = dep.status()["workers"]  # this process is worker 0
        assert len({w["pid"] for w in workers}) == 2 and workers[0]["pid"] == os.getpid()
        assert sum(w["predictions"] for w in workers) == 40
        assert all(w["predictions"] > 0 for w in workers)  # 2**-39 chance that one got nothing
        # every worker maps the version's weight blob from the registry instead of copying it
        blob = reg.get("m/1").tensors["W"]["sha256"]
        for w in workers:
            with open(f"/proc/{w['pid']}/maps") as f:
                assert blob in f.read()
        # update, rollback and follow reach every worker
        dep.update("m/2")
        assert {a[1] for a in _fresh(dep.url, 12, {"inputs": [[1, 1, 1]]})} == {"m/2"}
        dep.rollback()  # an operator's update or rollback pins the version: following stops
        assert {a[1] for a in _fresh(dep.url, 12, {"inputs": [[1, 1, 1]]})} == {"m/1"}
        assert dep.ref == "m/1"
        dep.update("m@prod")  # follow the alias again
        reg.set_alias("m", "prod", 2)
        deadline = time.monotonic() + 30
        while dep.version.version != 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert {a[1] for a in _fresh(dep.url, 12, {"inputs": [[1, 1, 1]]})} == {"m/2"}
        pids = [w["pid"] for w in workers[1:]]
    for pid in pids:  # the worker processes stopped with the deployment
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert [e["event"] for e in reg.deployment_history("m")].count("follow") == 1


def test_a_second_server_cannot_join_a_workers_port(reg):
    with mm.deploy("m", registry=reg, target="http", workers=2) as dep:
        with pytest.raises(mm.ModelmgmtError, match="cannot listen"):
            mm.deploy("m", registry=reg, target="http", workers=2, port=dep.port)
        with pytest.raises(mm.ModelmgmtError, match="cannot listen"):
            mm.deploy("m", registry=reg, target="http", port=dep.port)
        assert post(dep.url, "/invocations", {"inputs": [[1, 1, 1]]})[0] == 200


def test_workers_restart_on_the_same_port_at_once(reg):
    """Stopping closes the keep-alive connections from the server side, which leaves them in
    TIME_WAIT on the port; a restart right away must still get the port (a listening server
    there is still refused, above)."""
    with mm.deploy("m", registry=reg, target="http", workers=2) as dep:
        port = dep.port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/invocations", body=json.dumps({"inputs": [[1, 1, 1]]}),
                     headers={"Content-Type": "application/json"})
        assert conn.getresponse().read()
    with mm.deploy("m", registry=reg, target="http", workers=2, port=port) as again:
        assert post(again.url, "/invocations", {"inputs": [[1, 1, 1]]})[0] == 200
    conn.close()


def test_workers_need_a_registry_other_processes_can_open():
    reg = mm.Registry("memory://workers-test")
    reg.register("m", linear(W1))
    with pytest.raises(mm.InvalidArgumentError, match="other processes can open"):
        mm.deploy("m", registry=reg, target="http", workers=2)


def test_workers_split_and_shadow_in_every_worker(reg):
    with mm.deploy("m/1", registry=reg, target="http", workers=2) as dep:
        dep.split({"m/1": 0.5, "m/2": 0.5})
        versions = {a[1] for a in _fresh(dep.url, 30, {"inputs": [[1, 1, 1]]})}
        assert versions == {"m/1", "m/2"}
        assert sum(dep.status()["split"].values()) == 30
        dep.shadow("m/2")
        _fresh(dep.url, 6, {"inputs": [[1, 1, 1]]})


class _BatchSizeDependent:
    """A model whose answer for a row depends on how many rows share the call (what BLAS
    kernels picked by row count can do to float32 arithmetic), made explicit."""

    input_signature = {"n_features": 3, "dtype": "float64"}

    def predict(self, X):
        time.sleep(0.02)  # slow enough that concurrent requests queue behind a running call
        return X.sum(axis=1) + 1e-9 * len(X)


def _served(model):
    from modelmgmt.deployment.served import ServedVersion

    return ServedVersion.of(type("V", (), {"name": "m", "version": 1})(), model)


def test_a_version_whose_rows_depend_on_their_batch_is_run_alone():
    from modelmgmt.deployment.batching import Batcher

    served = _served(_BatchSizeDependent())
    assert served.batch_stable() is False
    batcher = Batcher(max_batch_size=32, max_batch_delay_ms=50)
    rng = np.random.default_rng(0)
    requests = [rng.normal(size=(1, 3)) for _ in range(12)]
    results = {}
    with pytest.warns(mm.errors.BatchingWarning, match="batching is off for m/1"):
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(
            i, batcher.submit(served, requests[i], ("predict",)))) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    stats = batcher.stats()
    batcher.stop()
    assert stats["unbatched_versions"] == ["m/1"] and stats["batches"] < 12  # they queued together
    for i, X in enumerate(requests):  # and each still got its lone answer, bit for bit
        np.testing.assert_array_equal(results[i]["predict"], served.compute_aligned(X, ("predict",))["predict"])


def test_batch_stability_probe_of_real_models():
    assert _served(_mlp()).batch_stable() is True  # float64 built-in models batch exactly
    strings = _served(type("S", (), {"input_signature": {"n_features": 2, "dtype": "object"},
                                     "predict": lambda self, X: np.zeros(len(X))})())
    assert strings.batch_stable() is None  # cannot be probed with random rows: batched as before
