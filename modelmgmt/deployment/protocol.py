"""Request/response codecs: Open Inference Protocol v2 (KServe, Triton) and MLflow /invocations.

Decoding turns a parsed JSON body into a numpy array; anything structurally wrong raises
:class:`BadRequest` (HTTP 400). Whether the array fits the served model (feature count,
dtype) is checked later against the input signature (HTTP 422).

>>> decode_infer({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]})
(array([[1., 2.]]), ('predict',), None)
>>> encode_tensor("predict", np.array([0, 1]))
{'name': 'predict', 'shape': [2], 'datatype': 'INT64', 'data': [0, 1]}
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "BadRequest",
    "DATATYPES",
    "datatype_of",
    "decode_infer",
    "encode_tensor",
    "encode_infer_response",
    "decode_invocations",
    "decode_csv",
]

#: OIP v2 tensor datatypes -> numpy dtypes (BYTES is accepted and then refused by the signature)
DATATYPES: dict[str, str] = {
    "BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
    "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64",
    "FP16": "float16", "FP32": "float32", "FP64": "float64", "BYTES": "object",
}
_BY_NUMPY = {np.dtype(v): k for k, v in DATATYPES.items() if v != "object"}


class BadRequest(ValueError):
    """A malformed request body (HTTP 400)."""


def datatype_of(dtype: Any) -> str:
    """The OIP v2 datatype name of a numpy dtype (strings and objects are BYTES)."""
    return _BY_NUMPY.get(np.dtype(dtype), "BYTES")


def _tensor(spec: Any, where: str) -> np.ndarray:
    if not isinstance(spec, dict):
        raise BadRequest(f"{where} must be an object with name, shape, datatype and data; got {type(spec).__name__}")
    missing = [k for k in ("name", "shape", "datatype", "data") if k not in spec]
    if missing:
        raise BadRequest(f"{where} is missing {', '.join(missing)}; expected name, shape, datatype and data")
    shape, datatype, data = spec["shape"], spec["datatype"], spec["data"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise BadRequest(f"{where}.shape must be a list of non-negative integers; got {shape!r}")
    if datatype not in DATATYPES:
        raise BadRequest(f"{where}.datatype must be one of {', '.join(DATATYPES)}; got {datatype!r}")
    try:
        arr = np.asarray(data, dtype=DATATYPES[datatype])
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"{where}.data cannot be read as {datatype}: {exc}") from None
    if arr.size != math.prod(shape):
        raise BadRequest(f"{where}.data has {arr.size} values; shape {shape} needs {math.prod(shape)}")
    return arr.reshape(shape)


def decode_infer(body: Any) -> tuple[np.ndarray, tuple[str, ...], Any]:
    """(input array, requested output names, request id) of an OIP v2 inference request.

    Outputs default to ``predict``; ``"outputs": [{"name": "predict_proba"}]`` or
    ``"parameters": {"predict_proba": true}`` ask for class probabilities too.
    """
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object with 'inputs'; got {type(body).__name__}")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        got = f"{len(inputs)} inputs" if isinstance(inputs, list) else type(inputs).__name__
        raise BadRequest(f"'inputs' must be a list with exactly one tensor (n_samples, n_features); got {got}")
    X = _tensor(inputs[0], "inputs[0]")
    outputs: tuple[str, ...] = ("predict",)
    if "outputs" in body:
        req = body["outputs"]
        if not isinstance(req, list) or not req or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in req):
            raise BadRequest("'outputs' must be a non-empty list of objects with a 'name'")
        outputs = tuple(dict.fromkeys(o["name"] for o in req))
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise BadRequest(f"'parameters' must be an object; got {type(params).__name__}")
    if params.get("predict_proba") and "predict_proba" not in outputs:
        outputs = (*outputs, "predict_proba")
    rid = body.get("id")
    if rid is not None and not isinstance(rid, str):
        raise BadRequest(f"'id' must be a string; got {type(rid).__name__}")
    return X, outputs, rid


def encode_tensor(name: str, arr: np.ndarray) -> dict[str, Any]:
    """One OIP v2 output tensor (flat row-major data)."""
    arr = np.asarray(arr)
    return {"name": name, "shape": list(arr.shape), "datatype": datatype_of(arr.dtype), "data": arr.ravel().tolist()}


def encode_infer_response(model_name: str, model_version: Any, outputs: dict[str, np.ndarray], rid: Any = None) -> dict[str, Any]:
    """The OIP v2 inference response body."""
    body: dict[str, Any] = {"model_name": model_name, "model_version": str(model_version)}
    if rid is not None:
        body["id"] = rid
    body["outputs"] = [encode_tensor(k, v) for k, v in outputs.items()]
    return body


def decode_invocations(body: Any) -> np.ndarray:
    """The input rows of an MLflow-style request: ``inputs``, ``instances`` or ``dataframe_split``."""
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object with 'inputs'; got {type(body).__name__}")
    if "inputs" in body:
        rows = body["inputs"]
    elif "instances" in body:
        rows = body["instances"]
    elif "dataframe_split" in body:
        split = body["dataframe_split"]
        if not isinstance(split, dict) or "data" not in split:
            raise BadRequest("'dataframe_split' must be an object with 'data' (and optionally 'columns')")
        rows = split["data"]
    else:
        raise BadRequest(f"expected a JSON object with 'inputs' (or 'instances', 'dataframe_split'); got keys {sorted(body)}")
    if not isinstance(rows, list):
        raise BadRequest(f"'inputs' must be a list of rows [[...], ...]; got {type(rows).__name__}")
    try:
        arr = np.asarray(rows)
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"'inputs' must be a rectangular list of rows: {exc}") from None
    if arr.dtype == object:
        raise BadRequest("'inputs' must be a rectangular list of rows of numbers")
    return arr


def decode_csv(text: str) -> np.ndarray:
    """Rows of a CSV body (MLflow's ``text/csv``); a first line that is not numeric is a header."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise BadRequest("CSV body has no rows")
    try:
        [float(v) for v in lines[0].split(",")]
    except ValueError:
        lines = lines[1:]  # column names
        if not lines:
            raise BadRequest("CSV body has a header but no rows") from None
    rows = [ln.split(",") for ln in lines]
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise BadRequest(f"CSV rows must all have the same number of fields; got {sorted(widths)}")
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError as exc:
        raise BadRequest(f"CSV fields must be numbers: {exc}") from None
