"""Entry point of one serving worker process (``python -m modelmgmt.deployment.worker``).

Reads its configuration (one JSON line) from stdin, serves, then answers control lines
until stdin closes; see :mod:`modelmgmt.deployment.workers`. Stdout carries only the
control protocol (anything else printed goes to stderr). ``collect`` hands over the worker's
counters (and, with a monitor, what its replica observed since the last time; with
``"status": true``, its ``status()``), and after ``stop`` (once the last request was
answered) the worker sends its final counters and observations.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from typing import Any

from modelmgmt.deployment.endpoints import metrics_counts
from modelmgmt.deployment.http import serve_worker
from modelmgmt.deployment.workers import WorkerMonitor
from modelmgmt.monitor import persist
from modelmgmt.registry import Registry

__all__ = ["main"]


def _collected(dep: Any, status: bool = False) -> dict[str, Any]:
    """This worker's counters, what its monitor observed since the last time and, with
    ``status``, its status() (with its pid)."""
    out = {"counts": metrics_counts(dep, dep.server.stats),
           "monitor": persist.take(dep.monitor) if isinstance(dep.monitor, WorkerMonitor) else None}
    if status:
        out["status"] = {**dep.status(), "pid": os.getpid()}
    return out


def _dispatch(dep: Any, cmd: dict[str, Any]) -> Any:
    method = cmd.get("method")
    if method == "collect":
        return _collected(dep, bool(cmd.get("status")))
    slot = dep.models[cmd["model"]]
    arg = cmd.get("arg")
    if method == "update":
        return slot.update(arg).version
    if method == "split":
        slot.split(arg)
        return True
    if method == "shadow":
        slot.shadow(arg)
        return True
    raise ValueError(f"unknown worker command {method!r}")


def main() -> int:
    """Serve as told on stdin; exit when stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints must not corrupt the control channel
    sys.stdout = sys.stderr
    lines = iter(sys.stdin.readline, "")
    try:
        cfg = json.loads(next(lines))
        sock = None
        if cfg.get("fd") is not None:
            sock = socket.socket(fileno=cfg["fd"])
        monitor = None if cfg.get("monitor") is None else WorkerMonitor.replica(cfg["monitor"])
        dep = serve_worker(Registry(cfg["registry"]), cfg["specs"], monitor=monitor, published=cfg["published"],
                           host=cfg["host"], port=cfg["port"],
                           token=cfg["token"], max_body_bytes=cfg["max_body_bytes"],
                           read_timeout=cfg["read_timeout"], max_batch_size=cfg["max_batch_size"],
                           max_batch_delay_ms=cfg["max_batch_delay_ms"], reuse_port=cfg["reuse_port"], sock=sock,
                           grpc_port=cfg.get("grpc_port"))
    except BaseException as exc:
        proto.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return 1
    proto.write(json.dumps({"ready": True, "pid": os.getpid(), "url": dep.url}) + "\n")
    try:
        for line in lines:
            cmd = json.loads(line)
            if cmd.get("method") == "stop":
                break
            try:
                reply = {"ok": _dispatch(dep, cmd)}
            except Exception as exc:
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            proto.write(json.dumps(reply, default=str) + "\n")
    finally:
        dep.stop()
        try:  # its final counters, and what it observed since the last collection
            proto.write(json.dumps({"ok": _collected(dep)}, default=str) + "\n")
        except OSError:  # the parent is gone
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
