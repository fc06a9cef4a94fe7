"""Trust commands: check a version's bytes against its manifest."""

from __future__ import annotations

import argparse

from modelmgmt.cli._common import open_registry

__all__ = ["add_commands"]


def add_commands(sub) -> None:
    s = sub.add_parser("verify", help="check every blob of a version against its digest")
    s.add_argument("ref")
    s.set_defaults(handler=_verify)


def _verify(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    v = reg.verify(args.ref)
    shown = f"{v.name}/{v.version}" if v is not None and hasattr(v, "version") else args.ref
    print(f"ok: {shown}", file=out)
    return 0
