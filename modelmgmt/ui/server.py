"""The read-only web UI over a registry: a small threaded HTTP server rendering Jinja2 pages.

Every page has a JSON twin under ``/api``. Only GET and HEAD are served (anything else is
405). Pages load nothing from elsewhere: CSS, JavaScript and the icon come from ``/static``
and the Content-Security-Policy forbids every other origin, inline scripts included.
"""

from __future__ import annotations

import hmac
import json
import math
import re
import sys
import threading
import traceback
from http import cookies
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from modelmgmt import __version__
from modelmgmt._validation import check_int
from modelmgmt.errors import InvalidArgumentError, NotFoundError
from modelmgmt.registry import Registry
from modelmgmt.ui.views import VIEWS, Page, Query
from modelmgmt.viz import environment, stylesheet

__all__ = ["UIServer", "serve", "CSP", "render_page"]

HERE = Path(__file__).resolve().parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
COOKIE = "modelmgmt_ui_token"
ROUTES = [(re.compile(pattern), view) for pattern, view in VIEWS]
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}
NAV = [("Models", "/models"), ("Experiments", "/experiments"), ("Deployments", "/deployments")]


def _jsonable(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _static(name: str) -> bytes | None:
    if name == "app.css":
        return (stylesheet() + (HERE / "static" / "ui.css").read_text(encoding="utf-8")).encode()
    path = HERE / "static" / name
    if "/" in name or name.startswith(".") or not path.is_file():
        return None
    return path.read_bytes()


def render_page(page: Page, *, registry_url: str, path: str) -> str:
    """The HTML of a page (base layout, navigation, breadcrumbs, content)."""
    env = environment([HERE / "templates"])
    return env.get_template(page.template).render(
        page=page, d=page.data, charts=page.charts, title=page.title, nav=NAV, path=path,
        crumbs=page.crumbs, registry_url=registry_url, version=__version__,
        api_path="/api" + (path if path != "/" else "/models"))


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    server_version = f"modelmgmt-ui/{__version__}"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet by default
        if self.server.verbose:
            super().log_message(format, *args)

    # --- methods ------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _refuse(self) -> None:
        self._send(405, "application/json", json.dumps(
            {"error": f"method {self.command} not allowed: this UI is read-only (GET, HEAD)"}).encode(),
            extra={"Allow": "GET, HEAD"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse

    # --- plumbing -----------------------------------------------------------------------
    def _send(self, status: int, ctype: str, body: bytes, *, head: bool = False,
              extra: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": ctype, "Content-Length": str(len(body)), "Content-Security-Policy": CSP,
                   "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                   "X-Frame-Options": "DENY", "Cache-Control": "no-store", **(extra or {})}
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if not head and self.command != "HEAD":
            self.wfile.write(body)

    def _authorized(self, query: dict[str, list[str]]) -> tuple[bool, dict[str, str]]:
        token = self.server.token
        if token is None:
            return True, {}
        given = []
        scheme, _, cred = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer":
            given.append(cred.strip())
        jar = cookies.SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie") or "")
        except cookies.CookieError:
            pass
        if COOKIE in jar:
            given.append(jar[COOKIE].value)
        from_query = query.get("token", [])
        given.extend(from_query)
        ok = any(hmac.compare_digest(g.encode(), token.encode()) for g in given)
        extra = {}
        if ok and from_query:  # ?token= once, then the cookie carries it (as Jupyter does)
            extra["Set-Cookie"] = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
        return ok, extra

    def _serve(self, head: bool) -> None:
        parts = urlsplit(self.path)
        path = parts.path or "/"
        query = parse_qs(parts.query)
        if path.startswith("/static/"):
            body = _static(path[len("/static/"):])
            if body is None:
                return self._send(404, "text/plain; charset=utf-8", b"not found", head=head)
            ctype = STATIC_TYPES.get(Path(path).suffix, "application/octet-stream")
            return self._send(200, ctype, body, head=head, extra={"Cache-Control": "max-age=3600"})
        api = path == "/api" or path.startswith("/api/")
        route = path[4:] or "/" if api else path
        if len(route) > 1:
            route = route.rstrip("/")
        ok, extra = self._authorized(query)
        if not ok:
            return self._error(401, "a token is required: send 'Authorization: Bearer <token>' or open "
                               "the page once with ?token=<token>", api, head,
                               {"WWW-Authenticate": 'Bearer realm="modelmgmt-ui"'})
        for pattern, view in ROUTES:
            m = pattern.fullmatch(route)
            if m is None:
                continue
            try:
                page = view(self.server.registry, Query(query), **{k: unquote(v) for k, v in m.groupdict().items()})
                if api:
                    body = json.dumps(_jsonable(page.data), sort_keys=True, default=str).encode()
                    ctype = "application/json"
                else:
                    body = render_page(page, registry_url=self.server.registry.url, path=route).encode()
                    ctype = "text/html; charset=utf-8"
            except NotFoundError as exc:
                return self._error(404, str(exc), api, head, extra)
            except (InvalidArgumentError, ValueError, TypeError) as exc:
                return self._error(400, str(exc), api, head, extra)
            except Exception as exc:  # a bug or an unreadable store: report, keep serving
                if self.server.verbose:
                    traceback.print_exc(file=sys.stderr)
                return self._error(500, f"{type(exc).__name__}: {exc}", api, head, extra)
            return self._send(page.status, ctype, body, head=head, extra=extra)
        return self._error(404, f"no page at {path}", api, head, extra)

    def _error(self, status: int, message: str, api: bool, head: bool, extra: dict[str, str]) -> None:
        if api:
            body = json.dumps({"error": message, "status": status}).encode()
            return self._send(status, "application/json", body, head=head, extra=extra)
        page = Page("error.html", {401: "Unauthorized", 404: "Not found", 400: "Bad request"}.get(status, "Error"),
                    {"error": message, "status": status}, status=status)
        html = render_page(page, registry_url=self.server.registry.url, path=urlsplit(self.path).path)
        return self._send(status, "text/html; charset=utf-8", html.encode(), head=head, extra=extra)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], registry: Registry, token: str | None, verbose: bool) -> None:
        self.registry, self.token, self.verbose = registry, token, verbose
        super().__init__(address, _Handler)


class UIServer:
    """A running UI: ``url``, ``stop()``; a context manager that stops it on exit."""

    def __init__(self, registry: Any, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 verbose: bool = False) -> None:
        if not isinstance(host, str) or not host:
            raise InvalidArgumentError(f"host must be a non-empty str; got {host!r}")
        port = check_int(port, "port", min=0, max=65535)
        if token is not None and (not isinstance(token, str) or not token):
            raise InvalidArgumentError(f"token must be a non-empty str or None; got {token!r}")
        self.registry = registry if isinstance(registry, Registry) else Registry(registry)
        self._server = _Server((host, port), self.registry, token, verbose)
        self.host, self.port = host, self._server.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="modelmgmt-ui", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> "UIServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<UIServer {self.url} over {self.registry.url!r}>"


def serve(registry: Any, *, host: str = "127.0.0.1", port: int = 0, token: str | None = None) -> UIServer:
    """Serve the read-only UI of ``registry`` (a Registry or URL) in a background thread."""
    return UIServer(registry, host=host, port=port, token=token)
