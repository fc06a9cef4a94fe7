"""``workers=N``: N processes serving one port, weights shared through the page cache.

The deploying process is worker 0. Each other worker is a fresh interpreter (``python -m
modelmgmt.deployment.worker``, never a fork of a process that has threads) that opens the
registry by its URL, loads the exact versions the parent loaded and listens on the same
port with ``SO_REUSEPORT`` (the kernel spreads connections over the workers); with
``grpc_port``, each one also serves gRPC on the port the parent bound first. Where the OS
has no SO_REUSEPORT, they accept on the parent's listening socket, which they inherit (and
gRPC is refused). On a local (``file://``) registry the
tensors are memory-mapped from the blobs, so N workers hold one copy of the weights in the
page cache (MLServer loads every model into every worker).

The parent talks to each worker over its stdin/stdout, one JSON object per line: every
``update``/``rollback``/``split``/``shadow`` (and every follow swap, decided once by the
parent) is repeated in every worker before the call returns. A worker whose stdin closes
(the parent died) stops serving and exits; a worker that died is left out of later calls.

Every process serves the same ``/metrics`` text, the merged view of all of them, kept in one
place, the parent's :class:`Collector`:

- every :data:`COLLECT_INTERVAL` seconds (and at every ``status()``) the parent asks each
  live worker for its counters (:func:`~modelmgmt.deployment.endpoints.metrics_counts`:
  predictions, HTTP requests and gRPC calls with their latency buckets, batching, shadow,
  canary split) and takes
  its own; it keeps each process's last counts (a worker that died keeps those of the last
  collection: what it answered after that is lost) and adds them up (:func:`~modelmgmt.deployment.endpoints.sum_counts`, exact);
- it renders the whole ``/metrics`` text from the sums (the served versions and the uptime
  are its own) into a file that it replaces atomically, and every process's ``/metrics``
  serves that file. So a scrape shows the same totals whichever worker answers, at most one
  collection old, and no counter goes backwards from one scrape to the next (each process's
  counters only grow, and a dead worker's stay in the sums);
- ``status()`` collects at once and reports the same sums.

A monitor (``monitor=mon``, an :class:`~modelmgmt.monitor.Monitor`) is merged by the same
collector:

- each process (worker 0 included) observes the requests it answers into its own
  :class:`WorkerMonitor`, an empty replica built from ``mon``'s definition (settings and
  reference, no alert rules);
- at each collection the parent also takes what each replica observed since the last time
  (worker 0's in-process) and merges it into ``mon`` (``Monitor.merge`` is exact), so
  ``mon.report()`` is the merged view and its alert rules are evaluated there only; a
  worker's last observations and counters come with its stop;
- after a collection that brought rows, ``mon.to_prometheus()`` is rendered again (into a
  second file, which every replica's ``to_prometheus`` reads) and becomes the monitor
  section of the published ``/metrics`` text.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from typing import Any, Callable, Iterable, Mapping

from modelmgmt.deployment.endpoints import sum_counts
from modelmgmt.errors import InvalidArgumentError, ModelmgmtError
from modelmgmt.monitor import persist
from modelmgmt.monitor.monitor import Monitor

__all__ = ["WorkerPool", "WorkerMonitor", "Collector", "check_monitor", "START_TIMEOUT", "CALL_TIMEOUT",
           "COLLECT_INTERVAL"]

#: seconds a worker may take to load its models and listen
START_TIMEOUT = 120.0
#: seconds a worker may take to answer a control call (a swap loads a version)
CALL_TIMEOUT = 300.0
#: seconds between two collections of the processes' counters and monitor observations
COLLECT_INTERVAL = 1.0


def check_monitor(monitor: Any) -> Monitor:
    """``monitor`` if several workers can serve it (an mm.Monitor), else InvalidArgumentError."""
    if not isinstance(monitor, Monitor):
        raise InvalidArgumentError("with workers > 1 the monitor must be an mm.Monitor (each worker observes into a "
                                   f"replica of it, merged back into it); got {type(monitor).__name__}")
    return monitor


class WorkerMonitor(Monitor):
    """The monitor one serving process observes into: an empty replica of the deployed
    monitor. Its Prometheus text is the merged view the parent published (``published``,
    a file path), not its own share of the traffic."""

    published = ""

    @classmethod
    def replica(cls, config: Mapping[str, Any]) -> "WorkerMonitor":
        """An empty replica from :meth:`Collector.monitor_config`."""
        mon = persist.from_definition(cls, config["definition"])
        mon.published = config["published"]
        return mon

    def to_prometheus(self, labels: Mapping[str, str] | None = None) -> str:
        """The merged monitor's text, as the parent last published it ("" once stopped)."""
        if labels:
            raise InvalidArgumentError("a monitor served by several workers is published without labels; "
                                       f"got labels={dict(labels)!r}")
        try:
            with open(self.published, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class Collector:
    """The merged view of the serving processes, in the parent: collects every process's
    counters (and monitor observations), adds them up and publishes the ``/metrics`` text
    every process serves (see the module docstring).

    ``local()`` returns this process's counters, ``render(counts)`` the ``/metrics`` text of
    summed counters; ``monitor`` is the deployed monitor (None: no monitor)."""

    def __init__(self, local: Callable[[], dict[str, Any]], render: Callable[[dict[str, Any]], str],
                 monitor: Any = None, interval: float | None = None) -> None:
        self.monitor = None if monitor is None else check_monitor(monitor)
        self.interval = COLLECT_INTERVAL if interval is None else interval
        self.errors = 0  # collections or publications that failed
        self.monitor_errors = 0  # workers' monitor states that could not be merged
        self._local = local
        self._render = render
        self._dir = tempfile.mkdtemp(prefix="modelmgmt-metrics-")
        self.path = os.path.join(self._dir, "metrics.prom")  # the whole /metrics text
        self._monitor_path = os.path.join(self._dir, "monitor.prom")  # the merged monitor's section
        self._counts: dict[int, dict[str, Any]] = {}  # each process's last counts, by worker index (0: this one)
        self.merged: dict[str, Any] = sum_counts([])
        self._rows = 0  # monitor rows merged since the monitor text was last rendered
        self._source: Callable[[bool], list[tuple[int, dict[str, Any]]]] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.local: WorkerMonitor | None = None  # worker 0's replica
        if self.monitor is not None:
            self._definition = persist.definition(self.monitor)
            self._scratch = persist.from_definition(Monitor, self._definition)  # a taken state, to merge
            self.local = WorkerMonitor.replica(self.monitor_config())
            self._publish_monitor()

    def config(self) -> dict[str, Any]:
        """What a worker process needs: the published file, and its monitor replica's config."""
        return {"published": self.path, "monitor": None if self.monitor is None else self.monitor_config()}

    def monitor_config(self) -> dict[str, Any]:
        """What a process needs to build its monitor replica (:meth:`WorkerMonitor.replica`)."""
        return {"definition": self._definition, "published": self._monitor_path}

    def start(self, source: Callable[[bool], list[tuple[int, dict[str, Any]]]]) -> None:
        """Collect every ``interval`` seconds; ``source(status)`` returns (worker index, reply)
        for each live worker (reply: ``counts``, ``monitor`` and, with ``status``, ``status``)."""
        self._source = source

        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.collect()

        self._thread = threading.Thread(target=loop, name="modelmgmt-metrics-collector", daemon=True)
        self._thread.start()

    def collect(self, status: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Collect now from every live worker and this process, add up and publish. Returns
        the summed counts and, with ``status``, each live worker's ``status()``. Once closed,
        the last sums (with the workers' final counts) and no statuses."""
        with self._lock:
            if self._closed:
                return self.merged, []
            replies: list[tuple[int, dict[str, Any]]] = []
            if self._source is not None:
                try:
                    replies = self._source(status)
                except Exception as exc:  # collecting must never stop serving
                    self._failed(exc)
            statuses = [reply["status"] for _, reply in replies if status and "status" in reply]
            self._merge([*replies, (0, self._own())])
            self._publish()
            return self.merged, statuses

    def _own(self) -> dict[str, Any]:
        """This process's counters and what its replica observed (nothing when that failed)."""
        try:
            return {"counts": self._local(), "monitor": None if self.local is None else persist.take(self.local)}
        except Exception as exc:
            self._failed(exc)
            return {}

    def _merge(self, replies: Iterable[tuple[int, dict[str, Any] | None]]) -> None:
        """Keep each process's latest counts (a dead worker's last ones stay), merge the monitor
        states, and add the counts up."""
        for index, reply in replies:
            if not reply:
                continue
            if reply.get("counts") is not None:
                self._counts[index] = reply["counts"]
            state = reply.get("monitor")
            if state is not None and self.monitor is not None:
                try:
                    self.monitor.merge(persist.restore(self._scratch, state))
                    self._rows += state["n"]
                except Exception as exc:  # one bad state must not lose the others
                    self._failed(exc, monitor=True)
        try:
            self.merged = sum_counts(self._counts[i] for i in sorted(self._counts))
        except Exception as exc:
            self._failed(exc)

    def _publish(self) -> None:
        if self._rows:
            self._rows = 0
            self._publish_monitor()
        try:
            _write(self.path, self._render(self.merged))
        except Exception as exc:
            self._failed(exc)

    def _publish_monitor(self) -> None:
        assert self.monitor is not None
        try:  # evaluates the alert rules: here, on the merged view
            _write(self._monitor_path, self.monitor.to_prometheus())
        except Exception as exc:
            self._failed(exc, monitor=True)

    def _failed(self, exc: BaseException, monitor: bool = False) -> None:
        """Count a failure (a monitor's in ``monitor_errors``, others in ``errors``); warn once."""
        if monitor:
            self.monitor_errors += 1
        else:
            self.errors += 1
        if self.errors + self.monitor_errors == 1:
            warnings.warn(f"merging the workers' {'monitors' if monitor else 'metrics'} failed "
                          f"({type(exc).__name__}: {exc}); further failures are only counted "
                          "(status()['monitor_errors'] and ['collect_errors'])", RuntimeWarning, stacklevel=2)

    def close(self, final: Iterable[tuple[int, dict[str, Any] | None]] = ()) -> None:
        """Stop collecting; add the workers' final counts and monitor states (and this
        process's), render once more and remove the published files (idempotent)."""
        if self._closed:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._merge([*final, (0, self._own())])
            self._publish()
            shutil.rmtree(self._dir, ignore_errors=True)


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)  # atomic: a reader gets the old text or the new one


class _Worker:
    """One worker process and its line-based control channel."""

    def __init__(self, index: int, config: dict[str, Any], pass_fds: tuple[int, ...]) -> None:
        self.index = index
        self.pid: int | None = None
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "modelmgmt.deployment.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, bufsize=0, pass_fds=pass_fds, env=env,
        )
        self._buf = b""
        self.alive = True  # False once it exited or its channel broke: left out of later calls
        self.send(config)

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())

    def receive(self, timeout: float) -> dict[str, Any]:
        """The worker's next reply line (ModelmgmtError when it died or stayed silent)."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()  # type: ignore[union-attr]
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ModelmgmtError(f"worker {self.index} (pid {self.proc.pid}) did not answer within {timeout:g} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                self.alive = False
                code = self.proc.poll()
                raise ModelmgmtError(f"worker {self.index} (pid {self.proc.pid}) exited"
                                     f"{'' if code is None else f' with code {code}'}; see its stderr")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def stop(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """Stop the worker; return what it sends once it stopped serving (its final counts
        and monitor state; None when it sends nothing)."""
        last = None
        try:
            self.send({"method": "stop"})
            self.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            self.alive = False
        if self.alive:
            try:
                last = self.receive(timeout).get("ok")
            except ModelmgmtError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return last


class WorkerPool:
    """N worker processes serving the same models on one port (and, with ``grpc_port``, the
    real gRPC port the parent bound); the pool closes ``collector``."""

    def __init__(self, registry: Any, specs: list[dict[str, Any]], *, workers: int, host: str, port: int,
                 fd: int | None, token: str | None, max_body_bytes: int, read_timeout: float,
                 max_batch_size: int, max_batch_delay_ms: float, collector: Collector,
                 grpc_port: int | None = None) -> None:
        self.collector = collector
        self._lock = threading.Lock()
        self.workers: list[_Worker] = []
        try:
            url = getattr(registry, "url", None)
            if not isinstance(url, str) or url.startswith("memory://"):
                raise InvalidArgumentError(
                    f"workers > 1 need a registry other processes can open (file://, a path, s3://); got {url!r}")
            self.port = port
            config = {
                "registry": url, "specs": specs, "host": host, "port": port, "token": token,
                "max_body_bytes": max_body_bytes, "read_timeout": read_timeout, "max_batch_size": max_batch_size,
                "max_batch_delay_ms": max_batch_delay_ms, "reuse_port": fd is None, "fd": fd,
                "grpc_port": grpc_port,  # the real port the parent bound: each worker joins it
                **collector.config(),
            }
            collector.collect()  # the first /metrics text, there before any worker serves
            pass_fds = () if fd is None else (fd,)
            for i in range(workers):
                self.workers.append(_Worker(i + 1, config, pass_fds))
            for w in self.workers:
                reply = w.receive(START_TIMEOUT)
                if "error" in reply:
                    raise ModelmgmtError(f"worker {w.index} could not start: {reply['error']}")
        except BaseException:
            self.stop()
            raise
        collector.start(self.collect)

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers."""
        return [w.proc.pid for w in self.workers]

    def _ask(self, cmd: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
        """Send ``cmd`` to every live worker and read each reply, with the worker's index
        (``{"error": ...}`` for a worker that died on the way, which is then left out of
        later calls)."""
        with self._lock:
            live = [w for w in self.workers if w.alive]
            for w in live:
                try:
                    w.send(cmd)
                except OSError:
                    w.alive = False
            replies = []
            for w in live:
                try:
                    replies.append((w.index, w.receive(CALL_TIMEOUT) if w.alive
                                    else {"error": f"worker {w.index} exited"}))
                except ModelmgmtError as exc:
                    w.alive = False  # its channel is out of step: never read it again
                    replies.append((w.index, {"error": str(exc)}))
            return replies

    def call(self, model: str, method: str, arg: Any) -> list[Any]:
        """Run ``method(arg)`` on model ``model`` in every worker; the first error is raised."""
        replies = [r for _, r in self._ask({"model": model, "method": method, "arg": arg})]
        errors = [r["error"] for r in replies if "error" in r]
        if errors:
            raise ModelmgmtError(f"{len(errors)} of {len(replies)} workers failed {method}: {errors[0]}")
        return [r.get("ok") for r in replies]

    def collect(self, status: bool = False) -> list[tuple[int, dict[str, Any]]]:
        """(index, reply) of each live worker: its ``counts``, what its monitor observed since
        the last call (``monitor``, None: nothing) and, with ``status``, its ``status``."""
        return [(i, r["ok"]) for i, r in self._ask({"method": "collect", "status": status})
                if "error" not in r and r.get("ok")]

    def stop(self) -> None:
        """Stop every worker (they finish the requests they are answering), add their final
        counts and monitor observations to the collector and close it."""
        with self._lock:
            final = [(w.index, w.stop()) for w in self.workers]
            self.workers = []
        self.collector.close(final)
