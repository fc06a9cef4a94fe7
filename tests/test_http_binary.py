"""OIP v2 binary tensor data extension over real sockets: raw tensor bytes after a JSON header."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_http import W1, Client, fake_registry, served  # noqa: F401 - served is a fixture

import modelmgmt as mm

HEADER = "Inference-Header-Content-Length"


def binary_request(X, datatype="FP64", **extra):
    """(body, headers) of an infer request carrying X as raw little-endian bytes."""
    X = np.asarray(X)
    raw = X.astype(np.dtype(mm.deployment.protocol.DATATYPES[datatype]).newbyteorder("<")).tobytes()
    head = json.dumps({"inputs": [{"name": "x", "shape": list(X.shape), "datatype": datatype,
                                   "parameters": {"binary_data_size": len(raw)}}], **extra}).encode()
    return head + raw, {HEADER: str(len(head)), "Content-Type": "application/octet-stream"}


def split_response(r, data):
    """(JSON header, {output name: array}) of a binary-extension response."""
    n = int(r.getheader(HEADER))
    head, rest, offset, arrays = json.loads(data[:n]), data[n:], 0, {}
    for out in head["outputs"]:
        size = out.get("parameters", {}).get("binary_data_size")
        if size is None:
            arrays[out["name"]] = np.array(out["data"]).reshape(out["shape"])
        else:
            dtype = np.dtype(mm.deployment.protocol.DATATYPES[out["datatype"]]).newbyteorder("<")
            arrays[out["name"]] = np.frombuffer(rest[offset:offset + size], dtype=dtype).reshape(out["shape"])
            offset += size
    assert offset == len(rest)
    return head, arrays


@pytest.mark.parametrize("datatype", ["FP64", "FP32", "INT32"])
def test_binary_input_gives_the_json_answer(served, datatype):
    _, _, c = served
    X = np.array([[1, 2, 3], [4, 5, 6], [-1, 0, 2]])
    body, headers = binary_request(X, datatype, id="b-1")
    status, r, resp = c.request("POST", "/v2/models/m/infer", body, headers)
    assert status == 200, resp
    assert resp["id"] == "b-1" and resp["outputs"][0]["shape"] == [3]
    np.testing.assert_allclose(resp["outputs"][0]["data"], X @ W1)


def test_binary_output_on_request():
    reg = fake_registry()
    model = reg.load("clf/1")
    X = np.random.default_rng(0).normal(size=(1000, 3))
    with mm.deploy("clf", registry=reg, target="http") as dep:
        c = Client(dep.url)
        body, headers = binary_request(X, outputs=[{"name": "predict", "parameters": {"binary_data": True}},
                                                   {"name": "predict_proba"}])
        status, r, data = c.request("POST", "/v2/models/clf/infer", body, headers)
        assert status == 200 and r.getheader("Content-Type") == "application/octet-stream"
        head, arrays = split_response(r, data)
        assert [o.get("parameters") is not None for o in head["outputs"]] == [True, False]
        np.testing.assert_array_equal(arrays["predict"], model.predict(X))
        np.testing.assert_allclose(arrays["predict_proba"], model.predict_proba(X))
        body, headers = binary_request(X, parameters={"binary_data_output": True, "predict_proba": True})
        status, r, data = c.request("POST", "/v2/models/clf/infer", body, headers)
        head, arrays = split_response(r, data)
        assert all("parameters" in o for o in head["outputs"])
        np.testing.assert_array_equal(arrays["predict_proba"], model.predict_proba(X))  # bit for bit
        c.close()


def test_bad_binary_requests_are_400_and_wrong_width_is_422(served):
    _, _, c = served
    X = np.ones((2, 3))
    body, headers = binary_request(X)
    n = int(headers[HEADER])
    cases = [
        (body[:-8], headers, "needs 48 bytes of binary data; only 40 are left"),
        (body + b"\0" * 8, headers, "8 bytes of binary data follow the JSON header but no input claims them"),
        (body, {**headers, HEADER: str(len(body) + 1)}, f"is {len(body) + 1} but the body has only {len(body)} bytes"),
        (body, {**headers, HEADER: "-3"}, "must be a non-negative integer; got '-3'"),
        (body[:n], {"Content-Type": "application/json"}, "needs a binary body"),
        (body.replace(b'"binary_data_size": 48', b'"binary_data_size": 40'), headers, "binary_data_size must be 48"),
        (body.replace(b'"FP64"', b'"BYTES"'), {**headers, HEADER: str(n + 1)}, "binary BYTES element 1 needs 1072693248 bytes; only 40 are left"),
        (b"{" + b"x" * (n - 1) + body[n:], headers, "not valid JSON"),
    ]
    for payload, hdrs, message in cases:
        status, _, err = c.request("POST", "/v2/models/m/infer", payload, hdrs)
        assert status == 400 and message in err["error"], (message, err)
    body, headers = binary_request(np.ones((2, 5)))
    status, _, err = c.request("POST", "/v2/models/m/infer", body, headers)
    assert status == 422 and "expected 3 features" in err["error"]
    status, _, ok = c.request("POST", "/v2/models/m/infer", *binary_request(X))  # the connection still works
    assert status == 200 and ok["outputs"][0]["data"] == [6.0, 6.0]
