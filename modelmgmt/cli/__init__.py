"""The ``modelmgmt`` command: one parser, sub-commands contributed by one module per area.

Each module in ``COMMAND_MODULES`` has ``add_commands(sub)``, which adds sub-parsers and sets
``handler=fn`` on each (``fn(args, out) -> int``). Handlers that need a registry call
:func:`modelmgmt.cli._common.open_registry`. Shared output (aligned tables, ``--json``) lives
in ``_common`` too, so every listing looks the same.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from modelmgmt.cli._common import REGISTRY_ENV, CLIError
from modelmgmt.errors import ModelmgmtError

__all__ = ["main", "run", "build_parser", "REGISTRY_ENV"]

#: modules that contribute sub-commands, in the order their commands are listed by --help
COMMAND_MODULES = (
    "modelmgmt.cli.registry_cmds",
    "modelmgmt.cli.trust_cmds",
    "modelmgmt.cli.serve_cmds",
    "modelmgmt.cli.ui_cmds",
    "modelmgmt.cli.misc_cmds",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, every area's commands included."""
    p = argparse.ArgumentParser(
        prog="modelmgmt",
        description="Manage model versions in a registry (a path or fsspec URL).",
    )
    p.add_argument(
        "--registry",
        default=os.environ.get(REGISTRY_ENV),
        help=f"registry URL or path (default: ${REGISTRY_ENV})",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(sub)
    return p


def run(args: argparse.Namespace, out=None) -> int:
    """Execute one parsed command; returns the exit status."""
    out = out if out is not None else sys.stdout
    return int(args.handler(args, out) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``modelmgmt`` console script and ``python -m modelmgmt``."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except CLIError as exc:
        print(f"modelmgmt: error: {exc}", file=sys.stderr)
        return exc.status
    except (ModelmgmtError, ValueError, TypeError) as exc:
        print(f"modelmgmt: error: {exc}", file=sys.stderr)
        return 1
