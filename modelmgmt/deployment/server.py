"""The HTTP server behind the ``http`` target: standard library only.

``http.server.ThreadingHTTPServer`` (one thread per connection) runs in a background daemon
thread of the deploying process. Why this choice: no dependency, no child process to
supervise, and ``update``/``rollback`` swap the very object the request threads read. The
handler speaks HTTP/1.1 with keep-alive and TCP_NODELAY and writes each response with one
``send`` so a small request costs well under a millisecond on loopback. Numpy releases the
GIL in the model's matrix products, so a few concurrent clients scale on a multi-core host.

Endpoints (Open Inference Protocol v2 plus MLflow-style ``/invocations``)::

    GET  /v2/health/live      GET /v2/health/ready      GET /v2
    GET  /v2/models/{name}[/versions/{v}]               GET /v2/models/{name}[/versions/{v}]/ready
    POST /v2/models/{name}[/versions/{v}]/infer         POST /invocations      GET /metrics
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

from modelmgmt.deployment.protocol import (
    BINARY_HEADER,
    BadRequest,
    binary_outputs,
    datatype_of,
    decode_csv,
    decode_infer,
    decode_invocations,
    encode_infer_response,
    encode_infer_response_binary,
    split_binary,
)
from modelmgmt.deployment.serving import InputSignatureError
from modelmgmt.deployment.stats import RequestStats, escape_label

__all__ = ["ModelServer", "Handler", "DEFAULT_MAX_BODY"]

DEFAULT_MAX_BODY = 16 * 1024 * 1024
#: seconds an idle keep-alive connection is kept open
IDLE_TIMEOUT = 60.0
#: seconds spent discarding an unread (refused) request body before closing
DRAIN_SECONDS = 2.0

_MODEL = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?(/ready|/infer)?$")
_JSON = "application/json"


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
    """A ThreadingHTTPServer that knows its deployment, limits and open connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], deployment: Any, *, token: str | None,
                 max_body_bytes: int) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.deployment = deployment
        self.token = token.encode() if token is not None else None
        self.max_body_bytes = max_body_bytes
        self.stats = RequestStats()
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()

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
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
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
        path = self.path.split("?", 1)[0]
        endpoint, allowed, route = self._route(path)
        self._body_read = False
        extra: dict[str, str] = {}
        try:
            if route is None:
                raise HTTPError(404, f"no endpoint {path!r}; see GET /v2 and /v2/models/{{name}}")
            if method not in allowed:
                raise HTTPError(405, f"{method} is not allowed on {path}; use {', '.join(allowed)}",
                                {"Allow": ", ".join(allowed)})
            if endpoint not in ("live", "ready"):
                self._check_auth()
            code, body, ctype, extra = route(method)
        except HTTPError as exc:
            code, ctype = exc.code, _JSON
            body = json.dumps({"error": exc.message}).encode()
            extra = exc.headers
        except Exception as exc:  # never let a bug kill the connection without an answer
            code, ctype = 500, _JSON
            body = json.dumps({"error": f"internal error: {type(exc).__name__}: {exc}"}).encode()
        refused = not self._body_read and self._has_body()
        if refused:
            self.close_connection = True
        # counted before the write, so a client that has its answer also sees it in /metrics
        self.server.stats.record(endpoint, time.perf_counter() - t0, code=str(code), error=code >= 400)
        self._send(code, body, ctype, extra, head=(method == "HEAD"))
        if refused:
            self._drain()

    def _route(self, path: str):
        if path == "/v2/health/live":
            return "live", ("GET",), self._live
        if path == "/v2/health/ready":
            return "ready", ("GET",), self._ready
        if path in ("/v2", "/v2/"):
            return "server_metadata", ("GET",), self._server_metadata
        if path == "/invocations":
            return "invocations", ("POST",), self._invocations
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

    def _read_json(self) -> Any:
        return self._parse_json(self._read_body())

    @staticmethod
    def _parse_json(raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPError(400, f"request body is not valid JSON: {exc}") from None

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
        if self._expect_continue:
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._expect_continue = False
        raw = self.rfile.read(n)
        self._body_read = True
        if len(raw) != n:
            self.close_connection = True
            raise HTTPError(400, f"request body ended after {len(raw)} of {n} bytes")
        return raw

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
        ready = self.server.deployment._current is not None
        if not ready:
            return 503, json.dumps({"ready": False}).encode(), _JSON, {}
        return self._ok({"ready": True})

    def _server_metadata(self, _method: str):
        from modelmgmt import __version__

        return self._ok({"name": "modelmgmt", "version": __version__, "extensions": ["invocations", "metrics"]})

    def _served_for(self, name: str, version: str | None):
        dep = self.server.deployment
        if name != dep.name:
            raise HTTPError(404, f"unknown model {name!r}; this server serves {dep.name!r}")
        try:
            served = dep.served()
        except Exception as exc:
            raise HTTPError(503, str(exc)) from None
        if version is not None and version != str(served.version.version):
            raise HTTPError(404, f"version {version!r} of model {name!r} is not served; "
                                 f"serving version {served.version.version}")
        return served

    def _model_metadata(self, name: str, version: str | None):
        served = self._served_for(name, version)
        n = served.n_features if served.n_features is not None else -1
        dtype = datatype_of(served.dtype) if served.dtype is not None else "FP64"
        outputs = [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
        if served.is_classifier:
            labels = getattr(served.model, "classes_", None)
            outputs[0]["datatype"] = datatype_of(getattr(labels, "dtype", "int64"))
            k = len(labels) if labels is not None else -1
            outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, k]})
        return self._ok({
            "name": self.server.deployment.name,
            "versions": [str(served.version.version)],
            "platform": "modelmgmt",
            "model": served.version.name,
            "model_type": type(served.model).__name__,
            "inputs": [{"name": "input-0", "datatype": dtype, "shape": [-1, n]}],
            "outputs": outputs,
        })

    def _model_ready(self, name: str, version: str | None):
        self._served_for(name, version)
        return self._ok({"name": name, "ready": True})

    def _predict(self, X: Any, outputs: tuple[str, ...], endpoint: str):
        dep = self.server.deployment
        try:
            return dep.run(X, outputs, endpoint=endpoint)
        except InputSignatureError as exc:
            raise HTTPError(422, str(exc)) from None
        except ValueError as exc:  # the model's own input checks
            raise HTTPError(422, str(exc)) from None
        except TypeError as exc:
            raise HTTPError(422, str(exc)) from None

    def _infer(self, name: str, version: str | None):
        served = self._served_for(name, version)
        raw = self._read_body()
        try:
            head, binary = split_binary(raw, self.headers.get(BINARY_HEADER))
            body = self._parse_json(head)
            X, outputs, rid = decode_infer(body, binary)
            as_binary = binary_outputs(body, outputs)
        except BadRequest as exc:
            raise HTTPError(400, str(exc)) from None
        if X.dtype == object:
            raise HTTPError(422, f"expected input datatype {datatype_of(served.dtype or 'float64')} "
                                 "(numeric); received BYTES")
        used, result = self._predict(X, outputs, "infer")
        if version is not None and str(used.version.version) != version:  # swapped mid-request
            raise HTTPError(409, f"version {version} was replaced by {used.version.version} during the request")
        headers = {"X-Model-Version": str(used.version.version)}
        if as_binary:
            payload, n = encode_infer_response_binary(self.server.deployment.name, used.version.version,
                                                      result, rid, as_binary)
            return 200, payload, "application/octet-stream", {**headers, BINARY_HEADER: str(n)}
        resp = encode_infer_response(self.server.deployment.name, used.version.version, result, rid)
        return self._ok(resp, headers)

    def _invocations(self, _method: str):
        csv = self.headers.get("Content-Type", "").split(";")[0].strip().lower() == "text/csv"
        try:
            X = decode_csv(self._read_body().decode("utf-8")) if csv else decode_invocations(self._read_json())
        except UnicodeDecodeError as exc:
            raise HTTPError(400, f"CSV body is not UTF-8: {exc}") from None
        except BadRequest as exc:
            raise HTTPError(400, str(exc)) from None
        used, result = self._predict(X, ("predict",), "invocations")
        return self._ok({"predictions": result["predict"].tolist()},
                        {"X-Model-Version": str(used.version.version)})

    def _metrics(self, _method: str):
        dep = self.server.deployment
        text = self.server.stats.to_prometheus("modelmgmt")
        text += dep.prometheus_extra()
        return 200, text.encode(), "text/plain; version=0.0.4; charset=utf-8", {}


def version_gauge(dep: Any) -> str:
    """The served-version gauge, uptime and monitor error counter of a deployment."""
    cur = dep._current
    lines = [
        "# HELP modelmgmt_model_version Version number being served (0 when stopped).",
        "# TYPE modelmgmt_model_version gauge",
    ]
    if cur is not None:
        lines.append(f'modelmgmt_model_version{{name="{escape_label(dep.name)}",model="{escape_label(cur.version.name)}"}} '
                     f"{cur.version.version}")
    else:
        lines.append(f'modelmgmt_model_version{{name="{escape_label(dep.name)}",model=""}} 0')
    st = {"uptime_s": time.perf_counter() - dep._t0, "requests": dep.stats.count,
          "monitor_errors": dep.monitor_errors}
    lines += [
        "# HELP modelmgmt_uptime_seconds Seconds since the deployment started.",
        "# TYPE modelmgmt_uptime_seconds gauge",
        f"modelmgmt_uptime_seconds {st['uptime_s']!r}",
        "# HELP modelmgmt_predictions_total Predict calls on the deployment (HTTP and in-process).",
        "# TYPE modelmgmt_predictions_total counter",
        f"modelmgmt_predictions_total {st['requests']}",
        "# HELP modelmgmt_monitor_errors_total Monitor observe() calls that raised.",
        "# TYPE modelmgmt_monitor_errors_total counter",
        f"modelmgmt_monitor_errors_total {st['monitor_errors']}",
    ]
    return "\n".join(lines) + "\n"
