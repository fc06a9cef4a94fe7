"""Conformance with real clients: tritonclient (OIP v2 HTTP), MLflow's ScoringServerClient,
prometheus_client's text parser; plus every protocol point a careful attacker tries."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import time
import urllib.parse
import zlib

import numpy as np
import pandas as pd
import pytest
import tritonclient.http as triton
from _deploy_fakes import ColorScore, linear, softmax
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow.pyfunc.scoring_server.client import ScoringServerClient
from prometheus_client.parser import text_string_to_metric_families

import modelmgmt as mm
from modelmgmt.deployment.protocol import decode_invocations

W1 = np.array([1.0, 2.0, 3.0])




@pytest.fixture
def registry():
    reg = mm.Registry("memory://conformance")
    reg.register("m", linear(W1))
    reg.register("clf", softmax(np.arange(12.0).reshape(3, 4) / 10 - 0.5))
    reg.register("colors", ColorScore({"red": 1.0, "blue": 10.0}))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    pipe = mm.models.Pipeline([mm.data.StandardScaler().fit(X), linear(W1, b=0.5)])  # both fitted
    reg.register("pipe", pipe)
    return reg


@pytest.fixture
def server(registry):
    with mm.deploy(["m", "clf", "colors", "pipe"], registry=registry, target="http", read_timeout=0.5) as dep:
        yield registry, dep


def triton_client(dep):
    return triton.InferenceServerClient(url=f"{dep.host}:{dep.port}")


def raw(dep, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection(dep.host, dep.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        try:
            data = json.loads(data)
        except ValueError:
            pass
        return r.status, r, data
    finally:
        conn.close()


# --- tritonclient --------------------------------------------------------------------------------

def test_triton_health_metadata_and_repository(server):
    _, dep = server
    c = triton_client(dep)
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("clf")
    meta = c.get_server_metadata()
    assert "binary_tensor_data" in meta["extensions"] and "model_repository" in meta["extensions"]
    index = c.get_model_repository_index()
    assert {e["name"] for e in index} == {"m", "clf", "colors", "pipe"}
    clf = c.get_model_metadata("clf")
    assert [o["name"] for o in clf["outputs"]] == ["predict", "predict_proba"]


def test_triton_outputs_omitted_returns_every_output_in_metadata(server):
    registry, dep = server
    c = triton_client(dep)
    X = np.array([[0.1, 0.2, 0.3], [3.0, -1.0, 0.5]])
    for binary in (False, True):
        inp = triton.InferInput("input-0", list(X.shape), "FP64")
        inp.set_data_from_numpy(X, binary_data=binary)
        r = c.infer("clf", [inp])
        names = [o["name"] for o in r.get_response()["outputs"]]
        assert names == [o["name"] for o in c.get_model_metadata("clf")["outputs"]]
        model = registry.load("clf")
        np.testing.assert_array_equal(r.as_numpy("predict"), model.predict(X))
        np.testing.assert_array_equal(r.as_numpy("predict_proba"), model.predict_proba(X))


def test_triton_per_output_binary_data_overrides_the_default(server):
    _, dep = server
    X = np.array([[0.1, 0.2, 0.3]])
    body = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": X.ravel().tolist()}],
            "parameters": {"binary_data_output": True},
            "outputs": [{"name": "predict", "parameters": {"binary_data": False}}, {"name": "predict_proba"}]}
    status, r, data = raw(dep, "POST", "/v2/models/clf/infer", json.dumps(body).encode())
    assert status == 200
    n = int(r.getheader("Inference-Header-Content-Length"))
    head = json.loads(data[:n]) if isinstance(data, bytes) else data
    outs = {o["name"]: o for o in head["outputs"]}
    assert "data" in outs["predict"]  # JSON, as asked for this output
    assert outs["predict_proba"]["parameters"]["binary_data_size"] == 4 * 8  # binary, the default
    # tritonclient asks per output and reads both forms
    c = triton_client(dep)
    inp = triton.InferInput("input-0", [1, 3], "FP64")
    inp.set_data_from_numpy(X)
    r = c.infer("clf", [inp], outputs=[triton.InferRequestedOutput("predict", binary_data=False),
                                       triton.InferRequestedOutput("predict_proba", binary_data=True)])
    assert r.as_numpy("predict_proba").shape == (1, 4) and r.as_numpy("predict").shape == (1,)


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_triton_request_compression(server, algorithm):
    registry, dep = server
    c = triton_client(dep)
    X = np.random.default_rng(0).normal(size=(50, 3))
    inp = triton.InferInput("input-0", list(X.shape), "FP64")
    inp.set_data_from_numpy(X, binary_data=True)
    r = c.infer("m", [inp], request_compression_algorithm=algorithm)
    np.testing.assert_array_equal(r.as_numpy("predict"), registry.load("m").predict(X))


def test_triton_bytes_input_reaches_a_model_that_takes_strings(server):
    _, dep = server
    c = triton_client(dep)
    X = np.array([["red", "2"], ["blue", "3"]], dtype=object)
    for binary in (False, True):
        inp = triton.InferInput("input-0", [2, 2], "BYTES")
        inp.set_data_from_numpy(X, binary_data=binary)
        r = c.infer("colors", [inp])
        np.testing.assert_array_equal(r.as_numpy("predict"), [2.0, 30.0])
    assert c.get_model_metadata("colors")["inputs"][0]["datatype"] == "BYTES"


def test_pipeline_metadata_lists_only_its_final_models_outputs(server):
    registry, dep = server
    c = triton_client(dep)
    meta = c.get_model_metadata("pipe")
    assert meta["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
    X = np.ones((2, 3))
    inp = triton.InferInput("input-0", [2, 3], "FP64")
    inp.set_data_from_numpy(X)
    r = c.infer("pipe", [inp])
    np.testing.assert_array_equal(r.as_numpy("predict"), registry.load("pipe").predict(X))
    status, _, err = raw(dep, "POST", "/v2/models/pipe/infer", json.dumps(
        {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 1, 1]}],
         "outputs": [{"name": "predict_proba"}]}).encode())
    assert status == 422 and "unknown output 'predict_proba'" in err["error"]


# --- MLflow scoring ------------------------------------------------------------------------------

@pytest.fixture
def single(registry):
    with mm.deploy("m", registry=registry, target="http") as dep:
        yield dep


def test_mlflow_client_ping_version_and_invoke(single):
    c = ScoringServerClient("127.0.0.1", single.port)
    c.wait_server_ready(timeout=10)
    assert c.get_version() == mm.__version__
    X = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]])
    for data in (pd.DataFrame(X, columns=["x0", "x1", "x2"]),
                 pd.DataFrame(X[:, ::-1], columns=["x2", "x1", "x0"]),  # columns by name
                 X,
                 X.tolist(),
                 # (the client's own dict path iterates keys, not items: send the columns as JSON)
                 json.dumps({"inputs": {"x0": X[:, 0].tolist(), "x1": X[:, 1].tolist(), "x2": X[:, 2].tolist()}})):
        preds = c.invoke(data).get_predictions()
        np.testing.assert_allclose(np.asarray(preds).ravel(), X @ W1)
    assert raw(single, "GET", "/health")[0] == 200 and raw(single, "GET", "/ping")[0] == 200


@pytest.mark.parametrize("body", [
    {"dataframe_records": [{"x0": 1, "x1": 2, "x2": 3}, {"x2": -1, "x1": 1, "x0": 0}]},
    {"dataframe_split": {"columns": ["x0", "x1", "x2"], "data": [[1, 2, 3], [0, 1, -1]]}},
    {"dataframe_split": {"columns": ["x0", "x1", "x2"], "index": [7, 8], "data": [[1, 2, 3], [0, 1, -1]]}},
    {"instances": [{"x0": 1, "x1": 2, "x2": 3}, {"x0": 0, "x1": 1, "x2": -1}]},
    {"instances": [[1, 2, 3], [0, 1, -1]]},
    {"inputs": {"x0": [1, 0], "x1": [2, 1], "x2": [3, -1]}},
    {"inputs": [[1, 2, 3], [0, 1, -1]], "params": {}},
])
def test_mlflow_body_formats(single, body):
    status, r, data = raw(single, "POST", "/invocations", json.dumps(body).encode(), {"Content-Type": "application/json"})
    assert status == 200, data
    assert data == {"predictions": [14.0, -1.0]} and r.getheader("X-Model-Version") == "m/1"


def test_mlflow_errors_have_error_code_and_message(single):
    c = ScoringServerClient("127.0.0.1", single.port)
    with pytest.raises(Exception, match="error code 422"):
        c.invoke(pd.DataFrame([[1.0, 2.0]], columns=["x0", "x1"]))
    status, _, err = raw(single, "POST", "/invocations", b"{nope", {"Content-Type": "application/json"})
    assert status == 400 and set(err) == {"error_code", "message"} and err["error_code"] == "BAD_REQUEST"
    status, _, err = raw(single, "POST", "/invocations", json.dumps({"inputs": [[1, 2]]}).encode())
    assert status == 422 and err["error_code"] == "INVALID_PARAMETER_VALUE" and "expected 3 features" in err["message"]


def test_trained_feature_names_are_required_by_name(server):
    _, dep = server  # "colors" was trained with the names color, size
    body = {"dataframe_split": {"columns": ["colour", "size"], "data": [["red", 2]]}}
    status, _, err = raw(dep, "POST", "/invocations?model=colors", json.dumps(body).encode())
    assert status == 422 and err["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "['color', 'size']" in err["message"] and "missing ['color']" in err["message"]
    status, _, err = raw(dep, "POST", "/invocations?model=colors",
                         json.dumps({"dataframe_records": [{"color": "red"}]}).encode())
    assert status == 422 and "missing ['size']" in err["message"]


def test_csv_with_header_in_any_order(single):
    status, _, data = raw(single, "POST", "/invocations", b"x2,x0,x1\n3,1,2\n-1,0,1\n", {"Content-Type": "text/csv"})
    assert status == 200 and data == {"predictions": [14.0, -1.0]}


def test_strings_pass_through_mlflow_bodies(server):
    _, dep = server
    for body in ({"dataframe_records": [{"color": "red", "size": 2}, {"size": 3, "color": "blue"}]},
                 {"dataframe_split": {"columns": ["size", "color"], "data": [[2, "red"], [3, "blue"]]}},
                 {"inputs": {"color": ["red", "blue"], "size": [2, 3]}},
                 {"inputs": [["red", 2], ["blue", 3]]}):
        status, _, data = raw(dep, "POST", "/invocations?model=colors", json.dumps(body).encode())
        assert status == 200 and data == {"predictions": [2.0, 30.0]}, (body, data)
    status, _, data = raw(dep, "POST", "/invocations?model=colors", b"color,size\nred,2\nblue,3\n",
                          {"Content-Type": "text/csv"})
    assert status == 200 and data == {"predictions": [2.0, 30.0]}
    status, _, err = raw(dep, "POST", "/invocations?model=colors", json.dumps({"inputs": [["green", 1]]}).encode())
    assert status == 422 and "unknown colors ['green']" in err["message"]
    # a numeric model still refuses strings
    status, _, err = raw(dep, "POST", "/invocations?model=m", json.dumps({"inputs": [["a", "b", "c"]]}).encode())
    assert status == 422 and "dtype" in err["message"]


@settings(max_examples=40, deadline=None)
@given(n_rows=st.integers(1, 6), n_cols=st.integers(1, 5), seed=st.integers(0, 2**31 - 1),
       orient=st.sampled_from(["split", "records", "columns"]))
def test_decoding_equals_pandas_on_generated_frames(n_rows, n_cols, seed, orient):
    """Differential: what MLflow clients send from a DataFrame decodes to pandas' own values,
    in the model's feature order whatever the frame's column order."""
    rng = np.random.default_rng(seed)
    names = tuple(f"x{i}" for i in range(n_cols))
    df = pd.DataFrame(rng.normal(size=(n_rows, n_cols)), columns=list(names))
    shuffled = df[list(rng.permutation(list(names)))]
    if orient == "split":  # what ScoringServerClient sends for a DataFrame
        body = {"dataframe_split": shuffled.to_dict(orient="split")}
    elif orient == "records":
        body = {"dataframe_records": shuffled.to_dict(orient="records")}
    else:
        body = {"inputs": {c: shuffled[c].tolist() for c in shuffled.columns}}
    got = decode_invocations(json.loads(json.dumps(body)), names)
    np.testing.assert_array_equal(got, df[list(names)].to_numpy())


# --- what an attacker tries ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/invocations", "/v2/models/m/infer"])
def test_content_types_other_than_json_or_csv_are_415(single, path):
    body = json.dumps({"inputs": [[1, 2, 3]]}).encode()
    status, _, err = raw(single, "POST", path, body, {"Content-Type": "application/xml"})
    assert status == 415
    assert "application/xml" in (err.get("message") or err.get("error"))


def test_no_content_type_or_urllibs_default_reads_as_json(single):
    body = json.dumps({"inputs": [[1, 2, 3]]}).encode()
    for headers in ({}, {"Content-Type": "application/x-www-form-urlencoded"},
                    {"Content-Type": "application/json; charset=utf-8"}):
        status, _, out = raw(single, "POST", "/invocations", body, headers)
        assert status == 200 and out == {"predictions": [14.0]}, headers
    status, _, _ = raw(single, "POST", "/invocations", body, {"Content-Type": "text/plain"})
    assert status == 415


def test_content_encodings(single):
    body = json.dumps({"inputs": [[1, 2, 3]]}).encode()
    for enc, data in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body)), ("identity", body)):
        status, _, out = raw(single, "POST", "/invocations", data, {"Content-Type": "application/json",
                                                                     "Content-Encoding": enc})
        assert status == 200 and out == {"predictions": [14.0]}, enc
    status, _, err = raw(single, "POST", "/invocations", body, {"Content-Encoding": "br"})
    assert status == 415 and "br" in err["message"]
    status, _, err = raw(single, "POST", "/invocations", b"not gzip", {"Content-Encoding": "gzip"})
    assert status == 400 and "gzip" in err["message"]


def test_gzip_bomb_is_413(registry):
    with mm.deploy("m", registry=registry, target="http", max_body_bytes=10_000) as dep:
        bomb = gzip.compress(b" " * 5_000_000)
        status, _, err = raw(dep, "POST", "/invocations", bomb, {"Content-Encoding": "gzip"})
        assert status == 413 and "decompressed" in err["message"]


def test_a_stalled_body_gets_408(server):
    _, dep = server
    s = socket.create_connection((dep.host, dep.port), timeout=30)
    try:
        s.sendall(b"POST /invocations?model=m HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"inp")
        reply = s.recv(65536)
    finally:
        s.close()
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert b"REQUEST_TIMEOUT" in reply
    assert raw(dep, "POST", "/invocations?model=m", json.dumps({"inputs": [[1, 1, 1]]}).encode())[0] == 200


@pytest.mark.parametrize("path", ["/invocations", "/v2/models/m/infer"])
def test_json_nested_deeper_than_64_is_400(single, path):
    deep = b"[" * 100_000 + b"]" * 100_000
    status, _, err = raw(single, "POST", path, deep)
    assert status == 400 and "deeper than 64" in (err.get("message") or err.get("error"))
    shallow = json.dumps({"inputs": [[1, 2, 3]], "params": {"note": "[" * 500}}).encode()  # brackets in a string
    if path == "/invocations":
        assert raw(single, "POST", path, shallow)[0] == 200
    nested = b'{"inputs": ' + b"[" * 65 + b"1" + b"]" * 65 + b"}"  # 66 levels
    status, _, err = raw(single, "POST", path, nested)
    assert status == 400 and "deeper than 64" in (err.get("message") or err.get("error"))


# --- /metrics with prometheus_client --------------------------------------------------------------

def test_metrics_parse_and_rejected_requests_are_not_predictions(single):
    for body in ({"inputs": [[1, 2, 3]]}, {"inputs": [[1, 2, 3]]}, {"inputs": [[1, 2]]}, {"inputs": [[1, 2]]}):
        raw(single, "POST", "/invocations", json.dumps(body).encode())
    _, r, text = raw(single, "GET", "/metrics")
    text = text.decode() if isinstance(text, bytes) else text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    preds = {s.labels["name"]: s.value for s in families["modelmgmt_predictions"].samples
             if s.name == "modelmgmt_predictions_total"}
    assert preds == {"m": 2.0}
    reqs = {(s.labels["endpoint"], s.labels["code"]): s.value for s in families["modelmgmt_requests"].samples
            if s.name == "modelmgmt_requests_total"}
    assert reqs[("invocations", "200")] == 2 and reqs[("invocations", "422")] == 2
    version = [s for s in families["modelmgmt_model_version"].samples]
    assert [(s.labels, s.value) for s in version] == [({"name": "m", "model": "m"}, 1.0)]


def test_metrics_with_batching_and_shadow_parse(registry):
    with mm.deploy("m", registry=registry, target="http", max_batch_size=8) as dep:
        registry.register("m", linear(W1 * 2))
        dep.shadow("m/2")
        raw(dep, "POST", "/invocations", json.dumps({"inputs": [[1, 2, 3]]}).encode())
        dep._shadow.drain()
        text = raw(dep, "GET", "/metrics")[2]
        text = text.decode() if isinstance(text, bytes) else text
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"modelmgmt_batches", "modelmgmt_shadow_requests", "modelmgmt_shadow_agreement"} <= names


def test_slow_but_steady_body_is_not_408(registry):
    with mm.deploy("m", registry=registry, target="http", read_timeout=2.0) as dep:
        body = json.dumps({"inputs": [[1, 2, 3]]}).encode()
        s = socket.create_connection((dep.host, dep.port), timeout=30)
        try:
            s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
            for i in range(0, len(body), 8):
                s.sendall(body[i:i + 8])
                time.sleep(0.01)
            reply = s.recv(65536)
        finally:
            s.close()
    assert reply.startswith(b"HTTP/1.1 200 ")


def test_read_timeout_is_checked(registry):
    with pytest.raises(mm.InvalidArgumentError, match="read_timeout"):
        mm.deploy("m", registry=registry, target="http", read_timeout=0)


def test_model_metadata_names_the_features(server):
    _, dep = server
    meta = triton_client(dep).get_model_metadata("colors")
    assert meta["parameters"]["feature_names"] == ["color", "size"]
    assert triton_client(dep).get_model_metadata("m")["parameters"]["feature_names"] == ["x0", "x1", "x2"]


def test_urllib_quoting_in_model_names(server):
    _, dep = server
    status, _, _ = raw(dep, "GET", "/v2/models/" + urllib.parse.quote("clf"))
    assert status == 200


def test_real_pipeline_with_one_hot_encoder_gets_string_columns():
    from modelmgmt.data import ColumnTransformer, OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    X = np.empty((200, 2), dtype=object)
    X[:, 0] = rng.choice(["red", "blue", "green"], size=200)
    X[:, 1] = rng.normal(size=200)
    y = (X[:, 0] == "red") * 2.0 + X[:, 1].astype(float)
    ct = ColumnTransformer([("cat", OneHotEncoder(), [0]), ("num", StandardScaler(), [1])])
    pipe = mm.models.Pipeline([ct, mm.models.LinearRegression()])
    pipe.fit(X, y)
    reg = mm.Registry("memory://onehot")
    reg.register("p", pipe)
    rows = X[:5]
    want = reg.load("p").predict(rows)
    names = ["x0", "x1"]
    with mm.deploy("p", registry=reg, target="http") as dep:
        assert triton_client(dep).get_model_metadata("p")["inputs"][0]["datatype"] == "BYTES"
        for body in ({"dataframe_split": {"columns": names, "data": rows.tolist()}},
                     {"dataframe_records": [dict(zip(names, r)) for r in rows.tolist()]},
                     {"inputs": rows.tolist()}):
            status, _, data = raw(dep, "POST", "/invocations", json.dumps(body).encode())
            assert status == 200, data
            np.testing.assert_array_equal(data["predictions"], want)
        status, _, err = raw(dep, "POST", "/invocations", json.dumps({"inputs": [["red"]]}).encode())
        assert status == 422 and "expected 2 features" in err["message"]
