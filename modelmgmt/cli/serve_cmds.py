"""Serving commands: serve registry versions over HTTP until interrupted."""

from __future__ import annotations

import argparse
import io
import os
import signal
import threading
from typing import Any

import numpy as np

from modelmgmt.cli._common import CLIError, open_registry
from modelmgmt.deployment import deploy
from modelmgmt.monitor import Monitor

__all__ = ["add_commands", "parse_canary", "monitor_from_attachment"]


def add_commands(sub) -> None:
    s = sub.add_parser("serve", help="serve models over HTTP (OIP v2, MLflow scoring) until interrupted")
    s.add_argument("ref", nargs="+", help='"name", "name/3" or "name@alias"; several: one port, each model by name')
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--token", default=os.environ.get("MODELMGMT_TOKEN"), help="require this bearer token")
    s.add_argument("--grpc-port", type=int, metavar="P",
                   help="also serve OIP v2 over gRPC on port P (0: a free one; with --workers, in every worker)")
    s.add_argument("--follow", type=float, metavar="SECONDS",
                   help="re-resolve aliases every SECONDS and swap when one moves")
    s.add_argument("--workers", type=int, default=1, help="processes serving the port (SO_REUSEPORT)")
    s.add_argument("--max-batch-size", type=int, default=1, help="rows stacked into one predict call")
    s.add_argument("--max-batch-delay-ms", type=float, default=0.0, help="how long a batch waits for more rows")
    s.add_argument("--read-timeout", type=float, default=5.0, help="seconds a request body may stay silent (408 after)")
    s.add_argument("--canary", metavar="REF:WEIGHT",
                   help="send WEIGHT (0..1) of the first model's requests to REF, e.g. churn/2:0.1")
    s.add_argument("--shadow", metavar="REF", help="mirror the first model's requests to REF and compare")
    s.add_argument("--monitor", metavar="ATTACHMENT", nargs="?", const="",
                   help="attach a drift monitor to the first model: reference data from the version's "
                        "attachment ATTACHMENT (.npy or .csv); without a value, the monitor saved last "
                        "with Monitor.save. With --workers N each worker observes its own requests and "
                        "/metrics shows them all, merged (about a second behind)")
    s.set_defaults(handler=_serve)


def parse_canary(text: str) -> tuple[str, float]:
    """``"churn/2:0.1"`` -> ("churn/2", 0.1); CLIError for anything else."""
    ref, sep, weight = text.rpartition(":")
    try:
        w = float(weight)
    except ValueError:
        w = -1.0
    if not sep or not ref or not 0.0 < w < 1.0:
        raise CLIError(f"--canary must be REF:WEIGHT with 0 < WEIGHT < 1 (e.g. churn/2:0.1); got {text!r}")
    return ref, w


def monitor_from_attachment(registry: Any, ref: str, attachment: str) -> Monitor:
    """A Monitor whose reference is the data in a version's attachment (.npy without pickle, or
    CSV with a header row of feature names)."""
    data = registry.attachment(ref, attachment)
    if attachment.endswith(".npy"):
        reference = np.load(io.BytesIO(data), allow_pickle=False)
        return Monitor(reference)
    text = data.decode("utf-8")
    first, _, _ = text.partition("\n")
    names = [c.strip() for c in first.split(",")]
    try:
        [float(c) for c in names]
        names, skip = None, 0
    except ValueError:
        skip = 1
    reference = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=skip, ndmin=2)
    return Monitor(reference, feature_names=names)


def _serve(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    options: dict[str, Any] = {
        "host": args.host, "port": args.port, "follow": args.follow, "workers": args.workers,
        "max_batch_size": args.max_batch_size, "max_batch_delay_ms": args.max_batch_delay_ms,
        "read_timeout": args.read_timeout,
    }
    if args.token:
        options["token"] = args.token
    if args.grpc_port is not None:
        options["grpc_port"] = args.grpc_port
    canary = parse_canary(args.canary) if args.canary else None
    if args.monitor is not None:
        first = reg.get(args.ref[0])
        exact = f"{first.name}/{first.version}"
        options["monitor"] = (monitor_from_attachment(reg, exact, args.monitor) if args.monitor
                              else Monitor.load(reg, exact))
    refs = args.ref if len(args.ref) > 1 else args.ref[0]
    dep: Any = deploy(refs, registry=reg, target="http", **options)  # an HTTP deployment: split, shadow, url
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        if canary is not None:
            main = f"{dep.version.name}/{dep.version.version}"
            dep.split({main: 1.0 - canary[1], canary[0]: canary[1]})
        if args.shadow:
            dep.shadow(args.shadow)
        served = ", ".join(f"{m.version.name}/{m.version.version}" for m in dep.models.values())
        extra = f", {args.workers} workers" if args.workers > 1 else ""
        extra += f", gRPC at {dep.grpc_address}" if dep.grpc_address else ""
        print(f"serving {served} at {dep.url}{extra} (Ctrl-C to stop)", file=out, flush=True)
        stop.wait()
    finally:
        dep.stop()
    return 0
