"""Serving commands: serve registry versions over HTTP until interrupted."""

from __future__ import annotations

import argparse
import os
from typing import Any

from modelmgmt.cli._common import open_registry

__all__ = ["add_commands"]


def add_commands(sub) -> None:
    s = sub.add_parser("serve", help="serve a model over HTTP until interrupted")
    s.add_argument("ref", help='"name", "name/3" or "name@alias"')
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--token", default=os.environ.get("MODELMGMT_TOKEN"), help="require this bearer token")
    s.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace, out) -> int:
    import signal
    import threading

    from modelmgmt.deployment import deploy

    reg = open_registry(args)
    options: dict[str, Any] = {"host": args.host, "port": args.port}
    if args.token:
        options["token"] = args.token
    dep = deploy(args.ref, registry=reg, target="http", **options)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"serving {dep.version.name}/{dep.version.version} at {dep.url} (Ctrl-C to stop)", file=out, flush=True)
    try:
        stop.wait()
    finally:
        dep.stop()
    return 0
