"""Commands that need no registry: list plugins, run the demo."""

from __future__ import annotations

import argparse

from modelmgmt import plugin_manager as pm
from modelmgmt.demo import main as demo

__all__ = ["add_commands"]


def add_commands(sub) -> None:
    s = sub.add_parser("plugins", help="list loaded plugins, deployers and store schemes")
    s.set_defaults(handler=_plugins)
    s = sub.add_parser("demo", help="run the end-to-end example on a temporary local store")
    s.add_argument("--keep", action="store_true", help="keep the temporary registry and print its path")
    s.set_defaults(handler=_demo)


def _plugins(args: argparse.Namespace, out) -> int:
    print("plugins:   " + ", ".join(pm.plugins()), file=out)
    print("deployers: " + ", ".join(pm.deployers()), file=out)
    print("stores:    " + ", ".join(pm.store_schemes()) + " (+ any fsspec protocol)", file=out)
    print("exporters: " + ", ".join(pm.exporters()), file=out)
    return 0


def _demo(args: argparse.Namespace, out) -> int:
    demo(keep=args.keep, out=out)
    return 0
