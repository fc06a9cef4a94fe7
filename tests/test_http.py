"""HTTP deployment over real sockets: every endpoint, every error code, hot swap under load."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse

import numpy as np
import pytest
from _deploy_fakes import SlowRegistry, linear, memory_registry, softmax

import modelmgmt as mm
from modelmgmt.testing import DeployerContract

W1 = np.array([1.0, 2.0, 3.0])
W2 = np.array([0.0, -1.0, 1.0])


def fake_registry():
    """A real memory:// registry: linear "m" (2 versions of known weights) and a classifier."""
    reg = memory_registry(SlowRegistry)
    reg.register("m", linear(W1))
    reg.register("m", linear(W2, b=5.0))
    reg.register("clf", softmax(np.arange(12.0).reshape(3, 4) / 10 - 0.5))
    return reg


class TestHTTPContract(DeployerContract):
    target = "http"


class Client:
    """One keep-alive connection to a deployment."""

    def __init__(self, url, token=None):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.token = token

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        if r.getheader("Content-Type", "").startswith("application/json"):
            data = json.loads(data)
        return r.status, r, data

    def close(self):
        self.conn.close()


@pytest.fixture
def served():
    reg = fake_registry()
    dep = mm.deploy("m/1", registry=reg, target="http")
    client = Client(dep.url)
    yield reg, dep, client
    client.close()
    dep.stop()


def message(err):
    """The error text of an OIP v2 ({"error"}) or MLflow ({"error_code", "message"}) error body."""
    return err.get("error") or err.get("message")


def infer_body(X, datatype="FP64", nested=False, **extra):
    X = np.asarray(X)
    data = X.tolist() if nested else X.ravel().tolist()
    return {"inputs": [{"name": "input-0", "shape": list(X.shape), "datatype": datatype, "data": data}], **extra}


def test_url_has_the_real_port(served):
    _, dep, _ = served
    port = int(dep.url.rsplit(":", 1)[1])
    assert port > 0 and dep.url == f"http://127.0.0.1:{port}"
    assert dep.status()["url"] == dep.url


def test_health_and_server_metadata(served):
    _, _, c = served
    assert c.request("GET", "/v2/health/live")[::2] == (200, {"live": True})
    assert c.request("GET", "/v2/health/ready")[::2] == (200, {"ready": True})
    status, _, meta = c.request("GET", "/v2")
    assert status == 200 and meta["name"] == "modelmgmt" and meta["version"] == mm.__version__


def test_model_metadata_and_ready(served):
    _, _, c = served
    status, _, meta = c.request("GET", "/v2/models/m")
    assert status == 200
    assert meta["name"] == "m" and meta["versions"] == ["1"] and meta["platform"] == "modelmgmt"
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 3]}]
    assert meta["outputs"][0]["name"] == "predict"
    assert c.request("GET", "/v2/models/m/ready")[::2] == (200, {"name": "m", "ready": True})
    assert c.request("GET", "/v2/models/m/versions/1/ready")[0] == 200
    assert c.request("GET", "/v2/models/m/versions/1")[0] == 200
    status, _, err = c.request("GET", "/v2/models/m/versions/7/ready")
    assert status == 404 and "serving version 1" in err["error"]


@pytest.mark.parametrize("datatype", ["FP64", "FP32", "INT64", "INT32"])
@pytest.mark.parametrize("nested", [False, True])
def test_infer_named_tensor(served, datatype, nested):
    _, _, c = served
    X = np.array([[1, 2, 3], [4, 5, 6]])
    status, r, body = c.request("POST", "/v2/models/m/infer", infer_body(X, datatype, nested, id="req-7"))
    assert status == 200, body
    assert body["model_name"] == "m" and body["model_version"] == "1" and body["id"] == "req-7"
    (out,) = body["outputs"]
    assert out["name"] == "predict" and out["shape"] == [2] and out["datatype"] == "FP64"
    np.testing.assert_allclose(out["data"], X @ W1)
    assert r.getheader("X-Model-Version") == "m/1"


def test_infer_versioned_path(served):
    _, _, c = served
    assert c.request("POST", "/v2/models/m/versions/1/infer", infer_body([[1, 1, 1]]))[0] == 200
    status, _, err = c.request("POST", "/v2/models/m/versions/2/infer", infer_body([[1, 1, 1]]))
    assert status == 404 and "version '2'" in err["error"]


def test_infer_predict_proba_for_classifiers():
    reg = fake_registry()
    model = reg.load("clf/1")
    X = np.array([[0.1, 0.2, 0.3], [3.0, -1.0, 0.5]])
    with mm.deploy("clf", registry=reg, target="http") as dep:
        c = Client(dep.url)
        for body in (
            infer_body(X, outputs=[{"name": "predict"}, {"name": "predict_proba"}]),
            infer_body(X, parameters={"predict_proba": True}),
        ):
            status, _, resp = c.request("POST", "/v2/models/clf/infer", body)
            assert status == 200, resp
            outs = {o["name"]: o for o in resp["outputs"]}
            assert outs["predict"]["datatype"] == "INT64"
            np.testing.assert_array_equal(outs["predict"]["data"], model.predict(X))
            assert outs["predict_proba"]["shape"] == [2, 4]
            np.testing.assert_allclose(np.reshape(outs["predict_proba"]["data"], (2, 4)), model.predict_proba(X))
        meta = c.request("GET", "/v2/models/clf")[2]
        assert meta["outputs"][1] == {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 4]}
        c.close()


def test_predict_proba_on_regressor_is_422(served):
    _, _, c = served
    status, _, err = c.request("POST", "/v2/models/m/infer", infer_body([[1, 1, 1]], outputs=[{"name": "predict_proba"}]))
    assert status == 422 and "predict_proba" in err["error"]


@pytest.mark.parametrize("key", ["inputs", "instances"])
def test_invocations(served, key):
    _, _, c = served
    X = [[1, 2, 3], [0.5, 0, -1]]
    status, r, body = c.request("POST", "/invocations", {key: X})
    assert status == 200
    np.testing.assert_allclose(body["predictions"], np.array(X) @ W1)
    assert r.getheader("X-Model-Version") == "m/1"


def test_invocations_dataframe_split(served):
    _, _, c = served
    status, _, body = c.request("POST", "/invocations", {"dataframe_split": {"columns": ["x0", "x1", "x2"], "data": [[1, 1, 1]]}})
    assert status == 200 and body["predictions"] == [6.0]
    # columns are matched by name, in any order
    status, _, body = c.request("POST", "/invocations", {"dataframe_split": {"columns": ["x2", "x0", "x1"], "data": [[3, 1, 2]]}})
    assert status == 200 and body["predictions"] == [14.0]


def test_invocations_other_column_names_are_positional_without_trained_names(served):
    # "m" was not trained with feature names: like MLflow without a signature, columns in order
    _, _, c = served
    status, _, body = c.request("POST", "/invocations", {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3]]}})
    assert status == 200 and body["predictions"] == [14.0]
    status, _, body = c.request("POST", "/invocations", {"dataframe_records": [{"c": 3, "b": 2, "a": 1}]})
    assert status == 200 and body["predictions"] == [3 + 4 + 3.0]  # key order: c, b, a


# --- error codes; the same keep-alive connection keeps working after each ----------------

@pytest.mark.parametrize(
    "path, body, match",
    [
        ("/invocations", b"{not json", "not valid JSON"),
        ("/invocations", b"[1, 2]", "JSON object"),
        ("/invocations", {"rows": [[1, 2, 3]]}, "'inputs'"),
        ("/invocations", {"inputs": [[1, 2, 3]], "instances": [[1, 2, 3]]}, "exactly one of"),
        ("/invocations", {"dataframe_records": [[1, 2, 3]]}, "list of objects"),
        ("/invocations", {"inputs": [[1, 2, 3], [1, 2]]}, "rectangular"),
        ("/v2/models/m/infer", b"\xff\xfe", "not valid JSON"),
        ("/v2/models/m/infer", {"inputs": []}, "exactly one tensor"),
        ("/v2/models/m/infer", {"inputs": [{"name": "x", "shape": [1, 3]}]}, "missing datatype, data"),
        ("/v2/models/m/infer", infer_body([[1, 2, 3]], "FP99"), "datatype must be one of"),
        ("/v2/models/m/infer", {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3]}]}, "shape \\[2, 3\\] needs 6"),
        ("/v2/models/m/infer", {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": ["a", "b", "c"]}]}, "cannot be read as FP32"),
        ("/v2/models/m/infer", {"inputs": [{"name": "x", "shape": "1x3", "datatype": "FP32", "data": [1, 2, 3]}]}, "shape must be a list"),
    ],
)
def test_malformed_body_is_400_and_server_keeps_serving(served, path, body, match):
    _, _, c = served
    status, _, err = c.request("POST", path, body)
    assert status == 400, err
    want = {"error_code", "message"} if path == "/invocations" else {"error"}
    assert set(err) == want and __import__("re").search(match, message(err)), err
    assert c.request("POST", "/invocations", {"inputs": [[1, 1, 1]]})[2] == {"predictions": [6.0]}


@pytest.mark.parametrize(
    "path, body, match",
    [
        ("/invocations", {"inputs": [[1, 2, 3, 4]]}, r"expected 3 features.*received 4"),
        ("/invocations", {"inputs": [1, 2, 3]}, r"expected 2-D input.*received 1-D"),
        ("/invocations", {"inputs": [["a", "b", "c"]]}, r"expected input of dtype float64.*received dtype object"),
        ("/v2/models/m/infer", infer_body(np.ones((2, 5)), "FP32"), r"expected 3 features.*received 5"),
        ("/v2/models/m/infer", {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "BYTES", "data": ["a", "b", "c"]}]}, r"expected input datatype FP64.*received BYTES"),
        ("/v2/models/m/infer", infer_body(np.ones((1, 1, 3))), r"expected 2-D input.*received 3-D"),
    ],
)
def test_wrong_features_or_dtype_is_422_naming_expected_and_received(served, path, body, match):
    _, dep, c = served
    status, _, err = c.request("POST", path, body)
    assert status == 422, err
    assert __import__("re").search(match, message(err)), err
    assert c.request("POST", "/invocations", {"inputs": [[1, 1, 1]]})[0] == 200
    assert dep.status()["http"]["errors"] >= 1


def test_unknown_model_or_path_is_404(served):
    _, _, c = served
    for method, path, body in [
        ("GET", "/v2/models/other", None),
        ("GET", "/v2/models/other/ready", None),
        ("POST", "/v2/models/other/infer", infer_body([[1, 1, 1]])),
        ("GET", "/nothing/here", None),
        ("POST", "/predict", {"inputs": [[1, 1, 1]]}),
    ]:
        status, _, err = c.request(method, path, body)
        assert status == 404, (path, err)
        assert "error" in err
        c = Client(served[1].url)  # unread bodies close the connection; reconnect
    assert c.request("GET", "/v2/health/live")[0] == 200


def test_wrong_method_is_405_with_allow(served):
    _, dep, _ = served
    for method, path, allow in [
        ("GET", "/v2/models/m/infer", "POST"),
        ("GET", "/invocations", "POST"),
        ("POST", "/metrics", "GET"),
        ("DELETE", "/v2/models/m", "GET"),
        ("PUT", "/v2/health/live", "GET"),
    ]:
        c = Client(dep.url)
        status, r, err = c.request(method, path, b"{}" if method in ("POST", "PUT") else None)
        assert status == 405 and r.getheader("Allow") == allow and method in message(err)
        c.close()


def test_body_over_limit_is_413_without_reading_it():
    reg = fake_registry()
    with mm.deploy("m/1", registry=reg, target="http", max_body_bytes=1000) as dep:
        c = Client(dep.url)
        big = {"inputs": [[1.0, 2.0, 3.0]] * 200}
        status, r, err = c.request("POST", "/invocations", big)
        assert status == 413 and "limit is 1000 bytes" in message(err)
        assert r.getheader("Connection") == "close"
        c.close()
        c = Client(dep.url)
        assert c.request("POST", "/invocations", {"inputs": [[1, 1, 1]]})[2] == {"predictions": [6.0]}
        c.close()


def test_declared_length_over_limit_rejected_before_body_arrives(served):
    _, dep, _ = served
    port = int(dep.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n{")
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 413")


def test_chunked_body_is_411(served):
    _, dep, _ = served
    port = int(dep.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 411")


def test_bearer_token_auth():
    reg = fake_registry()
    with mm.deploy("m/1", registry=reg, target="http", token="s3cret") as dep:
        anon = Client(dep.url)
        status, r, err = anon.request("POST", "/invocations", {"inputs": [[1, 1, 1]]})
        assert status == 401 and r.getheader("WWW-Authenticate").startswith("Bearer")
        assert "bearer token" in message(err)
        anon = Client(dep.url)
        assert anon.request("GET", "/metrics")[0] == 401
        assert anon.request("GET", "/v2/models/m")[0] == 401
        assert anon.request("GET", "/v2/health/live")[0] == 200  # probes stay open
        assert anon.request("GET", "/v2/health/ready")[0] == 200
        wrong = Client(dep.url, token="s3cre")
        assert wrong.request("GET", "/v2/models/m")[0] == 401
        basic = Client(dep.url)
        assert basic.request("GET", "/v2", headers={"Authorization": "Basic s3cret"})[0] == 401
        good = Client(dep.url, token="s3cret")
        assert good.request("POST", "/invocations", {"inputs": [[1, 1, 1]]})[2] == {"predictions": [6.0]}
        assert good.request("GET", "/metrics")[0] == 200
    with pytest.raises(ValueError, match="token"):
        mm.deploy("m/1", registry=reg, target="http", token="")


@pytest.mark.parametrize("opts, exc", [({"port": -1}, ValueError), ({"port": "80"}, ValueError),
                                       ({"host": 5}, TypeError), ({"max_body_bytes": 0}, ValueError)])
def test_bad_http_options(opts, exc):
    with pytest.raises(exc):
        mm.deploy("m/1", registry=fake_registry(), target="http", **opts)


def test_port_in_use_is_a_clear_error(served):
    _, dep, _ = served
    port = int(dep.url.rsplit(":", 1)[1])
    with pytest.raises(mm.ModelmgmtError, match=f"cannot listen on 127.0.0.1:{port}"):
        mm.deploy("m/1", registry=fake_registry(), target="http", port=port)


def test_metrics_prometheus_text(served):
    _, dep, c = served
    c.request("POST", "/invocations", {"inputs": [[1, 1, 1]]})
    c.request("POST", "/invocations", {"inputs": [[1, 1]]})
    c.request("POST", "/v2/models/m/infer", infer_body([[1, 1, 1]]))
    status, r, text = c.request("GET", "/metrics")
    assert status == 200 and r.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    text = text.decode()
    assert 'modelmgmt_requests_total{endpoint="invocations",code="200"} 1' in text
    assert 'modelmgmt_requests_total{endpoint="invocations",code="422"} 1' in text
    assert 'modelmgmt_request_errors_total{endpoint="invocations"} 1' in text
    assert 'modelmgmt_request_duration_seconds_bucket{endpoint="infer",le="+Inf"} 1' in text
    assert 'modelmgmt_request_duration_seconds_count{endpoint="invocations"} 2' in text
    assert 'modelmgmt_model_version{name="m",model="m"} 1' in text
    assert "# TYPE modelmgmt_request_duration_seconds histogram" in text
    dep.update("m/2")
    text = c.request("GET", "/metrics")[2].decode()
    assert 'modelmgmt_model_version{name="m",model="m"} 2' in text
    # every sample line parses as "name{labels} value"
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            float(value)


def test_metrics_appends_monitor_text():
    class Mon:
        n = 0

        def observe(self, X, y_pred=None, y_true=None):
            Mon.n += len(X)

        def to_prometheus(self):
            return f"# TYPE drift_rows_total counter\ndrift_rows_total {Mon.n}\n"

    with mm.deploy("m/1", registry=fake_registry(), target="http", monitor=Mon()) as dep:
        c = Client(dep.url)
        c.request("POST", "/invocations", {"inputs": [[1, 1, 1], [2, 2, 2]]})
        text = c.request("GET", "/metrics")[2].decode()
        assert "drift_rows_total 2" in text


def test_update_and_rollback_over_http(served):
    _, dep, c = served
    X = [[1.0, 2.0, 3.0]]
    before = c.request("POST", "/invocations", {"inputs": X})[2]["predictions"]
    dep.update("m/2")
    after = c.request("POST", "/invocations", {"inputs": X})[2]["predictions"]
    np.testing.assert_allclose(after, np.array(X) @ W2 + 5)
    assert c.request("GET", "/v2/models/m")[2]["versions"] == ["2"]
    dep.rollback()
    assert c.request("POST", "/invocations", {"inputs": X})[2]["predictions"] == before


def test_eight_clients_during_updates_zero_failures(served):
    reg, dep, _ = served
    X = np.random.default_rng(0).normal(size=(4, 3))
    expected = {"m/1": (X @ W1).tolist(), "m/2": (X @ W2 + 5).tolist()}
    failures, wrong, counts = [], [], {"m/1": 0, "m/2": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def client():
        c = Client(dep.url)
        try:
            while not stop.is_set():
                status, r, body = c.request("POST", "/invocations", {"inputs": X.tolist()})
                v = r.getheader("X-Model-Version")
                with lock:
                    if status != 200:
                        failures.append((status, body))
                    elif not np.allclose(body["predictions"], expected[v]):
                        wrong.append((v, body))
                    else:
                        counts[v] += 1
        except Exception as exc:
            failures.append(exc)
        finally:
            c.close()

    reg.load_delay = 0.01  # loading takes time: requests must keep flowing meanwhile
    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        for _ in range(6):
            dep.update("m/2")
            dep.rollback()
        dep.update("m/2")
        import time

        time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures, failures[:3]
    assert not wrong, wrong[:3]
    assert counts["m/1"] > 0 and counts["m/2"] > 0


def test_stop_closes_the_port_and_keepalive_connections():
    dep = mm.deploy("m/1", registry=fake_registry(), target="http")
    c = Client(dep.url)
    assert c.request("GET", "/v2/health/live")[0] == 200  # an idle keep-alive connection
    port = int(dep.url.rsplit(":", 1)[1])
    dep.stop()
    dep.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises((OSError, http.client.HTTPException)):
        c.request("GET", "/v2/health/live")


def test_status_includes_http_endpoints(served):
    _, dep, c = served
    c.request("GET", "/v2/health/live")
    c.request("POST", "/invocations", {"inputs": [[1, 1, 1]]})
    st = dep.status()
    assert st["target"] == "http" and st["requests"] == 1
    assert st["http"]["endpoints"]["live"]["requests"] == 1
    assert st["http"]["endpoints"]["invocations"]["latency_ms"]["p50"] > 0


def test_monitor_to_prometheus_failure_keeps_metrics_up():
    class Broken:
        def observe(self, X, y_pred=None, y_true=None):
            pass

        def to_prometheus(self):
            raise RuntimeError("boom")

    with mm.deploy("m/1", registry=fake_registry(), target="http", monitor=Broken()) as dep:
        c = Client(dep.url)
        status, _, text = c.request("GET", "/metrics")
        assert status == 200 and b"monitor.to_prometheus failed: RuntimeError" in text
        assert dep.status()["monitor_errors"] == 1


def test_real_monitor_sees_served_traffic():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(500, 3))
    mon = mm.Monitor(reference)
    with mm.deploy("m/1", registry=fake_registry(), target="http", monitor=mon) as dep:
        c = Client(dep.url)
        shifted = rng.normal(loc=3.0, size=(300, 3))
        assert c.request("POST", "/invocations", {"inputs": shifted.tolist()})[0] == 200
        text = c.request("GET", "/metrics")[2].decode()
    report = mon.report()
    assert report.dataset_drift  # the shifted traffic reached the monitor
    assert mon.to_prometheus().splitlines()[0] in text


def _raw(dep, payload: bytes, *, read_all=True) -> bytes:
    port = int(dep.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_all:
                break
    return b"".join(chunks)


@pytest.mark.parametrize(
    "payload, status",
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET /v2/health/live HTTP/2.0\r\n\r\n", b"505"),
        (b"GET /v2/health/live HTTP/x.y\r\n\r\n", b"400"),
        (b"GET /v2/health/live HTTP/1.1\r\nno colon here\r\n\r\n", b"400"),
        (b"GET /v2/health/live HTTP/1.1\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", b"431"),
        (b"GET /v2/health/live HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n", b"431"),
    ],
)
def test_bad_request_lines_and_headers(served, payload, status):
    _, dep, c = served
    answer = _raw(dep, payload)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert b"Connection: close" in answer and b'{"error": ' in answer
    assert c.request("GET", "/v2/health/live")[0] == 200


def test_http10_closes_and_connection_close_is_honoured(served):
    _, dep, _ = served
    answer = _raw(dep, b"GET /v2/health/live HTTP/1.0\r\n\r\n")  # read until the server closes
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"live": true}')
    answer = _raw(dep, b"GET /v2/health/live HTTP/1.1\r\nconnection: Close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200") and b"Connection: close" in answer


def test_expect_100_continue_and_case_insensitive_headers(served):
    _, dep, _ = served
    body = json.dumps({"inputs": [[1, 1, 1]]}).encode()
    port = int(dep.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /invocations HTTP/1.1\r\nhost: x\r\nCONTENT-LENGTH: %d\r\nExpect: 100-continue\r\n\r\n" % len(body))
        assert s.recv(100).startswith(b"HTTP/1.1 100")
        s.sendall(body)
        answer = b""
        while not answer.endswith(b"}"):
            answer += s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"predictions": [6.0]}')


def test_two_requests_pipelined_on_one_connection(served):
    _, dep, _ = served
    body = json.dumps({"inputs": [[1, 1, 1]]}).encode()
    req = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    port = int(dep.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(req + req + b"GET /v2/health/live HTTP/1.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.count(b"HTTP/1.1 200") == 3 and answer.count(b'{"predictions": [6.0]}') == 2


def test_expect_100_continue_refused_body_is_never_requested():
    with mm.deploy("m/1", registry=fake_registry(), target="http", max_body_bytes=100) as dep:
        port = int(dep.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST /invocations HTTP/1.1\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
            answer = s.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer


def test_get_with_a_body_does_not_desync_keepalive(served):
    _, dep, _ = served
    port = int(dep.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd")
        answer = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and answer.count(b"HTTP/1.1") == 1


def test_stop_under_load_returns_promptly():
    import time

    dep = mm.deploy("m/1", registry=fake_registry(), target="http")
    stop = threading.Event()
    ok = [0]

    def client():
        c = Client(dep.url)
        while not stop.is_set():
            try:
                if c.request("POST", "/invocations", {"inputs": [[1, 1, 1]]})[0] == 200:
                    ok[0] += 1
            except Exception:  # the server went away: expected once stop() ran
                return

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    dep.stop()
    took = time.perf_counter() - t0
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert ok[0] > 0
    assert took < 5, f"stop() took {took:.1f} s under load"
    assert not any(t.is_alive() for t in threads)


@pytest.mark.parametrize("text", ["a,b,c\n1,1,1\n2,0,1\n", "1,1,1\r\n2,0,1\r\n"])
def test_invocations_csv(served, text):
    _, _, c = served
    status, _, body = c.request("POST", "/invocations", text, headers={"Content-Type": "text/csv; charset=utf-8"})
    assert status == 200, body
    np.testing.assert_allclose(body["predictions"], np.array([[1, 1, 1], [2, 0, 1]]) @ W1)


@pytest.mark.parametrize("text, code, match", [
    ("", 400, "no rows"), ("a,b,c\n", 400, "header but no rows"), ("1,2,3\n1,2\n", 400, "same number of fields"),
    ("1,2,3\n1,x,3\n", 400, "must be numbers"), ("1,2\n", 422, "expected 3 features"),
])
def test_invocations_bad_csv(served, text, code, match):
    _, dep, _ = served
    c = Client(dep.url)
    status, _, err = c.request("POST", "/invocations", text or b"", headers={"Content-Type": "text/csv"})
    assert status == code and match in message(err), err
