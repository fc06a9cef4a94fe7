"""Request/response codecs: Open Inference Protocol v2 (KServe, Triton) and MLflow /invocations.

OIP v2 requests and responses may use the binary tensor data extension (Triton, KServe): the
body is a JSON header of ``Inference-Header-Content-Length`` bytes followed by the raw
little-endian, row-major bytes of each tensor whose ``parameters`` give ``binary_data_size``.
That skips JSON number parsing, which is what bounds large batches.

Decoding turns a parsed JSON body into a numpy array; anything structurally wrong raises
:class:`BadRequest` (HTTP 400). Whether the array fits the served model (feature count,
dtype) is checked later against the input signature (HTTP 422).

>>> decode_infer({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]})
(array([[1., 2.]]), ('predict',), None)
>>> encode_tensor("predict", np.array([0, 1]))
{'name': 'predict', 'shape': [2], 'datatype': 'INT64', 'data': [0, 1]}
"""

from __future__ import annotations

import json
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
    "BINARY_HEADER",
    "split_binary",
    "binary_outputs",
    "encode_infer_response_binary",
]

#: HTTP header giving the length of the JSON part of a binary-extension body
BINARY_HEADER = "Inference-Header-Content-Length"

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


class _BinaryPart:
    """The raw bytes after the JSON header, handed out to the tensors in order."""

    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.offset = 0

    def take(self, n: int, where: str) -> memoryview:
        if self.offset + n > len(self.data):
            raise BadRequest(f"{where} needs {n} bytes of binary data; only {len(self.data) - self.offset} are left")
        chunk = self.data[self.offset:self.offset + n]
        self.offset += n
        return chunk


def split_binary(raw: bytes, header_length: str | None) -> tuple[bytes, memoryview | None]:
    """(JSON header, binary part) of a request body; no binary part without the header."""
    if header_length is None:
        return raw, None
    try:
        n = int(header_length)
        if n < 0:
            raise ValueError
    except ValueError:
        raise BadRequest(f"{BINARY_HEADER} must be a non-negative integer; got {header_length!r}") from None
    if n > len(raw):
        raise BadRequest(f"{BINARY_HEADER} is {n} but the body has only {len(raw)} bytes")
    return raw[:n], memoryview(raw)[n:]


def _binary_tensor(spec: dict, where: str, shape: list, datatype: str, binary: _BinaryPart | None) -> np.ndarray:
    size = spec["parameters"]["binary_data_size"]
    if binary is None:
        raise BadRequest(f"{where}.parameters.binary_data_size needs a binary body: send the JSON header's "
                         f"length in the {BINARY_HEADER} HTTP header, followed by the tensor bytes")
    if "data" in spec:
        raise BadRequest(f"{where} has both data and parameters.binary_data_size; send one")
    if datatype == "BYTES":
        raise BadRequest(f"{where}: BYTES tensors cannot be sent as binary data here; use a numeric datatype")
    dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
    need = math.prod(shape) * dtype.itemsize
    if isinstance(size, bool) or not isinstance(size, int) or size != need:
        raise BadRequest(f"{where}.parameters.binary_data_size must be {need} "
                         f"({math.prod(shape)} x {dtype.itemsize}-byte {datatype}) for shape {shape}; got {size!r}")
    return np.frombuffer(binary.take(size, where), dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _tensor(spec: Any, where: str, binary: _BinaryPart | None = None) -> np.ndarray:
    if not isinstance(spec, dict):
        raise BadRequest(f"{where} must be an object with name, shape, datatype and data; got {type(spec).__name__}")
    params = spec.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise BadRequest(f"{where}.parameters must be an object; got {type(params).__name__}")
    is_binary = bool(params) and "binary_data_size" in params
    missing = [k for k in ("name", "shape", "datatype", *(() if is_binary else ("data",))) if k not in spec]
    if missing:
        raise BadRequest(f"{where} is missing {', '.join(missing)}; expected name, shape, datatype and data "
                         "(or parameters.binary_data_size)")
    shape, datatype = spec["shape"], spec["datatype"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise BadRequest(f"{where}.shape must be a list of non-negative integers; got {shape!r}")
    if datatype not in DATATYPES:
        raise BadRequest(f"{where}.datatype must be one of {', '.join(DATATYPES)}; got {datatype!r}")
    if is_binary:
        return _binary_tensor(spec, where, shape, datatype, binary)
    data = spec["data"]
    try:
        arr = np.asarray(data, dtype=DATATYPES[datatype])
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"{where}.data cannot be read as {datatype}: {exc}") from None
    if arr.size != math.prod(shape):
        raise BadRequest(f"{where}.data has {arr.size} values; shape {shape} needs {math.prod(shape)}")
    return arr.reshape(shape)


def decode_infer(body: Any, binary: memoryview | None = None) -> tuple[np.ndarray, tuple[str, ...], Any]:
    """(input array, requested output names, request id) of an OIP v2 inference request.

    Outputs default to ``predict``; ``"outputs": [{"name": "predict_proba"}]`` or
    ``"parameters": {"predict_proba": true}`` ask for class probabilities too. ``binary`` is
    the raw part of a binary-extension body (see :func:`split_binary`); all of it must be used.
    """
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object with 'inputs'; got {type(body).__name__}")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        got = f"{len(inputs)} inputs" if isinstance(inputs, list) else type(inputs).__name__
        raise BadRequest(f"'inputs' must be a list with exactly one tensor (n_samples, n_features); got {got}")
    part = None if binary is None else _BinaryPart(binary)
    X = _tensor(inputs[0], "inputs[0]", part)
    if part is not None and part.offset != len(part.data):
        raise BadRequest(f"{len(part.data) - part.offset} bytes of binary data follow the JSON header "
                         "but no input claims them (parameters.binary_data_size)")
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


def binary_outputs(body: dict[str, Any], outputs: tuple[str, ...]) -> set[str]:
    """Names of the outputs to send as binary data: all with ``"parameters":
    {"binary_data_output": true}``, or each output asking ``"parameters": {"binary_data": true}``."""
    params = body.get("parameters") or {}
    if params.get("binary_data_output") is True:
        return set(outputs)
    chosen = set()
    for o in body.get("outputs") or ():
        p = o.get("parameters")
        if p is not None and not isinstance(p, dict):
            raise BadRequest(f"outputs[{o.get('name')!r}].parameters must be an object; got {type(p).__name__}")
        if p and p.get("binary_data") is True:
            chosen.add(o["name"])
    return chosen


def encode_infer_response_binary(model_name: str, model_version: Any, outputs: dict[str, np.ndarray],
                                 rid: Any, binary: set[str]) -> tuple[bytes, int]:
    """(body, JSON header length) of a response with the ``binary`` outputs as raw bytes.

    Outputs of strings (BYTES) stay in the JSON header.
    """
    head = encode_infer_response(model_name, model_version, {}, rid)
    chunks: list[bytes] = []
    for name, arr in outputs.items():
        arr = np.asarray(arr)
        if name in binary and arr.dtype in _BY_NUMPY:
            raw = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
            head["outputs"].append({"name": name, "shape": list(arr.shape), "datatype": datatype_of(arr.dtype),
                                    "parameters": {"binary_data_size": len(raw)}})
            chunks.append(raw)
        else:
            head["outputs"].append(encode_tensor(name, arr))
    header = json.dumps(head).encode()
    return header + b"".join(chunks), len(header)


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
