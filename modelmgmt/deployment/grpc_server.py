"""Open Inference Protocol v2 over gRPC: KServe's ``inference.GRPCInferenceService`` (the
``grpc`` extra: grpcio and protobuf).

The ``http`` target starts it with ``grpc_port=P`` (0 picks a free port): the same deployment
answers both transports, so swaps, follow, canary split, shadow, batching and monitors apply
alike. Served RPCs: ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata,
ModelInfer (what ``tritonclient.grpc.InferenceServerClient`` calls for health, metadata and
inference); any other method of the service answers UNIMPLEMENTED.

No protoc output is checked in: the messages of ``grpc_predict_v2.proto`` are described here
in Python (:func:`file_descriptor`) and their classes built at run time, so any protobuf
runtime works. Requests are translated into the OIP v2 request the HTTP endpoints decode and
answered by the same code (:class:`~modelmgmt.deployment.endpoints.Endpoints`): ``outputs``
omitted returns every output listed in the metadata, the same datatypes and the same
messages. Errors map to status codes: malformed request or input that does not fit the
signature -> INVALID_ARGUMENT, unknown model or version -> NOT_FOUND, missing or wrong
``authorization: Bearer ...`` metadata (when a token is set) -> UNAUTHENTICATED, a request
over ``max_body_bytes`` -> RESOURCE_EXHAUSTED. Each ModelInfer answer (and refusal, once a
version is chosen) carries the initial metadata ``x-model-version: NAME/N``.

Outputs come back in the form the inputs came: ``raw_output_contents`` for a request that used
``raw_input_contents`` (as tritonclient sends), typed ``contents`` otherwise; the request
parameter ``binary_data_output`` (bool) chooses explicitly.

With ``workers=N`` every worker process serves gRPC on the same port, as HTTP: the deploying
process binds it first (with SO_REUSEPORT, refusing a port another server listens on) and
each worker joins the real port with the same token and message-size limit, so the kernel
spreads connections over the processes; each process's RPC counters are collected and summed
on ``/metrics`` like its HTTP ones (:mod:`modelmgmt.deployment.workers`).
"""

from __future__ import annotations

import errno
import hmac
import json
import math
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from modelmgmt.deployment.endpoints import Endpoints, HTTPError
from modelmgmt.deployment.protocol import DATATYPES, BadRequest, datatype_of, decode_infer
from modelmgmt.deployment.stats import RequestStats
from modelmgmt.errors import InvalidArgumentError, ModelmgmtError

__all__ = ["GRPCServer", "SERVICE", "METHODS", "file_descriptor", "message_classes", "check_grpc_port",
           "import_grpc"]

#: the full name of the gRPC service (method paths are ``/inference.GRPCInferenceService/Method``)
SERVICE = "inference.GRPCInferenceService"

#: served methods -> (request message, response message)
METHODS: dict[str, tuple[str, str]] = {
    "ServerLive": ("ServerLiveRequest", "ServerLiveResponse"),
    "ServerReady": ("ServerReadyRequest", "ServerReadyResponse"),
    "ModelReady": ("ModelReadyRequest", "ModelReadyResponse"),
    "ServerMetadata": ("ServerMetadataRequest", "ServerMetadataResponse"),
    "ModelMetadata": ("ModelMetadataRequest", "ModelMetadataResponse"),
    "ModelInfer": ("ModelInferRequest", "ModelInferResponse"),
}

#: methods that never need the token (the probes, as on HTTP)
OPEN_METHODS = frozenset({"ServerLive", "ServerReady"})

#: threads answering RPCs (numpy releases the GIL in the model's products; batching needs several)
MAX_WORKERS = 16

#: OIP v2 datatype -> the InferTensorContents field holding its values (FP16 has none: raw only)
CONTENTS_FIELD = {
    "BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
    "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
    "UINT64": "uint64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}

_EXTRA = "gRPC serving needs grpcio and protobuf: pip install 'modelmgmt[grpc]'"


def import_grpc() -> Any:
    """The ``grpc`` module, or an ImportError naming the extra to install."""
    try:
        import grpc
        from google.protobuf import descriptor_pb2  # noqa: F401 - checked here, used below
    except ImportError as exc:
        raise ImportError(_EXTRA) from exc
    return grpc


def check_grpc_port(value: Any, workers: int = 1) -> int | None:
    """``grpc_port`` of the http target: None (no gRPC) or an int in 0..65535 (0: a free port).
    With ``workers > 1`` every worker listens on it with SO_REUSEPORT: InvalidArgumentError
    where the OS has none."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise InvalidArgumentError(f"grpc_port must be None or an int in 0..65535 (0 picks a free port); got {value!r}")
    if workers > 1 and not hasattr(socket, "SO_REUSEPORT"):
        raise InvalidArgumentError(f"grpc_port with workers > 1 needs SO_REUSEPORT (every worker listens on the "
                                   f"gRPC port), which this OS does not have (got workers={workers}); "
                                   "serve gRPC with workers=1")
    import_grpc()  # a missing extra is said before anything loads
    return value


# --- the messages of grpc_predict_v2.proto, described in Python ----------------------------------

_PARAMS = ("map", "InferParameter")
#: message -> fields (name, number, type, repeated); a type starting with an upper-case letter is
#: a message of the file, ("map", V) a map<string, V>; nested messages are "Outer.Inner"
_MESSAGES: dict[str, list[tuple[str, int, Any, bool]]] = {
    "ServerLiveRequest": [],
    "ServerLiveResponse": [("live", 1, "bool", False)],
    "ServerReadyRequest": [],
    "ServerReadyResponse": [("ready", 1, "bool", False)],
    "ModelReadyRequest": [("name", 1, "string", False), ("version", 2, "string", False)],
    "ModelReadyResponse": [("ready", 1, "bool", False)],
    "ServerMetadataRequest": [],
    "ServerMetadataResponse": [("name", 1, "string", False), ("version", 2, "string", False),
                               ("extensions", 3, "string", True)],
    "ModelMetadataRequest": [("name", 1, "string", False), ("version", 2, "string", False)],
    "ModelMetadataResponse": [("name", 1, "string", False), ("versions", 2, "string", True),
                              ("platform", 3, "string", False),
                              ("inputs", 4, "ModelMetadataResponse.TensorMetadata", True),
                              ("outputs", 5, "ModelMetadataResponse.TensorMetadata", True)],
    "ModelMetadataResponse.TensorMetadata": [("name", 1, "string", False), ("datatype", 2, "string", False),
                                             ("shape", 3, "int64", True)],
    "ModelInferRequest": [("model_name", 1, "string", False), ("model_version", 2, "string", False),
                          ("id", 3, "string", False), ("parameters", 4, _PARAMS, True),
                          ("inputs", 5, "ModelInferRequest.InferInputTensor", True),
                          ("outputs", 6, "ModelInferRequest.InferRequestedOutputTensor", True),
                          ("raw_input_contents", 7, "bytes", True)],
    "ModelInferRequest.InferInputTensor": [("name", 1, "string", False), ("datatype", 2, "string", False),
                                           ("shape", 3, "int64", True), ("parameters", 4, _PARAMS, True),
                                           ("contents", 5, "InferTensorContents", False)],
    "ModelInferRequest.InferRequestedOutputTensor": [("name", 1, "string", False), ("parameters", 2, _PARAMS, True)],
    "ModelInferResponse": [("model_name", 1, "string", False), ("model_version", 2, "string", False),
                           ("id", 3, "string", False), ("parameters", 4, _PARAMS, True),
                           ("outputs", 5, "ModelInferResponse.InferOutputTensor", True),
                           ("raw_output_contents", 6, "bytes", True)],
    "ModelInferResponse.InferOutputTensor": [("name", 1, "string", False), ("datatype", 2, "string", False),
                                             ("shape", 3, "int64", True), ("parameters", 4, _PARAMS, True),
                                             ("contents", 5, "InferTensorContents", False)],
    "InferParameter": [("bool_param", 1, "bool", False), ("int64_param", 2, "int64", False),
                       ("string_param", 3, "string", False)],  # one of them (oneof parameter_choice)
    "InferTensorContents": [("bool_contents", 1, "bool", True), ("int_contents", 2, "int32", True),
                            ("int64_contents", 3, "int64", True), ("uint_contents", 4, "uint32", True),
                            ("uint64_contents", 5, "uint64", True), ("fp32_contents", 6, "float", True),
                            ("fp64_contents", 7, "double", True), ("bytes_contents", 8, "bytes", True)],
}


def file_descriptor() -> Any:
    """``grpc_predict_v2.proto`` (package ``inference``) as a FileDescriptorProto: the messages
    of the served methods, field numbers as KServe defines them, and the service."""
    from google.protobuf import descriptor_pb2 as pb

    F = pb.FieldDescriptorProto
    scalar = {"bool": F.TYPE_BOOL, "string": F.TYPE_STRING, "bytes": F.TYPE_BYTES, "int32": F.TYPE_INT32,
              "int64": F.TYPE_INT64, "uint32": F.TYPE_UINT32, "uint64": F.TYPE_UINT64, "float": F.TYPE_FLOAT,
              "double": F.TYPE_DOUBLE}
    fdp = pb.FileDescriptorProto(name="modelmgmt/grpc_predict_v2.proto", package="inference", syntax="proto3")
    made: dict[str, Any] = {}
    for full, fields in _MESSAGES.items():
        outer, _, inner = full.partition(".")
        msg = made[outer].nested_type.add(name=inner) if inner else fdp.message_type.add(name=outer)
        made[full] = msg
        for name, number, kind, repeated in fields:
            f = msg.field.add(name=name, number=number, json_name=_camel(name),
                              label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
            if isinstance(kind, tuple):  # map<string, V>: a nested XEntry message, as protoc writes it
                entry = msg.nested_type.add(name=_camel(name, upper=True) + "Entry")
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, json_name="key", label=F.LABEL_OPTIONAL, type=F.TYPE_STRING)
                entry.field.add(name="value", number=2, json_name="value", label=F.LABEL_OPTIONAL,
                                type=F.TYPE_MESSAGE, type_name=f".inference.{kind[1]}")
                f.type, f.type_name = F.TYPE_MESSAGE, f".inference.{full}.{entry.name}"
            elif kind in scalar:
                f.type = scalar[kind]
            else:
                f.type, f.type_name = F.TYPE_MESSAGE, f".inference.{kind}"
    param = made["InferParameter"]
    param.oneof_decl.add(name="parameter_choice")
    for f in param.field:
        f.oneof_index = 0
    service = fdp.service.add(name=SERVICE.rsplit(".", 1)[1])
    for method, (req, resp) in METHODS.items():
        service.method.add(name=method, input_type=f".inference.{req}", output_type=f".inference.{resp}")
    return fdp


def _camel(name: str, upper: bool = False) -> str:
    head, *rest = name.split("_")
    return (head.capitalize() if upper else head) + "".join(p.capitalize() for p in rest)


_CLASSES: dict[str, Any] = {}


def message_classes() -> dict[str, Any]:
    """Message classes by name (``"ModelInferRequest"``, ``"ModelInferResponse.InferOutputTensor"``,
    ...), built once from :func:`file_descriptor` in a pool of their own (so a generated
    ``inference`` package loaded by a client in the same process never clashes)."""
    if not _CLASSES:
        import_grpc()
        from google.protobuf import descriptor_pool, message_factory

        pool = descriptor_pool.DescriptorPool()
        pool.AddSerializedFile(file_descriptor().SerializeToString())
        _CLASSES.update({name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"inference.{name}"))
                         for name in _MESSAGES})
    return _CLASSES


# --- request and response translation ------------------------------------------------------------

def _param_value(p: Any) -> Any:
    which = p.WhichOneof("parameter_choice")
    return None if which is None else getattr(p, which)


def decode_request(request: Any) -> tuple[np.ndarray, tuple[str, ...] | None, str | None, bool]:
    """(input array, requested outputs or None for all, id, whether to answer raw) of a
    ModelInferRequest, decoded as the HTTP endpoint decodes the same OIP v2 request; BadRequest
    for anything malformed."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise BadRequest(f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs; "
                         "send one per input, in the order of inputs")
    specs, binary = [], None
    for i, t in enumerate(request.inputs):
        where = f"inputs[{i}]"
        spec: dict[str, Any] = {"name": t.name, "shape": list(t.shape), "datatype": t.datatype}
        typed = [f.name for f, _ in t.contents.ListFields()]
        if raw:
            if typed:
                raise BadRequest(f"{where} has both contents and raw_input_contents; send one")
            spec["parameters"] = {"binary_data_size": len(raw[i])}
            binary = raw[i]
        elif t.datatype in DATATYPES:
            field = CONTENTS_FIELD.get(t.datatype)
            if field is None:
                raise BadRequest(f"{where} is {t.datatype}, which has no typed contents; send raw_input_contents")
            if typed and typed != [field]:
                raise BadRequest(f"{where} is {t.datatype}: its values go in contents.{field}; "
                                 f"got contents.{', contents.'.join(typed)}")
            values = getattr(t.contents, field)
            if all(d >= 0 for d in t.shape) and len(values) != math.prod(t.shape):
                raise BadRequest(f"{where}.contents.{field} has {len(values)} values; "
                                 f"shape {list(t.shape)} needs {math.prod(t.shape)}")
            if field == "bytes_contents":  # the binary BYTES form: each element a 4-byte length, then its bytes
                binary = b"".join(len(v).to_bytes(4, "little") + v for v in values)
                spec["parameters"] = {"binary_data_size": len(binary)}
            else:
                spec["data"] = list(values)
        else:
            spec["data"] = []  # the decoder names the known datatypes
        specs.append(spec)
    body: dict[str, Any] = {"inputs": specs}
    if request.outputs:
        body["outputs"] = [{"name": o.name} for o in request.outputs]
    params = {k: _param_value(v) for k, v in request.parameters.items()}
    if params:
        body["parameters"] = params
    try:
        X, outputs, _ = decode_infer(body, None if binary is None else memoryview(binary))
    except OverflowError as exc:  # an integer outside its datatype's range
        raise BadRequest(f"inputs[0] has a value out of range for {specs[0]['datatype']}: {exc}") from None
    as_raw = params.get("binary_data_output")
    if not isinstance(as_raw, bool):
        as_raw = bool(raw)
    return X, outputs, request.id or None, as_raw


def _raw_bytes(arr: np.ndarray) -> bytes:
    if datatype_of(arr.dtype) == "BYTES":
        items = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in arr.ravel()]
        return b"".join(len(v).to_bytes(4, "little") + v for v in items)
    return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()


def encode_response(name: str, version: Any, outputs: dict[str, np.ndarray], rid: str | None,
                    as_raw: bool) -> Any:
    """The ModelInferResponse: each output's name, datatype and shape, values in
    ``raw_output_contents`` (``as_raw``, or a datatype without typed contents) or in ``contents``."""
    classes = message_classes()
    resp = classes["ModelInferResponse"](model_name=name, model_version=str(version), id=rid or "")
    arrays = {k: np.asarray(v) for k, v in outputs.items()}
    as_raw = as_raw or any(datatype_of(a.dtype) not in CONTENTS_FIELD for a in arrays.values())
    for out_name, arr in arrays.items():
        dt = datatype_of(arr.dtype)
        t = resp.outputs.add(name=out_name, datatype=dt, shape=list(arr.shape))
        if as_raw:
            resp.raw_output_contents.append(_raw_bytes(arr))
        elif dt == "BYTES":
            t.contents.bytes_contents.extend(v if isinstance(v, bytes) else str(v).encode("utf-8") for v in arr.ravel())
        else:
            getattr(t.contents, CONTENTS_FIELD[dt]).extend(arr.ravel().tolist())
    return resp


# --- the server ------------------------------------------------------------------------------------

#: HTTP status of an endpoint error -> gRPC status code name
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 409: "ABORTED", 413: "RESOURCE_EXHAUSTED",
           415: "INVALID_ARGUMENT", 422: "INVALID_ARGUMENT", 503: "UNAVAILABLE"}


class GRPCServer(Endpoints):
    """A gRPC server answering OIP v2 for ``deployment.models`` (the HTTP endpoints' code,
    reached through :class:`~modelmgmt.deployment.endpoints.Endpoints`); ``address`` is
    ``host:port`` with the real port. ``stats`` counts RPCs by method and status code.

    ``reuse_port`` listens with SO_REUSEPORT so that the worker processes of one deployment
    serve the same port: the first of the group (``join=False``) refuses a port another
    server already listens on and checks that the port it bound can be shared; the others
    (``join=True``) bind the real port the first one got."""

    def __init__(self, deployment: Any, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None,
                 max_message_bytes: int = 16 * 1024 * 1024, max_workers: int = MAX_WORKERS,
                 reuse_port: bool = False, join: bool = False) -> None:
        grpc = import_grpc()
        self.grpc = grpc
        self.server = self  # what Endpoints reads: self.server.deployment
        self.deployment = deployment
        self.token = token.encode() if token is not None else None
        self.stats = RequestStats()
        self.classes = message_classes()
        shown = f"[{host}]" if ":" in host else host
        if reuse_port and not join and port != 0:
            _probe(host, port, shared=False)  # the port must be free, not shared with another server
        handlers = {}
        for method, (req, resp) in METHODS.items():
            fn = getattr(self, f"_rpc_{method}")
            handlers[method] = grpc.unary_unary_rpc_method_handler(
                self._wrap(method, fn), request_deserializer=self.classes[req].FromString,
                response_serializer=self.classes[resp].SerializeToString)
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="modelmgmt-grpc")
        self._server = grpc.server(
            self._executor, handlers=[grpc.method_handlers_generic_handler(SERVICE, handlers)],
            options=[("grpc.max_receive_message_length", int(max_message_bytes)),
                     ("grpc.so_reuseport", int(reuse_port))])
        try:
            bound = self._server.add_insecure_port(f"{shown}:{port}")
        except RuntimeError as exc:
            bound, why = 0, f": {exc}"
        else:
            why = ""
        try:
            if not bound:
                raise ModelmgmtError(f"cannot listen for gRPC on {shown}:{port}{why}")
            if reuse_port and not join:
                _probe(host, int(bound), shared=True)  # the workers will be able to join it
        except BaseException:
            self._server.stop(None)
            self._executor.shutdown(wait=False)
            raise
        self.host, self.port = host, int(bound)
        self.address = f"{shown}:{self.port}"
        self._server.start()

    def stop(self, grace: float | None = 1.0) -> None:
        """Stop accepting RPCs; running ones get ``grace`` seconds to finish."""
        self._server.stop(grace).wait(timeout=(grace or 0) + 5)
        self._executor.shutdown(wait=False)

    # --- transport: auth, errors, statistics -------------------------------------------------
    def _wrap(self, method: str, fn: Any) -> Any:
        codes = self.grpc.StatusCode

        def handle(request: Any, context: Any) -> Any:
            t0 = time.perf_counter()
            try:
                if method not in OPEN_METHODS:
                    self._check_auth(context)
                answer = fn(request, context)
                self.stats.record(method, time.perf_counter() - t0, code="OK")
                return answer
            except HTTPError as exc:
                code, message = getattr(codes, _STATUS.get(exc.code, "INTERNAL")), exc.message
            except BadRequest as exc:
                code, message = codes.INVALID_ARGUMENT, str(exc)
            except Exception as exc:  # never let a bug end the call without a status
                code, message = codes.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"
            self.stats.record(method, time.perf_counter() - t0, code=code.name, error=True)
            context.abort(code, message)

        return handle

    def _check_auth(self, context: Any) -> None:
        if self.token is None:
            return
        got = dict(context.invocation_metadata()).get("authorization", "")
        scheme, _, cred = got.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(cred.strip().encode(), self.token):
            raise HTTPError(401, "missing or wrong bearer token; send the metadata 'authorization: Bearer <token>'")

    # --- the RPCs ---------------------------------------------------------------------------------
    def _rpc_ServerLive(self, request: Any, context: Any) -> Any:
        return self.classes["ServerLiveResponse"](live=True)

    def _rpc_ServerReady(self, request: Any, context: Any) -> Any:
        return self.classes["ServerReadyResponse"](ready=self._ready("GET")[0] == 200)

    def _rpc_ModelReady(self, request: Any, context: Any) -> Any:
        try:  # not served (unknown, stopped, another version) is "not ready", as tritonclient's HTTP client says
            self._model_ready(request.name, request.version or None)
        except HTTPError:
            return self.classes["ModelReadyResponse"](ready=False)
        return self.classes["ModelReadyResponse"](ready=True)

    def _rpc_ServerMetadata(self, request: Any, context: Any) -> Any:
        meta = json.loads(self._server_metadata("GET")[1])  # extensions: HTTP's, none of them gRPC's
        return self.classes["ServerMetadataResponse"](name=meta["name"], version=meta["version"])

    def _rpc_ModelMetadata(self, request: Any, context: Any) -> Any:
        meta = self._metadata(request.name, request.version or None)
        tensor = self.classes["ModelMetadataResponse.TensorMetadata"]
        return self.classes["ModelMetadataResponse"](
            name=meta["name"], versions=meta["versions"], platform=meta["platform"],
            inputs=[tensor(**t) for t in meta["inputs"]], outputs=[tensor(**t) for t in meta["outputs"]])

    def _rpc_ModelInfer(self, request: Any, context: Any) -> Any:
        name, version = request.model_name, request.model_version or None
        slot, served = self._served_for(name, version)
        label = served.label
        try:
            X, outputs, rid, as_raw = decode_request(request)
            used, result = self._run_infer(slot, served, X, outputs, version, endpoint="grpc_infer")
            label = used.label
            return encode_response(name, used.version.version, result, rid, as_raw)
        finally:
            context.send_initial_metadata((("x-model-version", label),))


def _probe(host: str, port: int, *, shared: bool) -> None:
    """Bind (and close) a socket to each address of ``host:port``: with ``shared``, with
    SO_REUSEPORT, to check that a listener there lets the workers join it; otherwise without,
    to check that no other server listens there (SO_REUSEADDR: a closed connection's
    TIME_WAIT is not a server). ModelmgmtError naming the port when the bind fails."""
    shown = f"[{host}]" if ":" in host else host
    try:
        addresses = {(fam, addr) for fam, _, _, _, addr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except OSError as exc:
        raise ModelmgmtError(f"cannot listen for gRPC on {shown}:{port}: {exc}") from exc
    for family, addr in sorted(addresses, key=repr):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                if shared:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                elif os.name == "posix":
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(addr)
            except OSError as exc:
                if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                    continue  # an address family this host does not have (grpc skips it too)
                if shared:
                    raise ModelmgmtError(
                        f"the gRPC port {shown}:{port} cannot be shared by worker processes: grpc did not listen "
                        f"on it with SO_REUSEPORT on this OS ({exc}); serve gRPC with workers=1") from exc
                raise ModelmgmtError(f"cannot listen for gRPC on {shown}:{port}: {exc}") from exc
