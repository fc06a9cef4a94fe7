"""The web UI command: ``modelmgmt ui`` serves a read-only view of a registry until interrupted."""

from __future__ import annotations

import argparse
import os
import signal
import threading

from modelmgmt.cli._common import open_registry
from modelmgmt.ui import serve

__all__ = ["add_commands"]


def add_commands(sub) -> None:
    s = sub.add_parser("ui", help="browse the registry in a web browser (read-only)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=8765, help="port (0 picks a free one; default 8765)")
    s.add_argument("--token", default=os.environ.get("MODELMGMT_TOKEN"),
                   help="require this token (bearer header, or ?token= once in the browser)")
    s.set_defaults(handler=_ui)


def _ui(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    ui = serve(reg, host=args.host, port=args.port, token=args.token or None)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    shown = f"{ui.url}/?token=..." if args.token else ui.url
    print(f"modelmgmt ui: {shown} (registry {reg.url}; Ctrl-C to stop)", file=out, flush=True)
    try:
        stop.wait()
    finally:
        ui.stop()
    return 0
