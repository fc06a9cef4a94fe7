"""The OIP v2 / MLflow codecs: round trips and malformed bodies (no sockets)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelmgmt.deployment.protocol import (
    DATATYPES,
    BadRequest,
    datatype_of,
    decode_infer,
    decode_invocations,
    encode_tensor,
)

NUMERIC = ["FP64", "FP32", "INT64", "INT32", "INT16", "INT8", "UINT8", "UINT16", "UINT32", "BOOL"]


@settings(max_examples=60, deadline=None)
@given(
    datatype=st.sampled_from(NUMERIC),
    shape=st.tuples(st.integers(1, 5), st.integers(1, 6)),
    nested=st.booleans(),
    data=st.data(),
)
def test_encode_decode_round_trip_through_json(datatype, shape, nested, data):
    dtype = np.dtype(DATATYPES[datatype])
    elements = None
    if dtype.kind == "f":
        elements = st.floats(-1e6, 1e6, width=dtype.itemsize * 8, allow_nan=False)
    arr = data.draw(hnp.arrays(dtype, shape, elements=elements))
    tensor = encode_tensor("input-0", arr)
    assert tensor["datatype"] == datatype and tensor["shape"] == list(shape)
    if nested:
        tensor["data"] = arr.tolist()
    body = json.loads(json.dumps({"inputs": [tensor]}))
    X, outputs, rid = decode_infer(body)
    assert outputs is None and rid is None  # omitted: every output the model has
    assert X.dtype == dtype
    np.testing.assert_array_equal(X, arr)


def test_datatype_names():
    assert datatype_of(np.float64) == "FP64" and datatype_of("int64") == "INT64"
    assert datatype_of(np.dtype("<U3")) == "BYTES"


@pytest.mark.parametrize(
    "body, match",
    [
        ([], "JSON object"),
        ({}, "exactly one tensor"),
        ({"inputs": [1]}, "must be an object"),
        ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "outputs": "predict"}, "'outputs'"),
        ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "parameters": 3}, "'parameters'"),
        ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}], "id": 5}, "'id'"),
        ({"inputs": [{"name": "x", "shape": [1, -2], "datatype": "FP32", "data": [1, 2]}]}, "non-negative"),
        ({"inputs": [{"name": "x", "shape": [1, True], "datatype": "FP32", "data": [1]}]}, "non-negative integers"),
        ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT8", "data": [300, 1]}]}, "cannot be read as INT8"),
        ({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "UINT8", "data": [-1]}]}, "cannot be read as UINT8"),
        ({"inputs": [{"name": "x", "shape": [1, 1], "datatype": "INT64", "data": [2 ** 70]}]}, "cannot be read as INT64"),
    ],
)
def test_decode_infer_rejects_malformed(body, match):
    with pytest.raises(BadRequest, match=match):
        decode_infer(body)


def test_outputs_and_parameters_select_predict_proba():
    t = {"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}
    assert decode_infer({"inputs": [t], "parameters": {"predict_proba": True}})[1] is None  # all outputs
    assert decode_infer({"inputs": [t], "outputs": [{"name": "predict_proba"}]})[1] == ("predict_proba",)
    assert decode_infer({"inputs": [t], "id": "a"})[2] == "a"


def test_decode_invocations_formats():
    rows = [[1.0, 2.0], [3.0, 4.0]]
    for body in ({"inputs": rows}, {"instances": rows}, {"dataframe_split": {"columns": ["a", "b"], "data": rows}}):
        np.testing.assert_array_equal(decode_invocations(body), rows)
    for bad, match in [([1], "JSON object"), ({"x": 1}, "'inputs'"), ({"inputs": 3}, "list of rows"),
                       ({"dataframe_split": [1]}, "dataframe_split"), ({"inputs": [[1], [1, 2]]}, "rectangular")]:
        with pytest.raises(BadRequest, match=match):
            decode_invocations(bad)


def test_infer_responses_always_carry_an_id():
    from modelmgmt.deployment.protocol import encode_infer_response

    out = {"predict": np.array([1.0])}
    assert encode_infer_response("m", 1, out, "req-7")["id"] == "req-7"  # the request's own
    a, b = (encode_infer_response("m", 1, out)["id"] for _ in range(2))
    assert a != b and len(a) == 32  # none given: a fresh UUID each time, as KServe and MLServer do
