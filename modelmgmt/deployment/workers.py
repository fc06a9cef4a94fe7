"""``workers=N``: N processes serving one port, weights shared through the page cache.

The deploying process is worker 0. Each other worker is a fresh interpreter (``python -m
modelmgmt.deployment.worker``, never a fork of a process that has threads) that opens the
registry by its URL, loads the exact versions the parent loaded and listens on the same
port with ``SO_REUSEPORT`` (the kernel spreads connections over the workers). Where the OS
has no SO_REUSEPORT, they accept on the parent's listening socket, which they inherit. On a local (``file://``) registry the
tensors are memory-mapped from the blobs, so N workers hold one copy of the weights in the
page cache (MLServer loads every model into every worker).

The parent talks to each worker over its stdin/stdout, one JSON object per line: every
``update``/``rollback``/``split``/``shadow`` (and every follow swap, decided once by the
parent) is repeated in every worker before the call returns. A worker whose stdin closes
(the parent died) stops serving and exits; a worker that died is left out of later calls.

A monitor (``monitor=mon``, an :class:`~modelmgmt.monitor.Monitor`) is served by every
process, merged in one place, :class:`MonitorCollector`:

- each process (worker 0 included) observes the requests it answers into its own
  :class:`WorkerMonitor`, an empty replica built from ``mon``'s definition (settings and
  reference, no alert rules);
- every :data:`MONITOR_INTERVAL` seconds the parent takes what each replica observed since
  the last time (over the control channel; worker 0's in-process) and merges it into
  ``mon`` (``Monitor.merge`` is exact), so ``mon.report()`` is the merged view and its
  alert rules are evaluated there only; a worker's last observations come with its stop;
- after a collection that brought rows, the parent renders ``mon.to_prometheus()`` into a
  file that it replaces atomically; every process's ``/metrics`` serves that file, so a
  scrape shows the same totals whichever worker answers, at most one collection old, and
  its counters never go backwards from one scrape to the next.
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

from modelmgmt.errors import InvalidArgumentError, ModelmgmtError
from modelmgmt.monitor import persist
from modelmgmt.monitor.monitor import Monitor

__all__ = ["WorkerPool", "WorkerMonitor", "MonitorCollector", "check_monitor", "START_TIMEOUT", "CALL_TIMEOUT",
           "MONITOR_INTERVAL"]

#: seconds a worker may take to load its models and listen
START_TIMEOUT = 120.0
#: seconds a worker may take to answer a control call (a swap loads a version)
CALL_TIMEOUT = 300.0
#: seconds between two collections of the processes' monitor observations
MONITOR_INTERVAL = 1.0


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
        """An empty replica from :meth:`MonitorCollector.config`."""
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


class MonitorCollector:
    """Merges what every serving process observed into the deployed monitor and publishes
    its Prometheus text for all of them (see the module docstring)."""

    def __init__(self, monitor: Any, interval: float | None = None) -> None:
        self.monitor = check_monitor(monitor)
        self.interval = MONITOR_INTERVAL if interval is None else interval
        self.errors = 0
        self._definition = persist.definition(monitor)
        self._dir = tempfile.mkdtemp(prefix="modelmgmt-monitor-")
        self.path = os.path.join(self._dir, "metrics.prom")
        self.local = WorkerMonitor.replica(self.config())  # worker 0's (this process)
        self._scratch = persist.from_definition(Monitor, self._definition)  # a taken state, to merge
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._publish()

    def config(self) -> dict[str, Any]:
        """What a worker process needs to build its replica (:meth:`WorkerMonitor.replica`)."""
        return {"definition": self._definition, "published": self.path}

    def start(self, source: Callable[[], list[dict[str, Any] | None]]) -> None:
        """Every ``interval`` seconds, merge ``source()`` (the other workers' taken states)
        and worker 0's, then publish."""
        def loop() -> None:
            while not self._stop.wait(self.interval):
                try:
                    states = source()
                except Exception as exc:  # collecting must never stop serving
                    self._failed(exc)
                    continue
                self.collect(states)

        self._thread = threading.Thread(target=loop, name="modelmgmt-monitor-collector", daemon=True)
        self._thread.start()

    def collect(self, states: Iterable[dict[str, Any] | None]) -> int:
        """Merge taken states (None: nothing observed) and worker 0's into the monitor;
        publish when rows came. Returns the rows merged."""
        rows = 0
        for state in [*states, persist.take(self.local)]:
            if state is None:
                continue
            try:
                self.monitor.merge(persist.restore(self._scratch, state))
            except Exception as exc:  # one bad state must not lose the others
                self._failed(exc)
                continue
            rows += state["n"]
        if rows:
            self._publish()
        return rows

    def _publish(self) -> None:
        try:
            text = self.monitor.to_prometheus()  # evaluates the alert rules: here, on the merged view
            tmp = self.path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, self.path)  # atomic: a scrape reads the old text or the new one
        except Exception as exc:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        if self.errors == 1:
            warnings.warn(f"merging the workers' monitors failed ({type(exc).__name__}: {exc}); "
                          "further failures are only counted (status()['monitor_errors'])",
                          RuntimeWarning, stacklevel=2)

    def close(self, final: Iterable[dict[str, Any] | None] = ()) -> None:
        """Stop collecting, merge the workers' last states and worker 0's, publish once more
        and remove the published file (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.collect(final)
        shutil.rmtree(self._dir, ignore_errors=True)


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

    def stop(self, timeout: float = 10.0, *, final: bool = False) -> Any:
        """Stop the worker; with ``final``, return the monitor state it sends once it
        stopped serving (None when it sends none)."""
        last = None
        try:
            self.send({"method": "stop"})
            self.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            self.alive = False
        if final and self.alive:
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
    """N worker processes serving the same models on one port."""

    def __init__(self, registry: Any, specs: list[dict[str, Any]], *, workers: int, host: str, port: int,
                 fd: int | None, token: str | None, max_body_bytes: int, read_timeout: float,
                 max_batch_size: int, max_batch_delay_ms: float, monitor: MonitorCollector | None = None) -> None:
        self.monitor = monitor  # the pool closes it
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
                "monitor": None if monitor is None else monitor.config(),
            }
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
        if monitor is not None:
            monitor.start(self.monitor_states)

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers."""
        return [w.proc.pid for w in self.workers]

    def _ask(self, cmd: dict[str, Any]) -> list[dict[str, Any]]:
        """Send ``cmd`` to every live worker and read each reply (``{"error": ...}`` for a
        worker that died on the way, which is then left out of later calls)."""
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
                    replies.append(w.receive(CALL_TIMEOUT) if w.alive else {"error": f"worker {w.index} exited"})
                except ModelmgmtError as exc:
                    w.alive = False  # its channel is out of step: never read it again
                    replies.append({"error": str(exc)})
            return replies

    def call(self, model: str, method: str, arg: Any) -> list[Any]:
        """Run ``method(arg)`` on model ``model`` in every worker; the first error is raised."""
        replies = self._ask({"model": model, "method": method, "arg": arg})
        errors = [r["error"] for r in replies if "error" in r]
        if errors:
            raise ModelmgmtError(f"{len(errors)} of {len(replies)} workers failed {method}: {errors[0]}")
        return [r.get("ok") for r in replies]

    def monitor_states(self) -> list[dict[str, Any] | None]:
        """What each live worker's monitor observed since the last call (None: nothing)."""
        return [r.get("ok") for r in self._ask({"method": "monitor"}) if "error" not in r]

    def status(self) -> list[dict[str, Any]]:
        """Each worker's status() (with its pid)."""
        try:
            return self.call("", "status", None)
        except ModelmgmtError as exc:
            return [{"error": str(exc)}]

    def stop(self) -> None:
        """Stop every worker (they finish the requests they are answering); with a monitor,
        merge their last observations and close the collector."""
        with self._lock:
            final = [w.stop(final=self.monitor is not None) for w in self.workers]
            self.workers = []
        if self.monitor is not None:
            self.monitor.close(final)
