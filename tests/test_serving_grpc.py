"""OIP v2 over gRPC (KServe's GRPCInferenceService), driven by the real tritonclient gRPC client
over a real socket: the same deployment, the same answers and messages as over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

import grpc
import numpy as np
import pytest
import tritonclient.grpc as tg
from _deploy_fakes import linear, softmax, stop_cli
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

import modelmgmt as mm
from modelmgmt.deployment.grpc_server import file_descriptor, message_classes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
W = [1.0, 2.0, 3.0]
X = np.array([[0.1, 0.2, 0.3], [3.0, -1.0, 0.5]])


class Models(dict):
    """The served models by name (what ``reg.load`` would give; the memory store is emptied per test)."""

    def load(self, name):
        return self[name]


@pytest.fixture(scope="module")
def served():
    """One server for the read-only tests: two models on one port, HTTP and gRPC."""
    models = Models(m=linear(W, b=0.5), clf=softmax(np.arange(12.0).reshape(3, 4) / 10 - 0.5))
    reg = mm.Registry("memory://grpc-tests")
    for name, model in models.items():
        reg.register(name, model)
    with mm.deploy(["m", "clf"], registry=reg, target="http", grpc_port=0) as dep:
        yield models, dep


def client(dep):
    return tg.InferenceServerClient(dep.grpc_address)


def tensor(X, datatype="FP64", name="input-0"):
    inp = tg.InferInput(name, list(X.shape), datatype)
    inp.set_data_from_numpy(X)
    return inp


def refused(fn, *args, **kwargs) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as info:
        fn(*args, **kwargs)
    return info.value


def stub(dep):
    """tritonclient's own generated stub, for what its client hides (response metadata, typed contents)."""
    return service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(dep.grpc_address))


def http_infer(dep, name, body):
    req = urllib.request.Request(f"{dep.url}/v2/models/{name}/infer", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


# --- health and metadata ------------------------------------------------------------------------

def test_live_ready_and_model_ready(served):
    _, dep = served
    c = client(dep)
    assert c.is_server_live() and c.is_server_ready()
    assert c.is_model_ready("m") and c.is_model_ready("clf") and c.is_model_ready("m", "1")
    assert not c.is_model_ready("nope") and not c.is_model_ready("m", "7")  # not served: not ready
    assert dep.grpc_address == f"127.0.0.1:{dep.grpc_server.port}" and dep.grpc_server.port != dep.port


def test_server_and_model_metadata_match_http(served):
    _, dep = served
    c = client(dep)
    meta = c.get_server_metadata(as_json=True)
    assert meta["name"] == "modelmgmt" and meta["version"] == mm.__version__
    for name in ("m", "clf"):
        got = c.get_model_metadata(name, as_json=True)
        with urllib.request.urlopen(f"{dep.url}/v2/models/{name}", timeout=10) as r:
            want = json.loads(r.read())
        assert got["name"] == name and got["versions"] == ["1"] and got["platform"] == "modelmgmt"
        for key in ("inputs", "outputs"):
            assert [{**t, "shape": [int(d) for d in t["shape"]]} for t in got[key]] == want[key]
    clf = c.get_model_metadata("clf", as_json=True)
    assert [(o["name"], o["datatype"]) for o in clf["outputs"]] == [("predict", "INT64"), ("predict_proba", "FP64")]
    err = refused(c.get_model_metadata, "nope")
    assert err.status() == "StatusCode.NOT_FOUND" and err.message() == "unknown model 'nope'; this server serves 'm', 'clf'"


# --- inference ----------------------------------------------------------------------------------

def test_infer_fp64_and_int64_equal_http_and_the_model(served):
    reg, dep = served
    c = client(dep)
    r = c.infer("m", [tensor(X)])
    np.testing.assert_array_equal(r.as_numpy("predict"), reg.load("m").predict(X))
    resp = r.get_response(as_json=True)
    assert resp["model_name"] == "m" and resp["model_version"] == "1"
    body = {"inputs": [{"name": "input-0", "shape": [2, 3], "datatype": "FP64", "data": X.ravel().tolist()}]}
    assert r.as_numpy("predict").tolist() == http_infer(dep, "m", body)["outputs"][0]["data"]
    ints = np.array([[1, 2, 3], [-4, 5, 0]], dtype=np.int64)
    r = c.infer("m", [tensor(ints, "INT64")], request_id="req-7")
    np.testing.assert_array_equal(r.as_numpy("predict"), reg.load("m").predict(ints.astype(float)))
    assert r.get_response().id == "req-7"


def test_outputs_omitted_returns_every_output_in_metadata_and_selected_ones_only(served):
    reg, dep = served
    c = client(dep)
    model = reg.load("clf")
    r = c.infer("clf", [tensor(X)])
    names = [o.name for o in r.get_response().outputs]
    assert names == [o["name"] for o in c.get_model_metadata("clf", as_json=True)["outputs"]]
    np.testing.assert_array_equal(r.as_numpy("predict"), model.predict(X))
    np.testing.assert_array_equal(r.as_numpy("predict_proba"), model.predict_proba(X))
    assert r.as_numpy("predict").dtype == np.int64 and r.as_numpy("predict_proba").shape == (2, 4)
    only = c.infer("clf", [tensor(X)], outputs=[tg.InferRequestedOutput("predict_proba")])
    assert [o.name for o in only.get_response().outputs] == ["predict_proba"]
    np.testing.assert_array_equal(only.as_numpy("predict_proba"), model.predict_proba(X))
    err = refused(c.infer, "clf", [tensor(X)], outputs=[tg.InferRequestedOutput("logits")])
    assert err.status() == "StatusCode.INVALID_ARGUMENT"
    assert err.message() == "unknown output 'logits' for clf/1; expected one of: predict, predict_proba"


def test_two_models_on_one_port_each_answers_as_itself(served):
    reg, dep = served
    c = client(dep)
    a = c.infer("m", [tensor(X)]).as_numpy("predict")
    b = c.infer("clf", [tensor(X)]).as_numpy("predict")
    np.testing.assert_array_equal(a, reg.load("m").predict(X))
    np.testing.assert_array_equal(b, reg.load("clf").predict(X))


def test_typed_contents_in_typed_contents_out_and_response_metadata(served):
    reg, dep = served
    req = service_pb2.ModelInferRequest(model_name="clf", id="typed")
    t = req.inputs.add(name="input-0", datatype="FP64", shape=[2, 3])
    t.contents.fp64_contents.extend(X.ravel().tolist())
    resp, call = stub(dep).ModelInfer.with_call(req)
    assert dict(call.initial_metadata())["x-model-version"] == "clf/1"
    assert len(resp.raw_output_contents) == 0 and resp.id == "typed"
    out = {o.name: o for o in resp.outputs}
    assert list(out["predict"].contents.int64_contents) == reg.load("clf").predict(X).tolist()
    np.testing.assert_array_equal(np.reshape(out["predict_proba"].contents.fp64_contents, tuple(out["predict_proba"].shape)),
                                  reg.load("clf").predict_proba(X))
    # the wrong contents field for the datatype, and a value count that does not fit the shape
    req.inputs[0].datatype = "INT64"
    with pytest.raises(grpc.RpcError) as info:
        stub(dep).ModelInfer(req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "inputs[0] is INT64: its values go in contents.int64_contents; got contents.fp64_contents"
    req.inputs[0].datatype = "FP64"
    req.inputs[0].contents.fp64_contents.append(1.0)
    with pytest.raises(grpc.RpcError) as info:
        stub(dep).ModelInfer(req)
    assert info.value.details() == "inputs[0].contents.fp64_contents has 7 values; shape [2, 3] needs 6"


# --- errors: each with its message, and the server keeps answering --------------------------------

def test_errors_carry_our_message_and_good_requests_still_work(served):
    reg, dep = served
    c = client(dep)
    good = reg.load("m").predict(X)

    err = refused(c.infer, "nope", [tensor(X)])
    assert err.status() == "StatusCode.NOT_FOUND" and err.message() == "unknown model 'nope'; this server serves 'm', 'clf'"
    np.testing.assert_array_equal(c.infer("m", [tensor(X)]).as_numpy("predict"), good)

    err = refused(c.infer, "m", [tensor(np.zeros((2, 5)))])
    assert err.status() == "StatusCode.INVALID_ARGUMENT"
    assert err.message() == "expected 3 features (input shape (n_samples, 3)); received 5 (shape (2, 5))"
    np.testing.assert_array_equal(c.infer("m", [tensor(X)]).as_numpy("predict"), good)

    err = refused(c.infer, "m", [tensor(np.zeros(3))])
    assert err.message() == "expected 2-D input of shape (n_samples, 3); received 1-D shape (3,)"

    err = refused(c.infer, "m", [tensor(np.array([["a", "b", "c"]], dtype=object), "BYTES")])
    assert err.status() == "StatusCode.INVALID_ARGUMENT"
    assert err.message() == "expected input datatype FP64 (numeric); received BYTES"
    np.testing.assert_array_equal(c.infer("m", [tensor(X)]).as_numpy("predict"), good)

    err = refused(c.infer, "m", [tensor(X), tensor(X, name="input-1")])
    assert err.message() == "'inputs' must be a list with exactly one tensor (n_samples, n_features); got 2 inputs"

    err = refused(c.infer, "m", [tensor(X)], model_version="7")
    assert err.status() == "StatusCode.NOT_FOUND"
    assert err.message() == "version '7' of model 'm' is not served; serving version 1"

    req = service_pb2.ModelInferRequest(model_name="m")  # a datatype OIP v2 does not have
    req.inputs.add(name="input-0", datatype="FLOAT", shape=[1, 3])
    req.raw_input_contents.append(np.zeros(3).tobytes())
    with pytest.raises(grpc.RpcError) as info:
        stub(dep).ModelInfer(req)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith("inputs[0].datatype must be one of BOOL, UINT8,")
    assert info.value.details().endswith("got 'FLOAT'")

    req = service_pb2.ModelInferRequest(model_name="m")  # raw bytes that do not fit the shape
    req.inputs.add(name="input-0", datatype="FP64", shape=[2, 3])
    req.raw_input_contents.append(np.zeros(5).tobytes())
    with pytest.raises(grpc.RpcError) as info:
        stub(dep).ModelInfer(req)
    assert info.value.details() == ("inputs[0].parameters.binary_data_size must be 48 (6 x 8-byte FP64) "
                                    "for shape [2, 3]; got 40")
    np.testing.assert_array_equal(c.infer("m", [tensor(X)]).as_numpy("predict"), good)


def test_token_is_required_except_on_the_probes():
    reg = mm.Registry("memory://grpc-token")
    reg.register("m", linear(W))
    with mm.deploy("m", registry=reg, target="http", grpc_port=0, token="s3cret") as dep:
        c = client(dep)
        assert c.is_server_live() and c.is_server_ready()
        for call in (lambda: c.infer("m", [tensor(X)]), lambda: c.get_model_metadata("m"),
                     lambda: c.infer("m", [tensor(X)], headers={"authorization": "Bearer wrong"})):
            err = refused(call)
            assert err.status() == "StatusCode.UNAUTHENTICATED"
            assert err.message() == "missing or wrong bearer token; send the metadata 'authorization: Bearer <token>'"
        r = c.infer("m", [tensor(X)], headers={"authorization": "Bearer s3cret"})
        np.testing.assert_array_equal(r.as_numpy("predict"), reg.load("m").predict(X))


def test_message_size_is_bounded_by_max_body_bytes():
    reg = mm.Registry("memory://grpc-size")
    reg.register("m", linear(W))
    with mm.deploy("m", registry=reg, target="http", grpc_port=0, max_body_bytes=2000) as dep:
        c = client(dep)
        err = refused(c.infer, "m", [tensor(np.zeros((200, 3)))])
        assert err.status() == "StatusCode.RESOURCE_EXHAUSTED" and "larger than max" in err.message()
        assert c.infer("m", [tensor(X)]).as_numpy("predict").shape == (2,)


# --- the same deployment: swaps, follow, batching, canary ---------------------------------------

def _version(resp_and_call):
    resp, call = resp_and_call
    return resp.model_version, dict(call.initial_metadata())["x-model-version"]


def _request(model="m"):
    req = service_pb2.ModelInferRequest(model_name=model)
    req.inputs.add(name="input-0", datatype="FP64", shape=list(X.shape))
    req.raw_input_contents.append(X.tobytes())
    return req


def test_update_and_followed_alias_moves_are_seen_over_grpc():
    reg = mm.Registry("memory://grpc-swap")
    reg.register("m", linear(W))
    reg.register("m", linear([-1.0, 0.0, 1.0]))
    reg.set_alias("m", "prod", 1)
    with mm.deploy("m@prod", registry=reg, target="http", grpc_port=0, follow=0.05) as dep:
        s = stub(dep)
        assert _version(s.ModelInfer.with_call(_request())) == ("1", "m/1")
        reg.set_alias("m", "prod", 2)  # the follower swaps; gRPC answers from the new version
        deadline = time.monotonic() + 10
        while _version(s.ModelInfer.with_call(_request()))[0] != "2" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _version(s.ModelInfer.with_call(_request())) == ("2", "m/2")
        np.testing.assert_array_equal(client(dep).infer("m", [tensor(X)]).as_numpy("predict"),
                                      reg.load("m/2").predict(X))
        dep.update("m/1")
        assert _version(s.ModelInfer.with_call(_request())) == ("1", "m/1")
        assert client(dep).get_model_metadata("m", as_json=True)["versions"] == ["1"]
    assert [e["event"] for e in reg.deployment_history("m")] == ["deploy", "follow", "update", "stop"]


def test_batching_and_canary_apply_to_grpc_requests():
    reg = mm.Registry("memory://grpc-batch")
    reg.register("m", linear(W))
    reg.register("m", linear([-1.0, 0.0, 1.0]))
    rows = [X[i % 2:i % 2 + 1] + i for i in range(16)]
    with mm.deploy("m/1", registry=reg, target="http", grpc_port=0, max_batch_size=16, max_batch_delay_ms=5.0) as dep:
        results: dict[int, np.ndarray] = {}

        def one(i):
            results[i] = client(dep).infer("m", [tensor(rows[i])]).as_numpy("predict")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, r in results.items():
            np.testing.assert_array_equal(r, dep.predict(rows[i]))
        assert len(results) == 16 and dep.status()["batching"]["requests"] >= 16
        dep.split({"m/1": 0.5, "m/2": 0.5})
        seen = {client(dep).infer("m", [tensor(X)]).get_response().model_version for _ in range(40)}
        assert seen == {"1", "2"} and sum(dep.status()["split"].values()) == 40


# --- wiring: options, the CLI, the extra ---------------------------------------------------------

def test_grpc_port_options_are_checked():
    reg = mm.Registry("memory://grpc-options")
    reg.register("m", linear(W))
    with pytest.raises(mm.InvalidArgumentError, match=r"grpc_port must be None or an int in 0\.\.65535"):
        mm.deploy("m", registry=reg, target="http", grpc_port="50051")
    with pytest.raises(mm.InvalidArgumentError, match="other processes can open"):  # workers: tests/test_serving_grpc_workers.py
        mm.deploy("m", registry=reg, target="http", grpc_port=0, workers=2)
    with mm.deploy("m", registry=reg, target="http") as dep:
        assert dep.grpc_address is None
        with pytest.raises(mm.ModelmgmtError, match="cannot listen for gRPC on 127.0.0.1:"):
            mm.deploy("m", registry=reg, target="http", name="other", grpc_port=dep.port)  # taken by HTTP


def test_messages_are_built_at_run_time_and_wire_compatible_with_generated_code():
    classes = message_classes()
    assert file_descriptor().package == "inference"
    ours = classes["ModelInferRequest"](model_name="m", id="x")
    t = ours.inputs.add(name="input-0", datatype="FP64", shape=[1, 2])
    t.contents.fp64_contents.extend([1.0, 2.0])
    ours.parameters["predict_proba"].bool_param = True
    theirs = service_pb2.ModelInferRequest.FromString(ours.SerializeToString())
    assert theirs.inputs[0].contents.fp64_contents == [1.0, 2.0] and theirs.parameters["predict_proba"].bool_param
    assert classes["ModelInferRequest"].FromString(theirs.SerializeToString()) == ours


def test_import_modelmgmt_and_http_serving_do_not_need_grpc():
    code = (
        "import sys; sys.modules['grpc'] = None\n"
        "import modelmgmt as mm\n"
        "assert 'grpc' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "reg = mm.Registry('memory://nogrpc'); sys.path.insert(0, 'tests')\n"
        "from _deploy_fakes import linear; reg.register('m', linear([1.0]))\n"
        "with mm.deploy('m', registry=reg, target='http') as dep: pass\n"
        "try:\n"
        "    mm.deploy('m', registry=reg, target='http', grpc_port=0)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "gRPC serving needs grpcio and protobuf: pip install 'modelmgmt[grpc]'"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_cli_grpc_port(tmp_path):
    reg = mm.Registry(str(tmp_path / "reg"))
    reg.register("m", linear(W, b=0.5))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "modelmgmt", "--registry", str(tmp_path / "reg"), "serve", "m",
                             "--port", "0", "--grpc-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving m/1 at http://127.0.0.1:") and ", gRPC at 127.0.0.1:" in line, \
            (line, proc.stderr.read() if proc.poll() is not None else "")
        address = line.split(", gRPC at ", 1)[1].split()[0]
        assert not address.endswith(":0")
        r = tg.InferenceServerClient(address).infer("m", [tensor(X)])
        np.testing.assert_array_equal(r.as_numpy("predict"), reg.load("m").predict(X))
    finally:
        rc = stop_cli(proc, timeout=15)
    assert rc == 0


def test_grpc_calls_are_counted_on_metrics(served):
    from prometheus_client.parser import text_string_to_metric_families

    _, dep = served

    def counts():
        with urllib.request.urlopen(f"{dep.url}/metrics", timeout=10) as r:
            fams = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
        return {(s.labels["endpoint"], s.labels["code"]): s.value for s in fams["modelmgmt_grpc_requests"].samples}

    before = counts()
    c = client(dep)
    c.infer("m", [tensor(X)])
    c.infer("m", [tensor(X)])
    refused(c.infer, "nope", [tensor(X)])
    after = counts()
    assert after[("ModelInfer", "OK")] - before.get(("ModelInfer", "OK"), 0) == 2
    assert after[("ModelInfer", "NOT_FOUND")] - before.get(("ModelInfer", "NOT_FOUND"), 0) == 1
