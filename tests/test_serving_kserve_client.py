"""Conformance with KServe's own Python client: ``kserve.InferenceRESTClient`` (OIP v2 over
httpx, async) against the HTTP server, and KServe's v2 data models (pydantic) for the answers
that client has no call for (server and model metadata).

The client runs in a child process of its own: kserve and tritonclient.grpc (tests/
test_serving_grpc.py, docs/deployment.md) cannot be imported into one process, as both
register the protobuf package ``inference`` in the default descriptor pool ("duplicate symbol
'inference.ServerLiveRequest'", kserve issue #3099). So this module never imports kserve
itself: each ``job_*`` coroutine runs there, and hands back plain values to assert on here.

``make test`` installs kserve with --no-deps (its metadata pins protobuf<7, pandas<3 and
psutil<6 for its own model server; the REST client runs on ours): see the Makefile.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest
from _deploy_fakes import ColorScore, linear, memory_registry, softmax

import modelmgmt as mm

if importlib.util.find_spec("kserve") is None:  # (find_spec does not import it)
    if os.environ.get("CI"):
        raise ImportError("kserve is missing: `make test` installs it (pip install --no-deps, see the Makefile)")
    pytest.skip("kserve is installed by `make test` (pip install --no-deps, pinned in constraints.txt)",
                allow_module_level=True)

W1 = np.array([1.0, 2.0, 3.0])
X = np.array([[0.1, 0.2, 0.3], [3.0, -1.0, 0.5]])
MODELS = ["m", "clf", "colors", "pipe"]
STRINGS = np.array([["red", "2"], ["blue", "3"]], dtype=object)


CLF = softmax(np.arange(12.0).reshape(3, 4) / 10 - 0.5)
PIPE = mm.models.Pipeline([mm.data.StandardScaler().fit(np.random.default_rng(0).normal(size=(60, 3))),
                           linear(W1, b=0.5)])


def make_registry():
    reg = memory_registry()
    reg.register("m", linear(W1))
    reg.register("clf", CLF)
    reg.register("colors", ColorScore({"red": 1.0, "blue": 10.0}))
    reg.register("pipe", PIPE)
    return reg


# --- the client's side (runs in the child process) -------------------------------------------------

@dataclass
class Tensor:
    """One input: ``form`` is "binary" or "json" (``set_data_from_numpy(binary_data=...)``), or
    "data" (``InferInput(..., data=values)`` as given, with ``shape``)."""

    values: Any
    datatype: str
    form: str = "binary"
    shape: list[int] | None = None


@dataclass
class Answer:
    model_name: str
    id: str | None
    names: list[str]  # outputs in the order they came
    outputs: dict[str, np.ndarray]
    datatypes: dict[str, str]
    headers: dict[str, str]  # the client's response_headers=
    raw: list[tuple[dict[str, str], bytes]] = field(default_factory=list)  # what its transport saw


@dataclass
class Refused:
    """The client raised httpx.HTTPStatusError."""

    status: int
    message: str


class Recorder(httpx.AsyncHTTPTransport):
    """The client's transport (``RESTConfig(transport=...)``) keeping each raw answer, to see
    what went over the wire (binary or JSON) behind the client's decoding."""

    def __init__(self):
        super().__init__()
        self.answers: list[tuple[dict[str, str], bytes]] = []

    async def handle_async_request(self, request):
        response = await super().handle_async_request(request)
        body = await response.aread()
        self.answers.append((dict(response.headers), body))
        return response


def _input(t: Tensor):
    from kserve import InferInput

    if t.form == "data":
        return InferInput("input-0", t.shape, t.datatype, data=t.values)
    inp = InferInput("input-0", list(t.values.shape), t.datatype)
    inp.set_data_from_numpy(t.values, binary_data=t.form == "binary")
    return inp


async def _infer(client, base, model, tensor=None, *, body=None, request_id=None, outputs=None, parameters=None,
                 headers=None, recorder=None):
    """One infer call: an InferRequest of ``tensor`` (or a dict ``body``); ``outputs`` a list of
    names or of (name, parameters)."""
    from kserve import InferRequest
    from kserve.protocol.infer_type import RequestedOutput

    if body is None:
        wanted = None if outputs is None else [RequestedOutput(*((o,) if isinstance(o, str) else o)) for o in outputs]
        body = InferRequest(model, [_input(tensor)], request_id=request_id, parameters=parameters,
                            request_outputs=wanted)
    seen = len(recorder.answers) if recorder else 0
    got: dict[str, str] = {}
    try:
        r = await client.infer(base, body, model_name=model, headers=headers, response_headers=got)
    except httpx.HTTPStatusError as exc:
        return Refused(exc.response.status_code, str(exc))
    return Answer(r.model_name, r.id, [o.name for o in r.outputs], {o.name: o.as_numpy() for o in r.outputs},
                  {o.name: o.datatype for o in r.outputs}, dict(got), recorder.answers[seen:] if recorder else [])


def _run_job(job, *args, **kwargs):
    """In the child: run ``job(client, recorder, *args)`` with a fresh v2 InferenceRESTClient."""
    from kserve import InferenceRESTClient, RESTConfig

    async def main():
        recorder = Recorder()
        async with InferenceRESTClient(RESTConfig(protocol="v2", timeout=10, transport=recorder)) as client:
            return await job(client, recorder, *args, **kwargs)

    try:
        return asyncio.run(main())
    except Exception as exc:  # an exception may not survive pickling (HTTPStatusError does not)
        raise RuntimeError(f"{type(exc).__name__}: {exc}") from None


async def job_health(client, _recorder, base, names):
    return {"live": await client.is_server_live(base), "ready": await client.is_server_ready(base),
            **{name: await client.is_model_ready(base, name) for name in names}}


async def job_metadata(_client, _recorder, base, names):
    """GET with httpx (the client has no metadata call) and parse with KServe's v2 data models."""
    from kserve.protocol.rest import v2_datamodels as v2

    async with httpx.AsyncClient(base_url=base, timeout=10) as h:
        out = {"/v2": v2.ServerMetadataResponse.model_validate((await h.get("/v2")).json()).model_dump(),
               "live": v2.ServerLiveResponse.model_validate((await h.get("/v2/health/live")).json()).live,
               "ready": v2.ServerReadyResponse.model_validate((await h.get("/v2/health/ready")).json()).ready}
        for name in names:
            out[name] = v2.ModelMetadataResponse.model_validate((await h.get(f"/v2/models/{name}")).json()).model_dump()
            out[f"{name}/ready"] = v2.ModelReadyResponse.model_validate(
                (await h.get(f"/v2/models/{name}/ready")).json()).model_dump()
    return out


async def job_infer(client, recorder, base, model, tensor=None, **options):
    return await _infer(client, base, model, tensor, recorder=recorder, **options)


async def job_infer_parsed(client, recorder, base, model, tensor, **options):
    """An infer call, and its JSON answer as KServe's InferenceResponse model parses it."""
    from kserve.protocol.rest import v2_datamodels as v2

    answer = await _infer(client, base, model, tensor, recorder=recorder, **options)
    (_, body), = answer.raw
    return answer, v2.InferenceResponse.model_validate_json(body).model_dump()


async def job_concurrently(client, recorder, base, calls):
    """Several infer calls at once on the one client (one connection pool)."""
    return await asyncio.gather(*(_infer(client, base, model, tensor) for model, tensor in calls))


async def job_with_token(client, recorder, base, token):
    tensor = Tensor(X, "FP64")
    return {"ready": await client.is_server_ready(base),  # probes need no token
            "without": await _infer(client, base, "m", tensor),
            "with": await _infer(client, base, "m", tensor, headers={"Authorization": f"Bearer {token}"})}


# --- the tests -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    """``client(job, *args)``: run a job in the kserve process (started once for the module)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield lambda job, *args, **kwargs: pool.submit(_run_job, job, *args, **kwargs).result(timeout=60)


@pytest.fixture(scope="module")
def base():
    """One server for the module (it keeps its models loaded; conftest empties the memory://
    store after each test)."""
    with mm.deploy(MODELS, registry=make_registry(), target="http") as dep:
        yield f"http://{dep.host}:{dep.port}"


def test_server_live_ready_and_each_model_ready(client, base):
    got = client(job_health, base, [*MODELS, "nope"])
    assert got == {"live": True, "ready": True, "m": True, "clf": True, "colors": True, "pipe": True,
                   "nope": False}  # the 404 reads as not ready


def test_metadata_parses_as_kserve_v2_data_models(client, base):
    meta = client(job_metadata, base, MODELS)
    assert meta["/v2"]["name"] == "modelmgmt" and "binary_tensor_data" in meta["/v2"]["extensions"]
    assert meta["live"] is True and meta["ready"] is True
    clf = meta["clf"]
    assert clf["name"] == "clf" and clf["versions"] == ["1"] and clf["platform"] == "modelmgmt"
    assert clf["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 3]}]
    assert clf["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]},
                              {"name": "predict_proba", "datatype": "FP64", "shape": [-1, 4]}]
    assert meta["colors"]["inputs"][0]["datatype"] == "BYTES"
    assert [o["name"] for o in meta["pipe"]["outputs"]] == ["predict"]
    assert all(meta[f"{n}/ready"] == {"name": n, "ready": True} for n in MODELS)


@pytest.mark.parametrize("form", ["json", "binary"])
@pytest.mark.parametrize("datatype", ["FP64", "INT64"])
def test_infer_without_outputs_returns_every_output(client, base, datatype, form):
    arr = X if datatype == "FP64" else np.array([[1, 2, 3], [4, -5, 6]], dtype=np.int64)
    a = client(job_infer, base, "clf", Tensor(arr, datatype, form), request_id="req-42")
    assert isinstance(a, Answer), a
    assert a.model_name == "clf" and a.id == "req-42"
    assert a.names == ["predict", "predict_proba"]
    assert a.datatypes == {"predict": "INT64", "predict_proba": "FP64"}
    np.testing.assert_array_equal(a.outputs["predict"], CLF.predict(arr.astype(float)))
    np.testing.assert_array_equal(a.outputs["predict_proba"], CLF.predict_proba(arr.astype(float)))
    assert a.outputs["predict_proba"].shape == (2, 4)
    assert a.headers["x-model-version"] == "clf/1"
    assert a.headers["content-type"] == "application/json"  # binary inputs do not make binary outputs


@pytest.mark.parametrize("wanted", [["predict_proba"], ["predict"], ["predict_proba", "predict"]])
def test_infer_with_requested_outputs(client, base, wanted):
    a = client(job_infer, base, "clf", Tensor(X, "FP64"), outputs=wanted)
    assert sorted(a.names) == sorted(wanted)  # the protocol fixes no order; clients go by name
    if "predict" in wanted:
        np.testing.assert_array_equal(a.outputs["predict"], CLF.predict(X))
    if "predict_proba" in wanted:
        np.testing.assert_array_equal(a.outputs["predict_proba"], CLF.predict_proba(X))


def test_binary_outputs_and_per_output_override(client, base):
    """``binary_data_output`` makes every output binary; an output's own ``binary_data``
    overrides it. The client decodes both forms to the same arrays."""
    all_binary = client(job_infer, base, "clf", Tensor(X, "FP64", "json"), parameters={"binary_data_output": True})
    mixed = client(job_infer, base, "clf", Tensor(X, "FP64"), parameters={"binary_data_output": True},
                   outputs=[("predict", {"binary_data": False}), "predict_proba"])
    heads = []
    for a in (all_binary, mixed):
        np.testing.assert_array_equal(a.outputs["predict"], CLF.predict(X))
        np.testing.assert_array_equal(a.outputs["predict_proba"], CLF.predict_proba(X))
        (headers, body), = a.raw
        assert headers["content-type"] == "application/octet-stream"
        n = int(headers["inference-header-content-length"])
        heads.append({o["name"]: o for o in json.loads(body[:n])["outputs"]})
        assert len(body) - n == sum(o.get("parameters", {}).get("binary_data_size", 0) for o in heads[-1].values())
    assert all("data" not in o for o in heads[0].values())
    assert "data" in heads[1]["predict"] and heads[1]["predict_proba"]["parameters"]["binary_data_size"] == 8 * 8


def test_json_answer_parses_as_kserve_inference_response(client, base):
    # an ndarray as the input's data: the client sends it as JSON
    a, parsed = client(job_infer_parsed, base, "m", Tensor(X, "FP64", "data", [2, 3]), request_id="7")
    np.testing.assert_array_equal(a.outputs["predict"], X @ W1)
    assert parsed["model_name"] == "m" and parsed["model_version"] == "1" and parsed["id"] == "7"
    assert [(o["name"], o["datatype"], o["shape"]) for o in parsed["outputs"]] == [("predict", "FP64", [2])]


@pytest.mark.parametrize("form", ["json", "binary"])
def test_bytes_input_reaches_a_model_that_takes_strings(client, base, form):
    a = client(job_infer, base, "colors", Tensor(STRINGS, "BYTES", form))
    np.testing.assert_array_equal(a.outputs["predict"], [2.0, 30.0])


def test_a_dict_body_is_sent_as_json(client, base):
    body = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "INT64", "data": [1, 2, 3]}],
            "outputs": [{"name": "predict"}]}
    a = client(job_infer, base, "m", body=body)
    np.testing.assert_array_equal(a.outputs["predict"], [14.0])
    assert a.headers["x-model-version"] == "m/1"


def test_unknown_model_raises_the_clients_error_with_our_message(client, base):
    r = client(job_infer, base, "nope", Tensor(X, "FP64"))
    assert isinstance(r, Refused) and r.status == 404
    # the client puts the body's "error" first in its exception's message
    assert r.message.startswith("unknown model 'nope'; this server serves 'm', 'clf', 'colors', 'pipe'")
    assert "404 Not Found" in r.message


@pytest.mark.parametrize("model, tensor, options, status, message", [
    ("m", Tensor(np.ones((2, 2)), "FP64"), {}, 422, "expected 3 features"),
    ("m", Tensor([1.0, 2.0, 3.0], "FP64", "data", [2, 3]), {}, 400, "inputs[0].data has 3 values; shape [2, 3] needs 6"),
    ("m", Tensor(X, "FP64", "json"), {"outputs": ["predict_proba"]}, 422,
     "unknown output 'predict_proba' for m/1; expected one of: predict"),
    ("m", Tensor(STRINGS[:, :1].repeat(3, axis=1), "BYTES"), {}, 422, "received BYTES"),
], ids=["feature count", "data and shape disagree", "unknown output", "BYTES to a numeric model"])
def test_bad_requests_are_4xx_with_our_message(client, base, model, tensor, options, status, message):
    r = client(job_infer, base, model, tensor, **options)
    assert isinstance(r, Refused) and r.status == status
    assert message in r.message


def test_a_bearer_token_goes_in_the_clients_headers(client):
    with mm.deploy("m", registry=make_registry(), target="http", token="s3cret") as dep:
        got = client(job_with_token, f"http://{dep.host}:{dep.port}", "s3cret")
    assert got["ready"] is True
    assert got["without"].status == 401 and "bearer token" in got["without"].message
    np.testing.assert_array_equal(got["with"].outputs["predict"], X @ W1)


def test_several_models_on_one_port_each_with_its_version_header(client):
    reg = make_registry()
    reg.register("m", linear(W1 * 2))  # m is at version 2
    calls = [("m", Tensor(X, "FP64")), ("clf", Tensor(X, "FP64", "json")),
             ("colors", Tensor(STRINGS[:1], "BYTES")), ("pipe", Tensor(X, "FP64"))] * 2
    with mm.deploy(MODELS, registry=reg, target="http") as dep:
        answers = client(job_concurrently, f"http://{dep.host}:{dep.port}", calls)
    want = {"m": ("m/2", X @ (W1 * 2)), "clf": ("clf/1", CLF.predict(X)), "colors": ("colors/1", [2.0]),
            "pipe": ("pipe/1", PIPE.predict(X))}
    assert [a.model_name for a in answers] == [model for model, _ in calls]
    for a in answers:
        version, predictions = want[a.model_name]
        assert a.headers["x-model-version"] == version
        np.testing.assert_array_equal(a.outputs["predict"], predictions)
    assert {a.model_name for a in answers if "predict_proba" in a.outputs} == {"clf"}
