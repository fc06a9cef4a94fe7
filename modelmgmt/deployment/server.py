"""The HTTP server behind the ``http`` target: standard library only.

``http.server.ThreadingHTTPServer`` (one thread per connection) runs in a background daemon
thread of the deploying process. Why this choice: no dependency, no child process to
supervise, and ``update``/``rollback`` swap the very object the request threads read. The
handler speaks HTTP/1.1 with keep-alive and TCP_NODELAY and writes each response with one
``send`` so a small request costs well under a millisecond on loopback. The CPU-bound part of
a request (decoding the body, running the model, encoding the answer) passes through one
:class:`~modelmgmt._threads.Gate` per server: many runnable request threads fighting over the
GIL cost more than they overlap (a 4x512 MLP served 1.5-1.8x more requests per second at 32
clients behind the gate). Reading a body and writing an answer stay outside it, so a slow
client holds nobody up, and a request waiting in the batcher steps out. A BLAS call still
uses every core; ``workers=N`` scales the Python part across cores.

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

from modelmgmt._threads import Gate
from modelmgmt.deployment.endpoints import JSON_TYPE as _JSON
from modelmgmt.deployment.endpoints import MAX_JSON_DEPTH, Endpoints, HTTPError, error_body, metrics_text
from modelmgmt.deployment.protocol import (
    BadRequest,
    BodyTooLarge,
    UnsupportedEncoding,
    decode_body,
    json_depth_ok,
    parsed_depth,
)
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
        self.gate = Gate()  # one request thread at a time in CPU-bound work (see Gate)

    def server_bind(self) -> None:
        """Bind, with SO_REUSEPORT when asked (Linux, BSD, macOS)."""
        if self.allow_reuse_port:
            if not hasattr(socket, "SO_REUSEPORT"):
                raise OSError("SO_REUSEPORT is not available on this OS")
            if not self.join and self.server_address[1] != 0:
                # the first of a group: the port must be free, not shared with another server
                with socket.socket(self.address_family, socket.SOCK_STREAM) as probe:
                    # SO_REUSEADDR: connections of a previous run still in TIME_WAIT do not
                    # count; a server listening there does (bind fails)
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


class Handler(Endpoints, BaseHTTPRequestHandler):
    """Routes one request, checks auth and limits, and always answers (JSON errors); the
    endpoints themselves are in :class:`~modelmgmt.deployment.endpoints.Endpoints`."""

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
        self._gated = False
        self.version_label: str | None = None  # set by inference endpoints once a version is chosen
        extra: dict[str, str] = {}
        try:
            if not self._has_body():
                self._enter_gate()  # else once the body is in (_read_body): a slow body holds nobody up
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
            body = error_body(endpoint, exc.code, exc.message)
        except Exception as exc:  # never let a bug kill the connection without an answer
            code, ctype = 500, _JSON
            body = error_body(endpoint, 500, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            self._leave_gate()  # the answer is written (and a refused body drained) outside
        if self.version_label is not None and "X-Model-Version" not in extra:
            extra = {**extra, "X-Model-Version": self.version_label}  # errors of inference too
        refused = not self._body_read and self._has_body()
        if refused:
            self.close_connection = True
        # counted before the write, so a client that has its answer also sees it in /metrics
        self.server.stats.record(endpoint, time.perf_counter() - t0, code=str(code), error=code >= 400)
        self._send(code, body, ctype, extra, head=(method == "HEAD"))
        if refused:
            self._drain()

    def _enter_gate(self) -> None:
        if not self._gated:
            self.server.gate.enter()
            self._gated = True

    def _leave_gate(self) -> None:
        if self._gated:
            self._gated = False
            self.server.gate.leave()

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
        self._enter_gate()  # the body is in: the CPU-bound part starts here
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
