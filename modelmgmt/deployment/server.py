"""The HTTP server behind the ``http`` target: standard library only.

``http.server.ThreadingHTTPServer`` (one thread per connection) runs in a background daemon
thread of the deploying process. Why this choice: no dependency, no child process to
supervise, and ``update``/``rollback`` swap the very object the request threads read. The
handler speaks HTTP/1.1 with keep-alive and TCP_NODELAY and writes each response with one
``send`` so a small request costs well under a millisecond on loopback. Numpy releases the
GIL in the model's matrix products, so a few concurrent clients scale on a multi-core host.

Endpoints (Open Inference Protocol v2, Triton's repository index, MLflow scoring)::

    GET  /v2/health/live      GET /v2/health/ready      GET /v2      POST /v2/repository/index
    GET  /v2/models/{name}[/versions/{v}]               GET /v2/models/{name}[/versions/{v}]/ready
    POST /v2/models/{name}[/versions/{v}]/infer
    POST /invocations[?model=NAME]   GET /ping   GET /health   GET /version      GET /metrics

The listen backlog is 1024 pending connections. Request bodies may be gzip or deflate
encoded; a body that stops arriving gets 408 after ``read_timeout`` seconds; JSON nested
deeper than 64 levels gets 400. MLflow endpoints answer errors as ``{"error_code",
"message"}``, OIP v2 endpoints as ``{"error"}``.
"""

from __future__ import annotations

import hmac
import json
import re
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import modelmgmt
from modelmgmt._prometheus import CONTENT_TYPE, Exposition
from modelmgmt.deployment.protocol import (
    BINARY_HEADER,
    MAX_JSON_DEPTH,
    BadRequest,
    BodyTooLarge,
    ColumnError,
    UnsupportedEncoding,
    binary_outputs,
    datatype_of,
    decode_body,
    decode_csv,
    decode_infer,
    decode_invocations,
    encode_infer_response,
    encode_infer_response_binary,
    json_depth_ok,
    parsed_depth,
    split_binary,
)
from modelmgmt.deployment.served import InputSignatureError
from modelmgmt.deployment.stats import RequestStats

__all__ = ["ModelServer", "Handler", "DEFAULT_MAX_BODY", "DEFAULT_READ_TIMEOUT", "BACKLOG", "metrics_text"]

DEFAULT_MAX_BODY = 16 * 1024 * 1024
#: seconds a request body may stay silent (no byte arriving) before the answer is 408
DEFAULT_READ_TIMEOUT = 5.0
#: pending connections the listening socket accepts
BACKLOG = 1024
#: seconds an idle keep-alive connection is kept open
IDLE_TIMEOUT = 60.0
#: seconds spent discarding an unread (refused) request body before closing
DRAIN_SECONDS = 2.0

_MODEL = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?(/ready|/infer)?$")
_JSON = "application/json"
#: endpoints that answer errors the MLflow way
_MLFLOW = frozenset({"invocations", "ping", "version"})
_MLFLOW_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "RESOURCE_DOES_NOT_EXIST",
                 405: "BAD_REQUEST", 408: "REQUEST_TIMEOUT", 409: "RESOURCE_CONFLICT", 411: "BAD_REQUEST",
                 413: "REQUEST_LIMIT_EXCEEDED", 415: "BAD_REQUEST", 422: "INVALID_PARAMETER_VALUE",
                 503: "TEMPORARILY_UNAVAILABLE"}


#: limits of the request header section (the standard library's own limits)
MAX_LINE = 65536
MAX_HEADERS = 100


class Headers:
    """Request headers by case-insensitive name (the part of the Message API the handler uses)."""

    __slots__ = ("_d",)

    def __init__(self, d: dict[str, str]) -> None:
        self._d = d

    def get(self, name: str, default: Any = None) -> Any:
        """The header's value (repeated headers joined by ', '), or ``default``."""
        return self._d.get(name.lower(), default)

    def __getitem__(self, name: str) -> Any:
        return self._d.get(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._d

    def items(self) -> list[tuple[str, str]]:
        """(lower-cased name, value) pairs."""
        return list(self._d.items())


class HTTPError(Exception):
    """An error response: status code, message and optional extra headers."""

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


class ModelServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its deployment, limits and open connections.

    ``reuse_port`` sets SO_REUSEPORT so several worker processes listen on one port;
    ``sock`` is an already bound listening socket to serve instead (inherited from a parent).
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = BACKLOG

    def __init__(self, address: tuple[str, int], deployment: Any, *, token: str | None,
                 max_body_bytes: int, read_timeout: float = DEFAULT_READ_TIMEOUT,
                 reuse_port: bool = False, sock: socket.socket | None = None, join: bool = False) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.allow_reuse_port = reuse_port
        self.join = join
        super().__init__(address, Handler, bind_and_activate=sock is None)
        if sock is not None:
            self.socket.close()
            self.socket = sock
            self.server_address = sock.getsockname()
        self.deployment = deployment
        self.token = token.encode() if token is not None else None
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout
        self.stats = RequestStats()
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()

    def server_bind(self) -> None:
        """Bind, with SO_REUSEPORT when asked (Linux, BSD, macOS)."""
        if self.allow_reuse_port:
            if not hasattr(socket, "SO_REUSEPORT"):
                raise OSError("SO_REUSEPORT is not available on this OS")
            if not self.join and self.server_address[1] != 0:
                # the first of a group: the port must be free, not shared with another server
                with socket.socket(self.address_family, socket.SOCK_STREAM) as probe:
                    probe.bind(self.server_address)
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Count (do not print) a connection that died outside a request, e.g. reset by the peer."""
        self.connection_errors = getattr(self, "connection_errors", 0) + 1

    def close_connections(self) -> None:
        """Shut down every open keep-alive connection (used by stop)."""
        with self.conn_lock:
            conns = list(self.connections)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    """Routes one request, checks auth and limits, and always answers (JSON errors)."""

    protocol_version = "HTTP/1.1"
    server_version = "modelmgmt"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    _expect_continue = False
    server: ModelServer

    # --- connection bookkeeping --------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        with self.server.conn_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.conn_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class name
        """Silent: a library does not print; use /metrics and status() instead."""

    # --- request line and headers ---------------------------------------------------------
    def parse_request(self) -> bool:
        """Parse the request line and headers; a lean replacement of the base class's.

        ``http.client.parse_headers`` builds an ``email.message.Message`` per request, the
        largest single CPU cost of a small request; a dict with lower-cased names does the
        same job here. Semantics kept: HTTP/1.1 keeps the connection open unless
        ``Connection: close``; ``Expect: 100-continue`` is answered; bad lines get 400,
        oversized header sections 431, HTTP/2+ 505.
        """
        self.command = None
        self.request_version = self.default_request_version
        self.close_connection = True
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")  # type: ignore[attr-defined]
        self.requestline = requestline
        words = requestline.split()
        if not words:
            return False
        if len(words) != 3 or not words[2].startswith("HTTP/"):
            return self._reject_request(400, f"bad request line {requestline[:100]!r}")
        command, path, version = words
        try:
            major, minor = (int(v) for v in version[5:].split(".", 1))
        except ValueError:
            return self._reject_request(400, f"bad HTTP version {version[:20]!r}")
        if major >= 2:
            return self._reject_request(505, f"HTTP version {version} is not supported; use HTTP/1.1")
        self.command, self.request_version = command, version
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS + 1):
            line = self.rfile.readline(MAX_LINE + 1)
            if len(line) > MAX_LINE:
                return self._reject_request(431, f"a header line is longer than {MAX_LINE} bytes")
            if line in (b"\r\n", b"\n", b""):
                break
            name, sep, value = line.decode("iso-8859-1").partition(":")
            if not sep or not name.strip():
                return self._reject_request(400, f"bad header line {line[:100]!r}")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        else:
            return self._reject_request(431, f"more than {MAX_HEADERS} header lines")
        self.headers = Headers(headers)  # type: ignore[assignment]
        if (major, minor) >= (1, 1):
            self.close_connection = False
        conntype = headers.get("connection", "").lower()
        if conntype == "close":
            self.close_connection = True
        elif conntype == "keep-alive":
            self.close_connection = False
        # answered in _read_json once auth and size are checked, so a refused body is never sent
        self._expect_continue = headers.get("expect", "").lower() == "100-continue" and (major, minor) >= (1, 1)
        return True

    def _reject_request(self, code: int, message: str) -> bool:
        self.close_connection = True
        self.server.stats.record("other", 0.0, code=str(code), error=True)
        self._send(code, json.dumps({"error": message}).encode(), _JSON, {})
        return False

    # --- methods -------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    # --- core ----------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        t0 = time.perf_counter()
        path, _, self.query = self.path.partition("?")
        endpoint, allowed, route = self._route(path)
        self._body_read = False
        extra: dict[str, str] = {}
        try:
            if route is None:
                raise HTTPError(404, f"no endpoint {path!r}; see GET /v2, POST /v2/repository/index "
                                     "and /v2/models/{name}")
            if method not in allowed:
                raise HTTPError(405, f"{method} is not allowed on {path}; use {', '.join(allowed)}",
                                {"Allow": ", ".join(allowed)})
            if endpoint not in ("live", "ready", "ping"):
                self._check_auth()
            code, body, ctype, extra = route(method)
        except HTTPError as exc:
            code, ctype, extra = exc.code, _JSON, exc.headers
            body = self._error_body(endpoint, exc.code, exc.message)
        except Exception as exc:  # never let a bug kill the connection without an answer
            code, ctype = 500, _JSON
            body = self._error_body(endpoint, 500, f"internal error: {type(exc).__name__}: {exc}")
        refused = not self._body_read and self._has_body()
        if refused:
            self.close_connection = True
        # counted before the write, so a client that has its answer also sees it in /metrics
        self.server.stats.record(endpoint, time.perf_counter() - t0, code=str(code), error=code >= 400)
        self._send(code, body, ctype, extra, head=(method == "HEAD"))
        if refused:
            self._drain()

    @staticmethod
    def _error_body(endpoint: str, code: int, message: str) -> bytes:
        if endpoint in _MLFLOW:
            return json.dumps({"error_code": _MLFLOW_CODES.get(code, "INTERNAL_ERROR"), "message": message}).encode()
        return json.dumps({"error": message}).encode()

    def _route(self, path: str):
        if path == "/v2/health/live":
            return "live", ("GET",), self._live
        if path == "/v2/health/ready":
            return "ready", ("GET",), self._ready
        if path in ("/v2", "/v2/"):
            return "server_metadata", ("GET",), self._server_metadata
        if path == "/v2/repository/index":
            return "repository_index", ("POST", "GET"), self._repository_index
        if path == "/invocations":
            return "invocations", ("POST",), self._invocations
        if path in ("/ping", "/health"):
            return "ping", ("GET", "HEAD"), self._ping
        if path == "/version":
            return "version", ("GET",), self._version
        if path == "/metrics":
            return "metrics", ("GET",), self._metrics
        m = _MODEL.match(path)
        if m:
            name, version, tail = m.groups()
            name = unquote(name)
            if tail == "/infer":
                return "infer", ("POST",), lambda _m: self._infer(name, version)
            if tail == "/ready":
                return "model_ready", ("GET",), lambda _m: self._model_ready(name, version)
            return "model_metadata", ("GET",), lambda _m: self._model_metadata(name, version)
        return "other", (), None

    def _check_auth(self) -> None:
        token = self.server.token
        if token is None:
            return
        got = self.headers.get("Authorization", "")
        scheme, _, cred = got.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(cred.strip().encode(), token):
            raise HTTPError(401, "missing or wrong bearer token; send 'Authorization: Bearer <token>'",
                            {"WWW-Authenticate": 'Bearer realm="modelmgmt"'})

    def _content_type(self, allowed: tuple[str, ...]) -> str:
        """The request's media type (JSON when absent); 415 naming the allowed ones otherwise."""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if not ctype or ctype == "application/x-www-form-urlencoded":
            # absent, or what urllib sends when the caller set nothing: the body decides (JSON)
            return _JSON
        if ctype in allowed or (ctype.endswith("+json") and _JSON in allowed):
            return ctype
        raise HTTPError(415, f"Content-Type {ctype!r} is not supported here; send {' or '.join(allowed)}")

    def _read_json(self) -> Any:
        return self._parse_json(self._read_body())

    @staticmethod
    def _parse_json(raw: bytes) -> Any:
        try:
            value = json.loads(raw)
        except RecursionError:
            raise HTTPError(400, f"request body nests JSON deeper than {MAX_JSON_DEPTH} levels") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPError(400, f"request body is not valid JSON: {exc}") from None
        return value

    def _parse_json_checked(self, raw: bytes) -> Any:
        """JSON of a request body, refused (400) when nested deeper than MAX_JSON_DEPTH."""
        shallow = json_depth_ok(raw)
        value = self._parse_json(raw)
        if not shallow and parsed_depth(value) > MAX_JSON_DEPTH:
            raise HTTPError(400, f"request body nests JSON deeper than {MAX_JSON_DEPTH} levels")
        return value

    def _read_body(self) -> bytes:
        te = self.headers.get("Transfer-Encoding")
        if te and te.lower() != "identity":
            raise HTTPError(411, f"Transfer-Encoding {te!r} is not supported; send Content-Length")
        length = self.headers.get("Content-Length")
        if length is None:
            raise HTTPError(411, "a request body needs a Content-Length header")
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            raise HTTPError(400, f"Content-Length must be a non-negative integer; got {length!r}") from None
        limit = self.server.max_body_bytes
        if n > limit:
            raise HTTPError(413, f"request body is {n} bytes; the limit is {limit} bytes (max_body_bytes)")
        encoding = self.headers.get("Content-Encoding")
        if encoding and encoding.strip().lower() not in ("identity", "gzip", "x-gzip", "deflate"):
            raise HTTPError(415, f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or identity")
        if self._expect_continue:
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._expect_continue = False
        self._body_read = True
        try:
            self.connection.settimeout(self.server.read_timeout)
            raw = self.rfile.read(n)
        except (TimeoutError, socket.timeout):
            self.close_connection = True
            raise HTTPError(408, f"request body did not arrive within {self.server.read_timeout:g} s "
                                 f"(Content-Length {n})") from None
        finally:
            try:
                self.connection.settimeout(IDLE_TIMEOUT)
            except OSError:
                pass
        if len(raw) != n:
            self.close_connection = True
            raise HTTPError(400, f"request body ended after {len(raw)} of {n} bytes")
        try:
            return decode_body(raw, encoding, limit)
        except UnsupportedEncoding as exc:
            raise HTTPError(415, str(exc)) from None
        except BodyTooLarge as exc:
            raise HTTPError(413, str(exc)) from None
        except BadRequest as exc:
            raise HTTPError(400, str(exc)) from None

    def _has_body(self) -> bool:
        te = self.headers.get("Transfer-Encoding")
        return bool(te and te.lower() != "identity") or self.headers.get("Content-Length", "0").strip() != "0"

    def _drain(self) -> None:
        """Discard an unread body (bounded in time) so the client reads our answer, then close."""
        if self._expect_continue:  # the client waits for 100 Continue: it never sent the body
            return
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = 0
        if n <= 0:
            return
        deadline = time.monotonic() + DRAIN_SECONDS
        try:
            self.connection.settimeout(DRAIN_SECONDS)
            while n > 0 and time.monotonic() < deadline:
                chunk = self.rfile.read1(min(n, 1 << 16)) if hasattr(self.rfile, "read1") else self.rfile.read(min(n, 1 << 16))
                if not chunk:
                    break
                n -= len(chunk)
        except OSError:
            pass

    def _send(self, code: int, body: bytes, ctype: str, extra: dict[str, str], *, head: bool = False) -> None:
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = ""
        lines = [
            f"HTTP/1.1 {code} {phrase}",
            f"Content-Type: {ctype}",
            f"Content-Length: {len(body)}",
        ]
        lines += [f"{k}: {v}" for k, v in extra.items()]
        if self.close_connection:
            lines.append("Connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if not head:
            data += body
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    # --- endpoints -------------------------------------------------------------------------
    def _ok(self, obj: Any, headers: dict[str, str] | None = None):
        return 200, json.dumps(obj).encode(), _JSON, headers or {}

    def _live(self, _method: str):
        return self._ok({"live": True})

    def _ready(self, _method: str):
        models = self.server.deployment.models
        ready = bool(models) and all(m._current is not None for m in models.values())
        if not ready:
            return 503, json.dumps({"ready": False}).encode(), _JSON, {}
        return self._ok({"ready": True})

    def _ping(self, _method: str):
        models = self.server.deployment.models
        if not models or any(m._current is None for m in models.values()):
            raise HTTPError(503, "no model is being served")
        return 200, b"\n", "application/json", {}

    def _version(self, _method: str):
        return 200, modelmgmt.__version__.encode(), "text/plain; charset=utf-8", {}

    def _server_metadata(self, _method: str):
        return self._ok({"name": "modelmgmt", "version": modelmgmt.__version__,
                         "extensions": ["binary_tensor_data", "model_repository", "invocations", "metrics"]})

    def _repository_index(self, method: str):
        only_ready = False
        if method == "POST" and self._has_body():
            self._content_type((_JSON,))
            body = self._parse_json_checked(self._read_body())
            if not isinstance(body, dict):
                raise HTTPError(400, f"repository index request must be a JSON object; got {type(body).__name__}")
            only_ready = body.get("ready") is True
        out = []
        for name, m in self.server.deployment.models.items():
            cur = m._current
            if cur is None and only_ready:
                continue
            out.append({"name": name, "version": str(cur.version.version) if cur else "",
                        "state": "READY" if cur is not None else "UNAVAILABLE",
                        **({"model": cur.version.name} if cur else {})})
        return self._ok(out)

    def _slot(self, name: str):
        models = self.server.deployment.models
        slot = models.get(name)
        if slot is None:
            raise HTTPError(404, f"unknown model {name!r}; this server serves {', '.join(map(repr, models))}")
        return slot

    def _served_for(self, name: str, version: str | None):
        slot = self._slot(name)
        try:
            served = slot.served()
        except Exception as exc:
            raise HTTPError(503, str(exc)) from None
        if version is not None and version != str(served.version.version):
            split = slot._split
            for s in (split.served if split is not None else ()):
                if str(s.version.version) == version:
                    return slot, s
            raise HTTPError(404, f"version {version!r} of model {name!r} is not served; "
                                 f"serving version {served.version.version}")
        return slot, served

    def _model_metadata(self, name: str, version: str | None):
        slot, served = self._served_for(name, version)
        n = served.n_features if served.n_features is not None else -1
        if served.accepts_objects:
            dtype = "BYTES"
        else:
            dtype = datatype_of(served.dtype) if served.dtype is not None else "FP64"
        meta = {
            "name": name,
            "versions": [str(served.version.version)],
            "platform": "modelmgmt",
            "model": served.version.name,
            "model_type": type(served.model).__name__,
            "inputs": [{"name": "input-0", "datatype": dtype, "shape": [-1, n]}],
            "outputs": served.output_specs(),
        }
        if served.feature_names is not None:
            meta["parameters"] = {"feature_names": list(served.feature_names)}
        return self._ok(meta)

    def _model_ready(self, name: str, version: str | None):
        self._served_for(name, version)
        return self._ok({"name": name, "ready": True})

    def _predict(self, slot: Any, X: Any, outputs: tuple[str, ...] | None, endpoint: str,
                 served: Any = None):
        try:
            if served is not None and served is not slot._current:
                return slot.run_on(served, X, outputs, endpoint=endpoint)
            return slot.run(X, outputs, endpoint=endpoint)
        except (InputSignatureError, ValueError, TypeError) as exc:  # signature or the model's own checks
            raise HTTPError(422, str(exc)) from None

    def _infer(self, name: str, version: str | None):
        slot, served = self._served_for(name, version)
        self._content_type((_JSON, "application/octet-stream"))
        raw = self._read_body()
        try:
            head, binary = split_binary(raw, self.headers.get(BINARY_HEADER))
            body = self._parse_json_checked(head)
            X, outputs, rid = decode_infer(body, binary)
        except BadRequest as exc:
            raise HTTPError(400, str(exc)) from None
        if X.dtype == object and not served.accepts_objects:
            raise HTTPError(422, f"expected input datatype {datatype_of(served.dtype or 'float64')} "
                                 "(numeric); received BYTES")
        used, result = self._predict(slot, X, outputs, "infer", served if version is not None else None)
        if version is not None and str(used.version.version) != version:  # swapped mid-request
            raise HTTPError(409, f"version {version} was replaced by {used.version.version} during the request")
        try:
            as_binary = binary_outputs(body, tuple(result))
        except BadRequest as exc:
            raise HTTPError(400, str(exc)) from None
        headers = {"X-Model-Version": used.label}
        if as_binary:
            payload, n = encode_infer_response_binary(name, used.version.version, result, rid, as_binary)
            return 200, payload, "application/octet-stream", {**headers, BINARY_HEADER: str(n)}
        resp = encode_infer_response(name, used.version.version, result, rid)
        return self._ok(resp, headers)

    def _invocations(self, _method: str):
        models = self.server.deployment.models
        wanted = None
        for part in (self.query or "").split("&"):
            k, _, v = part.partition("=")
            if unquote(k) == "model":
                wanted = unquote(v.replace("+", " "))
        if wanted is None:
            if len(models) != 1:
                raise HTTPError(400, f"this server serves {len(models)} models; name one with "
                                     f"/invocations?model=NAME (one of {', '.join(models)})")
            wanted = next(iter(models))
        slot = self._slot(wanted)
        ctype = self._content_type((_JSON, "text/csv", "application/csv"))
        try:
            served = slot.served()
        except Exception as exc:
            raise HTTPError(503, str(exc)) from None
        raw = self._read_body()
        try:
            if ctype in ("text/csv", "application/csv"):
                X = decode_csv(raw.decode("utf-8"), served.feature_names, served.accepts_objects)
            else:
                X = decode_invocations(self._parse_json_checked(raw), served.feature_names)
        except UnicodeDecodeError as exc:
            raise HTTPError(400, f"CSV body is not UTF-8: {exc}") from None
        except ColumnError as exc:
            raise HTTPError(422, str(exc)) from None
        except BadRequest as exc:
            raise HTTPError(400, str(exc)) from None
        used, result = self._predict(slot, X, ("predict",), "invocations")
        return self._ok({"predictions": result["predict"].tolist()}, {"X-Model-Version": used.label})

    def _metrics(self, _method: str):
        text = metrics_text(self.server.deployment, self.server.stats)
        return 200, text.encode(), CONTENT_TYPE, {}


def metrics_text(dep: Any, http_stats: RequestStats | None = None) -> str:
    """The /metrics text of a deployment: HTTP counters, then per model the served version,
    predictions, batching and shadow figures, then each monitor's own text."""
    exp = Exposition()
    if http_stats is not None:
        http_stats.write(exp)
    models = dep.models
    exp.family("modelmgmt_model_version", "Version number being served (0 when stopped).", "gauge",
               [({"name": n, "model": m._current.version.name if m._current else ""},
                 m._current.version.version if m._current else 0) for n, m in models.items()])
    exp.family("modelmgmt_uptime_seconds", "Seconds since the deployment started.", "gauge",
               [({}, time.perf_counter() - dep._t0)])
    exp.family("modelmgmt_predictions_total", "Answered predict calls (HTTP and in-process; rejected "
               "requests are not counted).", "counter", [({"name": n}, m.predictions) for n, m in models.items()])
    exp.family("modelmgmt_monitor_errors_total", "Monitor observe() calls that raised.", "counter",
               [({"name": n}, m.monitor_errors) for n, m in models.items()])
    batched = [(n, m.batcher.stats()) for n, m in models.items() if m.batcher is not None]
    if batched:
        exp.family("modelmgmt_batches_total", "Model calls made by the batcher.", "counter",
                   [({"name": n}, b["batches"]) for n, b in batched])
        exp.family("modelmgmt_batched_requests_total", "Requests answered through the batcher.", "counter",
                   [({"name": n}, b["requests"]) for n, b in batched])
    shadows = [(n, m._shadow.snapshot()) for n, m in models.items() if m._shadow is not None]
    if shadows:
        exp.family("modelmgmt_shadow_requests_total", "Requests mirrored to the shadow version.", "counter",
                   [({"name": n, "shadow": s["version"]}, s["requests"]) for n, s in shadows])
        exp.family("modelmgmt_shadow_errors_total", "Shadow predictions that raised.", "counter",
                   [({"name": n, "shadow": s["version"]}, s["errors"]) for n, s in shadows])
        exp.family("modelmgmt_shadow_agreement", "Share of rows whose predict output equals the served one.",
                   "gauge", [({"name": n, "shadow": s["version"]}, s["agreement"]) for n, s in shadows])
    text = exp.text()
    for m in models.values():
        mon = m.monitor
        if mon is None or not callable(getattr(mon, "to_prometheus", None)):
            continue
        try:
            extra = mon.to_prometheus()
            text += extra if extra.endswith("\n") else extra + "\n"
        except Exception as exc:  # the monitor must never break /metrics
            with m._monitor_lock:
                m.monitor_errors += 1
            text += f"# monitor.to_prometheus failed: {type(exc).__name__}\n"
    return text
