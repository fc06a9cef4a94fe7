"""Request/response codecs: Open Inference Protocol v2 (KServe, Triton) and MLflow /invocations.

OIP v2 requests and responses may use the binary tensor data extension (Triton, KServe): the
body is a JSON header of ``Inference-Header-Content-Length`` bytes followed by the raw
little-endian, row-major bytes of each tensor whose ``parameters`` give ``binary_data_size``.
That skips JSON number parsing, which is what bounds large batches.

Decoding turns a parsed JSON body into a numpy array; anything structurally wrong raises
:class:`BadRequest` (HTTP 400). Whether the array fits the served model (feature count,
dtype) is checked later against the input signature (HTTP 422).

>>> decode_infer({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]})
(array([[1., 2.]]), None, None)
>>> encode_tensor("predict", np.array([0, 1]))
{'name': 'predict', 'shape': [2], 'datatype': 'INT64', 'data': [0, 1]}
"""

from __future__ import annotations

import csv
import io
import json
import math
import uuid
import zlib
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
    "decode_body",
    "ColumnError",
    "UnsupportedEncoding",
    "BodyTooLarge",
    "MAX_JSON_DEPTH",
    "json_depth_ok",
    "parsed_depth",
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
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise BadRequest(f"{where}.parameters.binary_data_size must be a non-negative integer; got {size!r}")
        return _binary_bytes(binary.take(size, where), shape, where)
    dtype = np.dtype(DATATYPES[datatype]).newbyteorder("<")
    need = math.prod(shape) * dtype.itemsize
    if isinstance(size, bool) or not isinstance(size, int) or size != need:
        raise BadRequest(f"{where}.parameters.binary_data_size must be {need} "
                         f"({math.prod(shape)} x {dtype.itemsize}-byte {datatype}) for shape {shape}; got {size!r}")
    return np.frombuffer(binary.take(size, where), dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _binary_bytes(raw: memoryview, shape: list, where: str) -> np.ndarray:
    """A BYTES tensor in binary form: each element a 4-byte little-endian length, then its bytes
    (decoded as UTF-8 strings where they are text)."""
    n = math.prod(shape)
    out = np.empty(n, dtype=object)
    pos = 0
    for i in range(n):
        if pos + 4 > len(raw):
            raise BadRequest(f"{where}: binary BYTES data ends after {i} of {n} elements")
        k = int.from_bytes(raw[pos:pos + 4], "little")
        item = bytes(raw[pos + 4:pos + 4 + k])
        if len(item) != k:
            raise BadRequest(f"{where}: binary BYTES element {i} needs {k} bytes; only {len(item)} are left")
        try:
            out[i] = item.decode("utf-8")
        except UnicodeDecodeError:
            out[i] = item
        pos += 4 + k
    if pos != len(raw):
        raise BadRequest(f"{where}: {len(raw) - pos} bytes of binary BYTES data are left over")
    return out.reshape(shape)


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
    except (ValueError, TypeError, OverflowError) as exc:  # OverflowError: 300 as INT8, say
        raise BadRequest(f"{where}.data cannot be read as {datatype}: {exc}") from None
    if arr.size != math.prod(shape):
        raise BadRequest(f"{where}.data has {arr.size} values; shape {shape} needs {math.prod(shape)}")
    return arr.reshape(shape)


def decode_infer(body: Any, binary: memoryview | None = None) -> tuple[np.ndarray, tuple[str, ...] | None, Any]:
    """(input array, requested output names, request id) of an OIP v2 inference request.

    Outputs None (omitted) means every output the model has, as the spec says;
    ``"outputs": [{"name": "predict"}]`` picks some. ``binary`` is
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
    outputs: tuple[str, ...] | None = None  # every output the model has
    if "outputs" in body:
        req = body["outputs"]
        if not isinstance(req, list) or not req or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in req):
            raise BadRequest("'outputs' must be a non-empty list of objects with a 'name'")
        outputs = tuple(dict.fromkeys(o["name"] for o in req))
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise BadRequest(f"'parameters' must be an object; got {type(params).__name__}")
    if params.get("predict_proba") and outputs is not None and "predict_proba" not in outputs:
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
    """The OIP v2 inference response body. Its ``id`` is the request's, or a fresh UUID when
    the request had none (the spec's response schema requires one; KServe and MLServer do the same)."""
    body: dict[str, Any] = {"model_name": model_name, "model_version": str(model_version),
                            "id": rid if rid is not None else uuid.uuid4().hex}
    body["outputs"] = [encode_tensor(k, v) for k, v in outputs.items()]
    return body


def binary_outputs(body: dict[str, Any], outputs: tuple[str, ...]) -> set[str]:
    """Names of the outputs to send as binary data: ``"parameters": {"binary_data_output": true}``
    sets the default for all, and each output's own ``"parameters": {"binary_data": ...}``
    overrides it (Triton's binary tensor data extension)."""
    params = body.get("parameters") or {}
    chosen = set(outputs) if params.get("binary_data_output") is True else set()
    for o in body.get("outputs") or ():
        p = o.get("parameters")
        if p is not None and not isinstance(p, dict):
            raise BadRequest(f"outputs[{o.get('name')!r}].parameters must be an object; got {type(p).__name__}")
        if p and "binary_data" in p:
            if not isinstance(p["binary_data"], bool):
                raise BadRequest(f"outputs[{o.get('name')!r}].parameters.binary_data must be true or false")
            (chosen.add if p["binary_data"] else chosen.discard)(o["name"])
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


class ColumnError(ValueError):
    """Named columns that do not match the served version's feature names (HTTP 422)."""


def _table(rows: Any, what: str) -> np.ndarray:
    """A 2-D array of rows: float64 when every value is a number (null is NaN), else objects."""
    if not isinstance(rows, list):
        raise BadRequest(f"{what} must be a list of rows [[...], ...]; got {type(rows).__name__}")
    try:
        arr = np.asarray(rows)
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"{what} must be a rectangular list of rows: {exc}") from None
    if arr.dtype.kind in "biuf":
        return arr
    try:
        arr = np.array(rows, dtype=object)
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"{what} must be a rectangular list of rows: {exc}") from None
    if arr.ndim < 1 or any(isinstance(v, (list, dict)) for v in arr.ravel()[:1000]):
        raise BadRequest(f"{what} must be a rectangular list of rows of numbers or strings")
    return _numeric_if_possible(arr)


def _numeric_if_possible(arr: np.ndarray) -> np.ndarray:
    flat = arr.ravel()
    if all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in flat):
        return np.array([np.nan if v is None else v for v in flat], dtype=np.float64).reshape(arr.shape)
    for v in flat:
        if not (v is None or isinstance(v, (str, int, float, bool))):
            raise BadRequest(f"values must be numbers, strings or null; got {type(v).__name__}")
    return arr


def _from_columns(columns: dict[str, Any], names: tuple[str, ...] | None, what: str, named: bool) -> np.ndarray:
    """Rows from ``{column: [values...]}`` (or ``{column: value}`` for one row), in feature order."""
    order = _column_order(list(columns), names, what, named)
    cols = [columns[c] for c in order]
    cols = [c if isinstance(c, list) else [c] for c in cols]
    lengths = {len(c) for c in cols}
    if len(lengths) != 1:
        raise BadRequest(f"{what}: every column needs the same number of values; got lengths {sorted(lengths)}")
    rows = [list(r) for r in zip(*cols)]
    return _table(rows, what)


def _column_order(given: list[str], names: tuple[str, ...] | None, what: str, named: bool = True) -> list[str]:
    """The given columns in feature order. With trained names (``named``) they must be exactly
    those names; with only the x0, x1, ... fallback, other names are taken in the order given
    (as MLflow does for a model without a signature)."""
    if names is None:
        return given
    if set(given) == set(names) and len(given) == len(names):
        return list(names)
    if not named:
        return given
    missing = [n for n in names if n not in given]
    unknown = [g for g in given if g not in names]
    raise ColumnError(f"{what}: columns must be the model's features {list(names)}; "
                      f"missing {missing}, unknown {unknown}")


def _from_records(records: Any, names: tuple[str, ...] | None, what: str, named: bool) -> np.ndarray:
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise BadRequest(f"{what} must be a non-empty list of objects {{column: value}}")
    order = _column_order(list(records[0]), names, what, named)
    rows = []
    for i, r in enumerate(records):
        if set(r) != set(order):
            raise ColumnError(f"{what}[{i}] has columns {sorted(r)}; expected {order}")
        rows.append([r[c] for c in order])
    return _table(rows, what)


def decode_invocations(body: Any, feature_names: tuple[str, ...] | None = None, named: bool = True) -> np.ndarray:
    """The input rows of an MLflow scoring request.

    Accepted (MLflow 2/3): ``dataframe_split`` (``columns``, ``data``), ``dataframe_records``
    (list of ``{column: value}``), ``instances`` (list of rows or of objects) and ``inputs``
    (list of rows, or an object of columns). Column names are the version's feature names
    (any order); ``named=False`` (names are only the x0, x1, ... fallback) also takes other
    names, in the order given.
    """
    if not isinstance(body, dict):
        raise BadRequest(f"request body must be a JSON object with 'inputs'; got {type(body).__name__}")
    keys = [k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in body]
    if len(keys) != 1:
        raise BadRequest("expected a JSON object with exactly one of 'dataframe_split', 'dataframe_records', "
                         f"'instances' or 'inputs'; got keys {sorted(body)}")
    key = keys[0]
    value = body[key]
    if key == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise BadRequest("'dataframe_split' must be an object with 'data' (and optionally 'columns')")
        cols = value.get("columns")
        if cols is None:
            return _table(value["data"], "'dataframe_split.data'")
        if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols) or len(set(cols)) != len(cols):
            raise BadRequest("'dataframe_split.columns' must be a list of distinct column names")
        data = value["data"]
        if not isinstance(data, list) or not all(isinstance(r, list) and len(r) == len(cols) for r in data):
            raise BadRequest(f"'dataframe_split.data' must be a list of rows with {len(cols)} values each")
        order = _column_order(cols, feature_names, "'dataframe_split'", named)
        idx = [cols.index(c) for c in order]
        return _table([[r[i] for i in idx] for r in data], "'dataframe_split.data'")
    if key == "dataframe_records":
        return _from_records(value, feature_names, "'dataframe_records'", named)
    if key == "instances" and isinstance(value, list) and value and isinstance(value[0], dict):
        return _from_records(value, feature_names, "'instances'", named)
    if key == "inputs" and isinstance(value, dict):
        return _from_columns(value, feature_names, "'inputs'", named)
    return _table(value, f"'{key}'")


def decode_csv(text: str, feature_names: tuple[str, ...] | None = None, strings: bool = False) -> np.ndarray:
    """Rows of a CSV body (MLflow's ``text/csv``). A first line naming the features (or, for
    numbers-only data, any non-numeric first line) is a header; columns follow it.
    ``strings`` lets non-numeric fields through (as objects) for models that take them."""
    rows = [r for r in csv.reader(io.StringIO(text)) if any(f.strip() for f in r)]
    if not rows:
        raise BadRequest("CSV body has no rows")
    header = None
    first = [f.strip() for f in rows[0]]
    if feature_names is not None and set(first) == set(feature_names) and len(first) == len(feature_names):
        header = first
    elif not all(_is_number(f) for f in first) and (not strings or (len(rows) > 1 and all(_is_number(f) for f in rows[1]))):
        header = first
    if header is not None:
        rows = rows[1:]
        if not rows:
            raise BadRequest("CSV body has a header but no rows")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise BadRequest(f"CSV rows must all have the same number of fields; got {sorted(widths)}")
    if header is not None and feature_names is not None and set(header) == set(feature_names):
        idx = [header.index(c) for c in feature_names]
        rows = [[r[i] for i in idx] for r in rows]
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError as exc:
        if not strings:
            raise BadRequest(f"CSV fields must be numbers: {exc}") from None
    return np.array([[_csv_value(f) for f in r] for r in rows], dtype=object)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _csv_value(s: str) -> Any:
    s = s.strip()
    if s == "":
        return None
    try:
        return float(s)
    except ValueError:
        return s


def decode_body(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """The request body after ``Content-Encoding`` (gzip, deflate or identity), at most
    ``limit`` bytes once decompressed. UnsupportedEncoding (415) or BodyTooLarge (413)."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return raw
    if enc in ("gzip", "x-gzip"):
        return _inflate(raw, 16 + zlib.MAX_WBITS, enc, limit)
    if enc == "deflate":  # zlib-wrapped as RFC 9110 says; raw deflate as some clients send
        try:
            return _inflate(raw, zlib.MAX_WBITS, enc, limit)
        except BadRequest:
            return _inflate(raw, -zlib.MAX_WBITS, enc, limit)
    raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or identity")


def _inflate(raw: bytes, wbits: int, enc: str, limit: int) -> bytes:
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"request body is not valid {enc} data: {exc}") from None
    if len(out) > limit or d.unconsumed_tail:
        raise BodyTooLarge(f"decompressed request body is over the limit of {limit} bytes (max_body_bytes)")
    if not d.eof:
        raise BadRequest(f"request body is truncated {enc} data")
    return out


class UnsupportedEncoding(ValueError):
    """A Content-Encoding the server does not decode (HTTP 415)."""


class BodyTooLarge(ValueError):
    """A body over the size limit (HTTP 413)."""


#: deepest JSON nesting accepted in a request body
MAX_JSON_DEPTH = 64
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


def json_depth_ok(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """True when brackets in ``raw`` never nest deeper than ``max_depth`` (fast, vectorised;
    brackets inside strings are counted too, so a False is re-checked on the parsed value)."""
    if len(raw) <= max_depth * 2:
        return True
    steps = _OPEN[np.frombuffer(raw, dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0)) <= max_depth


def parsed_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion."""
    depth, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            depth = max(depth, d)
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return depth
