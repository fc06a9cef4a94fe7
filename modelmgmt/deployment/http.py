"""The ``http`` target: serve a version over HTTP from a background thread of this process.

Options: ``host="127.0.0.1"``, ``port=0`` (0 picks a free port; ``.url`` has the real one),
``token=None`` (bearer auth on every endpoint except the health probes),
``max_body_bytes=16 MiB`` and ``monitor=None``. See :mod:`modelmgmt.deployment.server` for
the endpoints and why the server is the standard library's ThreadingHTTPServer.
"""

from __future__ import annotations

import threading
from typing import Any

from modelmgmt.deployment.base import Deployer
from modelmgmt.deployment.server import DEFAULT_MAX_BODY, ModelServer, version_gauge
from modelmgmt.deployment.serving import (
    ServedVersion,
    ServingDeployment,
    check_options,
    load_version,
    resolve_resume_ref,
)
from modelmgmt.errors import InvalidArgumentError, ModelmgmtError

__all__ = ["HTTPDeployer", "HTTPDeployment"]


class HTTPDeployment(ServingDeployment):
    """A Deployment reachable at ``.url``; ``predict`` also works in-process on the same version."""

    target = "http"

    def __init__(self, registry: Any, served: ServedVersion, *, name: str | None = None,
                 monitor: Any = None, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, max_body_bytes: int = DEFAULT_MAX_BODY) -> None:
        super().__init__(registry, served, name=name, monitor=monitor)
        try:
            self.server = ModelServer((host, port), self, token=token, max_body_bytes=max_body_bytes)
        except OSError as exc:
            raise ModelmgmtError(f"cannot listen on {host}:{port}: {exc}") from exc
        real_host, real_port = self.server.server_address[:2]
        shown = f"[{real_host}]" if ":" in real_host else real_host
        self.host, self.port = real_host, real_port
        self.url = f"http://{shown}:{real_port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"modelmgmt-http-{self.name}", daemon=True,
        )
        self._thread.start()

    def status(self) -> dict[str, Any]:
        """In-process status plus ``url`` and per-endpoint HTTP counts and latency."""
        st = super().status()
        st["url"] = self.url
        st["http"] = self.server.stats.snapshot()
        return st

    def prometheus_extra(self) -> str:
        """Served-version gauge, uptime, predict and monitor counters, then the monitor's text."""
        text = version_gauge(self)
        if self.monitor is not None and callable(getattr(self.monitor, "to_prometheus", None)):
            try:
                extra = self.monitor.to_prometheus()
                text += extra if extra.endswith("\n") else extra + "\n"
            except Exception as exc:  # the monitor must never break /metrics
                with self._monitor_lock:
                    self.monitor_errors += 1
                text += f"# monitor.to_prometheus failed: {type(exc).__name__}\n"
        return text

    def _event(self, event: str, served: ServedVersion) -> dict[str, Any]:
        ev = super()._event(event, served)
        ev["url"] = self.url
        return ev

    def _close(self) -> None:
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self._thread.join(timeout=5)


class HTTPDeployer(Deployer):
    """Deploy a registered version behind a local HTTP server (OIP v2, /invocations, /metrics)."""

    options = ("host", "port", "token", "max_body_bytes", "monitor")

    def deploy(self, registry: Any, ref: str | None, *, name: str | None = None, **options: Any) -> HTTPDeployment:
        """Load ``ref`` (verified), start the server and return the running HTTPDeployment."""
        check_options("http", options, self.options)
        host = options.get("host", "127.0.0.1")
        port = options.get("port", 0)
        token = options.get("token")
        max_body = options.get("max_body_bytes", DEFAULT_MAX_BODY)
        if not isinstance(host, str) or not host:
            raise InvalidArgumentError(f"host must be a non-empty str; got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise InvalidArgumentError(f"port must be an int in 0..65535 (0 picks a free port); got {port!r}")
        if token is not None and (not isinstance(token, str) or not token):
            raise InvalidArgumentError("token must be a non-empty str or None")
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body <= 0:
            raise InvalidArgumentError(f"max_body_bytes must be a positive int; got {max_body!r}")
        event = "deploy"
        if ref is None:
            ref, event = resolve_resume_ref(registry, name), "resume"
        served = load_version(registry, ref)
        dep = HTTPDeployment(registry, served, name=name, monitor=options.get("monitor"), host=host,
                             port=port, token=token, max_body_bytes=max_body)
        dep._started(event)
        return dep
