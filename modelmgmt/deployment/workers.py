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
(the parent died) stops serving and exits.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from typing import Any

from modelmgmt.errors import InvalidArgumentError, ModelmgmtError

__all__ = ["WorkerPool", "START_TIMEOUT", "CALL_TIMEOUT"]

#: seconds a worker may take to load its models and listen
START_TIMEOUT = 120.0
#: seconds a worker may take to answer a control call (a swap loads a version)
CALL_TIMEOUT = 300.0


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
                code = self.proc.poll()
                raise ModelmgmtError(f"worker {self.index} (pid {self.proc.pid}) exited"
                                     f"{'' if code is None else f' with code {code}'}; see its stderr")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def stop(self, timeout: float = 10.0) -> None:
        try:
            self.send({"method": "stop"})
            self.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class WorkerPool:
    """N worker processes serving the same models on one port."""

    def __init__(self, registry: Any, specs: list[dict[str, Any]], *, workers: int, host: str, port: int,
                 fd: int | None, token: str | None, max_body_bytes: int, read_timeout: float,
                 max_batch_size: int, max_batch_delay_ms: float) -> None:
        url = getattr(registry, "url", None)
        if not isinstance(url, str) or url.startswith("memory://"):
            raise InvalidArgumentError(
                f"workers > 1 need a registry other processes can open (file://, a path, s3://); got {url!r}")
        self.port = port
        config = {
            "registry": url, "specs": specs, "host": host, "port": port, "token": token,
            "max_body_bytes": max_body_bytes, "read_timeout": read_timeout, "max_batch_size": max_batch_size,
            "max_batch_delay_ms": max_batch_delay_ms, "reuse_port": fd is None, "fd": fd,
        }
        pass_fds = () if fd is None else (fd,)
        self._lock = threading.Lock()
        self.workers: list[_Worker] = []
        try:
            for i in range(workers):
                self.workers.append(_Worker(i + 1, config, pass_fds))
            for w in self.workers:
                reply = w.receive(START_TIMEOUT)
                if "error" in reply:
                    raise ModelmgmtError(f"worker {w.index} could not start: {reply['error']}")
        except BaseException:
            self.stop()
            raise

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers."""
        return [w.proc.pid for w in self.workers]

    def call(self, model: str, method: str, arg: Any) -> list[Any]:
        """Run ``method(arg)`` on model ``model`` in every worker; the first error is raised."""
        with self._lock:
            for w in self.workers:
                w.send({"model": model, "method": method, "arg": arg})
            replies = [w.receive(CALL_TIMEOUT) for w in self.workers]
        errors = [r["error"] for r in replies if "error" in r]
        if errors:
            raise ModelmgmtError(f"{len(errors)} of {len(replies)} workers failed {method}: {errors[0]}")
        return [r.get("ok") for r in replies]

    def status(self) -> list[dict[str, Any]]:
        """Each worker's status() (with its pid)."""
        try:
            return self.call("", "status", None)
        except ModelmgmtError as exc:
            return [{"error": str(exc)}]

    def stop(self) -> None:
        """Stop every worker (they finish the requests they are answering)."""
        for w in self.workers:
            w.stop()
        self.workers = []
