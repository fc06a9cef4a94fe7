"""The ``http`` target: serve one or several versions over HTTP on one port.

Options: ``host="127.0.0.1"``, ``port=0`` (0 picks a free port; ``.url`` has the real one),
``token=None`` (bearer auth on every endpoint except the health probes),
``max_body_bytes=16 MiB``, ``read_timeout=10.0`` (seconds for a request body; 408 after),
``monitor=None``, ``follow=None`` (seconds between alias re-resolutions), ``workers=1``
(processes serving the port, see :mod:`modelmgmt.deployment.workers`), ``max_batch_size=1``
and ``max_batch_delay_ms=0.0`` (adaptive batching, see :mod:`modelmgmt.deployment.batching`),
``grpc_port=None`` (an int also serves OIP v2 over gRPC, in every worker, see
:mod:`modelmgmt.deployment.grpc_server`).

``ref`` may be a list of refs: every model is served under its own name. The returned
deployment is the first model's; ``dep.models`` maps each name to its own deployment
(``dep.models["b"].update(...)``). See :mod:`modelmgmt.deployment.server` for the endpoints.
"""

from __future__ import annotations

import os
import socket
import threading
import warnings
from typing import Any

from modelmgmt._validation import check_int, check_real
from modelmgmt.deployment.base import Deployer
from modelmgmt.deployment.endpoints import metrics_counts, metrics_text
from modelmgmt.deployment.grpc_server import GRPCServer, check_grpc_port
from modelmgmt.deployment.server import DEFAULT_MAX_BODY, DEFAULT_READ_TIMEOUT, ModelServer
from modelmgmt.deployment.serving import (
    ServedVersion,
    ServingDeployment,
    check_options,
    load_version,
    resolve_resume_ref,
)
from modelmgmt.deployment.stats import RequestStats
from modelmgmt.deployment.workers import Collector, WorkerPool, check_monitor
from modelmgmt.errors import InvalidArgumentError, ModelmgmtError

__all__ = ["HTTPDeployer", "HTTPDeployment", "ModelSlot"]


class ModelSlot(ServingDeployment):
    """One more model served by an HTTPDeployment's server (same port, its own name)."""

    target = "http"
    url: str | None = None


class HTTPDeployment(ServingDeployment):
    """A Deployment reachable at ``.url``; ``predict`` also works in-process on the same version."""

    target = "http"

    def __init__(self, registry: Any, served: ServedVersion, *, name: str | None = None,
                 monitor: Any = None, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, max_body_bytes: int = DEFAULT_MAX_BODY,
                 read_timeout: float = DEFAULT_READ_TIMEOUT, ref: str | None = None,
                 extra: tuple[tuple[str, ServedVersion], ...] = (), follow: float | None = None,
                 workers: int = 1, max_batch_size: int = 1, max_batch_delay_ms: float = 0.0,
                 record: bool = True, reuse_port: bool = False, sock: Any = None,
                 grpc_port: int | None = None, published: str | None = None) -> None:
        super().__init__(registry, served, name=name, monitor=monitor, ref=ref, max_batch_size=max_batch_size,
                         max_batch_delay_ms=max_batch_delay_ms, record=record)
        self.models: dict[str, ServingDeployment] = {self.name: self}
        self.server: ModelServer | None = None
        self.follow = follow
        self.workers = workers
        self.pool: Any = None
        self.published = published  # with workers > 1: the file every process serves as /metrics
        self._thread: threading.Thread | None = None
        self.grpc_server: GRPCServer | None = None
        self.grpc_address: str | None = None  # "host:port" when grpc_port is set
        for ref_i, served_i in extra:
            slot = ModelSlot(registry, served_i, ref=ref_i, max_batch_size=max_batch_size,
                             max_batch_delay_ms=max_batch_delay_ms, record=record)
            if slot.name in self.models:
                for m in self.models.values():
                    if m is not self:
                        m.stop()
                raise InvalidArgumentError(f"two refs name the model {slot.name!r}; serve one version per model "
                                           "on a port (use dep.split for a canary)")
            self.models[slot.name] = slot
        try:
            if workers > 1 and not reuse_port and sock is None:
                # this process is worker 0; the others listen on the same port (SO_REUSEPORT)
                # or, without it, accept on this process's socket, which they inherit
                url = getattr(registry, "url", None)
                if not isinstance(url, str) or url.startswith("memory://"):
                    raise InvalidArgumentError("workers > 1 need a registry other processes can open "
                                               f"(file://, a path, s3://); got {url!r}")
                share = hasattr(socket, "SO_REUSEPORT")
                server = self.server = ModelServer((host, port), self, token=token, max_body_bytes=max_body_bytes,
                                                   read_timeout=read_timeout, reuse_port=share)
                fd = None
                if not share:
                    server.socket.set_inheritable(True)
                    fd = server.socket.fileno()
                if grpc_port is not None:  # bound here first; every worker joins its real port (SO_REUSEPORT)
                    self.grpc_server = GRPCServer(self, host, grpc_port, token=token, max_message_bytes=max_body_bytes,
                                                  reuse_port=True)
                # the merged view of every process: /metrics and status() add up their counters,
                # and a monitor is observed into a replica per process, merged back into it (workers.py)
                collector = Collector(lambda: metrics_counts(self, server.stats),
                                      lambda counts: metrics_text(self, counts=counts), monitor=self.monitor)
                if collector.local is not None:
                    self.monitor = collector.local  # worker 0's replica; the monitor passed in is the merged view
                self.published = collector.path
                self.pool = WorkerPool(registry, self._specs(), workers=workers - 1, host=host,
                                       port=server.server_address[1], fd=fd, token=token,
                                       max_body_bytes=max_body_bytes, read_timeout=read_timeout,
                                       max_batch_size=max_batch_size, max_batch_delay_ms=max_batch_delay_ms,
                                       collector=collector,
                                       grpc_port=None if self.grpc_server is None else self.grpc_server.port)
                for slot_name, m in self.models.items():
                    m.on_change = self._broadcaster(slot_name)
            else:
                self.server = ModelServer((host, port), self, token=token, max_body_bytes=max_body_bytes,
                                          read_timeout=read_timeout, reuse_port=reuse_port, sock=sock,
                                          join=reuse_port)
                if grpc_port is not None:  # a worker (reuse_port) joins the port its parent bound
                    self.grpc_server = GRPCServer(self, host, grpc_port, token=token, max_message_bytes=max_body_bytes,
                                                  reuse_port=reuse_port, join=reuse_port)
            real_host, real_port = str(self.server.server_address[0]), int(self.server.server_address[1])
            if self.grpc_server is not None:
                self.grpc_address = self.grpc_server.address
        except OSError as exc:
            self._shutdown_partial()
            raise ModelmgmtError(f"cannot listen on {host}:{port}: {exc}") from exc
        except BaseException:
            self._shutdown_partial()
            raise
        shown = f"[{real_host}]" if ":" in real_host else real_host
        self.host, self.port = real_host, real_port
        self.url = f"http://{shown}:{real_port}"
        for m in self.models.values():
            if isinstance(m, ModelSlot):
                m.url = self.url  # the port every model shares
        if self.server is not None:  # always: this process serves too
            self._thread = threading.Thread(
                target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"modelmgmt-http-{self.name}", daemon=True,
            )
            self._thread.start()
        self._follow_stop = threading.Event()
        self.follow_errors = 0
        self._follower: threading.Thread | None = None
        if follow is not None:
            self._follower = threading.Thread(target=self._follow_loop, name=f"modelmgmt-follow-{self.name}",
                                              daemon=True)
            self._follower.start()

    def _shutdown_partial(self) -> None:
        """Undo a start that failed half-way (server bound, some workers started)."""
        if self.pool is not None:
            self.pool.stop()
        if self.grpc_server is not None:
            self.grpc_server.stop(None)
        if self.server is not None:
            self.server.server_close()
        if self.batcher is not None:
            self.batcher.stop()
        self._stop_slots()

    def _specs(self) -> list[dict[str, Any]]:
        """What a worker process needs to serve the same versions: name, ref, exact version."""
        return [{"name": n, "ref": m.ref, "label": m.served().label} for n, m in self.models.items()]

    def _broadcaster(self, slot_name: str):
        def send(method: str, arg: Any) -> None:
            self.pool.call(slot_name, method, arg)
        return send

    # --- follow -------------------------------------------------------------------------
    def _follow_loop(self) -> None:
        while not self._follow_stop.wait(self.follow):
            for m in list(self.models.values()):
                try:
                    m.follow_check()
                except Exception as exc:  # a registry hiccup must not stop serving or following
                    self.follow_errors += 1
                    if self.follow_errors == 1:
                        warnings.warn(f"deployment {self.name!r}: following {m.ref!r} failed "
                                      f"({type(exc).__name__}: {exc}); retrying every {self.follow:g} s",
                                      RuntimeWarning, stacklevel=2)

    # --- status -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """In-process status plus ``url``, per-endpoint HTTP counts (``grpc``: per-method RPC
        counts, with ``grpc_port``), every model's status, ``follow`` and, with workers, each
        worker's status."""
        st = super().status()
        st["url"] = self.url
        st["follow"] = self.follow
        st["models"] = {n: (m.status() if m is not self else {k: v for k, v in st.items() if k != "models"})
                        for n, m in self.models.items()}
        if self.server is not None:
            st["http"] = self.server.stats.snapshot()
        if self.grpc_server is not None:
            st["grpc"] = self.grpc_server.stats.snapshot()
        if self.pool is not None:
            # every process's counters, the same sums as /metrics (collected now; a dead
            # worker's last counts included); latency percentiles stay this process's own
            collector = self.pool.collector
            merged, workers = collector.collect(status=True)
            own = {k: st[k] for k in ("requests", "errors", "predictions", "split", "version")}
            st["workers"] = [{"pid": os.getpid(), **own, "http": st.get("http"), "grpc": st.get("grpc")}, *workers]
            for n, ms in [(self.name, st), *st["models"].items()]:
                _with_counts(ms, merged["models"].get(n))
            for transport in ("http", "grpc"):
                if transport in st and merged.get(transport) is not None:
                    st[transport] = _http_with_counts(st[transport], merged[transport])
            for ms in (st, st["models"][self.name]):
                ms["monitor_errors"] += collector.monitor_errors  # merging the workers' monitors
            st["collect_errors"] = collector.errors
        return st

    def _event(self, event: str, served: ServedVersion) -> dict[str, Any]:
        ev = super()._event(event, served)
        ev["url"] = getattr(self, "url", None)
        if self.workers > 1:
            ev["workers"] = self.workers
        return ev

    def _stop_slots(self) -> None:
        for m in list(self.models.values()):
            if m is not self:
                m.stop()

    def _close(self) -> None:
        self._follow_stop.set()
        if self.grpc_server is not None:
            self.grpc_server.stop()
        if self._follower is not None:
            self._follower.join(timeout=5)
        if self.server is not None:
            self.server.shutdown()
            self.server.close_connections()
            self.server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
        if self.pool is not None:
            self.pool.stop()
        self._stop_slots()


def _with_counts(st: dict[str, Any], counts: dict[str, Any] | None) -> None:
    """Put summed counters (:func:`~modelmgmt.deployment.endpoints.sum_counts`) into one
    model's status."""
    if counts is None:
        return
    for k in ("requests", "errors", "predictions", "monitor_errors"):
        st[k] = counts[k]
    if st.get("split") is not None and counts["split"] is not None:
        st["split"] = dict(counts["split"])
    if st.get("batching") is not None and counts["batching"] is not None:
        b = st["batching"] = {**st["batching"], **counts["batching"]}
        b["mean_batch_requests"] = b["requests"] / b["batches"] if b["batches"] else None
    shadow = st.get("shadow")
    s = counts["shadow"].get(shadow["version"]) if shadow is not None else None
    if shadow is not None and s is not None:
        st["shadow"] = {**shadow, "requests": s["requests"], "errors": s["errors"], "dropped": s["dropped"],
                        "agreement": s["equal_rows"] / s["rows"] if s["rows"] else None,
                        "mean_abs_diff": s["abs_sum"] / s["abs_n"] if s["abs_n"] else None}


def _http_with_counts(own: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any]:
    """Summed HTTP (or gRPC) counts with this process's latency percentiles."""
    out = RequestStats.merged([counts]).snapshot()
    out["latency_ms"] = own["latency_ms"]
    for ep, e in out["endpoints"].items():
        e["latency_ms"] = own["endpoints"].get(ep, {}).get("latency_ms", e["latency_ms"])
    return out


def _check_http_options(options: dict[str, Any]) -> dict[str, Any]:
    host = options.get("host", "127.0.0.1")
    port = options.get("port", 0)
    token = options.get("token")
    if not isinstance(host, str) or not host:
        raise InvalidArgumentError(f"host must be a non-empty str; got {host!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InvalidArgumentError(f"port must be an int in 0..65535 (0 picks a free port); got {port!r}")
    if token is not None and (not isinstance(token, str) or not token):
        raise InvalidArgumentError("token must be a non-empty str or None")
    max_body = check_int(options.get("max_body_bytes", DEFAULT_MAX_BODY), "max_body_bytes", min=1)
    read_timeout = check_real(options.get("read_timeout", DEFAULT_READ_TIMEOUT), "read_timeout", min=0.001)
    follow = options.get("follow")
    if follow is not None:
        follow = check_real(follow, "follow (seconds between alias checks)", min=0.01)
    workers = check_int(options.get("workers", 1), "workers", min=1, max=256)
    batch = check_int(options.get("max_batch_size", 1), "max_batch_size", min=1)
    delay = check_real(options.get("max_batch_delay_ms", 0.0), "max_batch_delay_ms", min=0.0, max=10_000.0)
    if workers > 1 and options.get("monitor") is not None:
        check_monitor(options["monitor"])  # each worker observes into a replica of it
    return {"host": host, "port": port, "token": token, "max_body_bytes": max_body, "read_timeout": read_timeout,
            "follow": follow, "workers": workers, "max_batch_size": batch, "max_batch_delay_ms": delay,
            "monitor": options.get("monitor"), "grpc_port": check_grpc_port(options.get("grpc_port"), workers)}


class HTTPDeployer(Deployer):
    """Deploy registered versions behind a local HTTP server (OIP v2, /invocations, /metrics)."""

    options = ("host", "port", "token", "max_body_bytes", "read_timeout", "monitor", "follow", "workers",
               "max_batch_size", "max_batch_delay_ms", "grpc_port")

    def deploy(self, registry: Any, ref: Any, *, name: str | None = None, **options: Any) -> HTTPDeployment:
        """Load every ref (verified), start the server and return the running HTTPDeployment."""
        check_options("http", options, self.options)
        opts = _check_http_options(options)
        refs = list(ref) if isinstance(ref, (list, tuple)) else [ref]
        if not refs:
            raise InvalidArgumentError("ref must name at least one model")
        event = "deploy"
        if refs[0] is None:
            if len(refs) != 1:
                raise InvalidArgumentError("ref=None resumes one named deployment; pass refs to serve several models")
            refs[0], event = resolve_resume_ref(registry, name), "resume"
        for r in refs:
            if not isinstance(r, str):
                raise InvalidArgumentError(f"ref must be a str like 'name', 'name/3' or 'name@alias'; got {type(r).__name__}")
        loaded = [load_version(registry, r) for r in refs]
        dep = HTTPDeployment(registry, loaded[0], name=name, ref=refs[0], extra=tuple(zip(refs[1:], loaded[1:])),
                             **opts)
        for m in dep.models.values():
            m._started(event)
        return dep


def serve_worker(registry: Any, specs: list[dict[str, Any]], **options: Any) -> HTTPDeployment:
    """The deployment one worker process runs: the exact versions the parent chose, no
    history events (the parent records them), SO_REUSEPORT or an inherited socket."""
    loaded = [load_version(registry, s["label"]) for s in specs]
    first = specs[0]
    return HTTPDeployment(registry, loaded[0], name=first["name"], ref=first["ref"],
                          extra=tuple((s["ref"], v) for s, v in zip(specs[1:], loaded[1:])), record=False,
                          **options)
