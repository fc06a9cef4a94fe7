"""What every CLI command shares: opening the registry, aligned tables, ``--json`` output."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any, Iterable, Sequence

from modelmgmt.registry import Registry

__all__ = ["REGISTRY_ENV", "CLIError", "open_registry", "add_json_flag", "print_table", "print_json"]

REGISTRY_ENV = "MODELMGMT_REGISTRY"


class CLIError(Exception):
    """A command-line usage problem; ``status`` is the process exit code."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def open_registry(args: argparse.Namespace, *, must_exist: bool = True, **options: Any):
    """The registry named by ``--registry``; exit 2 (creating nothing) when it does not exist."""
    url = args.registry
    if not url:
        raise SystemExit(f"modelmgmt: error: --registry URL is required (or set ${REGISTRY_ENV})")
    scheme, sep, rest = str(url).partition("://")
    local = (not sep) or scheme == "file"
    if must_exist and local:
        path = os.path.expanduser(rest if sep else url)
        if not os.path.isdir(path):
            raise CLIError(f"no registry at {url!r}: the folder does not exist "
                           "(register a model there first, or check the path)")
    reg = Registry(url, **options)
    if must_exist and not local and not reg.store.list_dirs(""):
        # object stores create nothing until a write: an empty root is no registry
        raise CLIError(f"no registry at {url!r}: nothing is stored there "
                       "(register a model there first, or check the URL)")
    return reg


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """``--json``: print a JSON list of objects instead of a table."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def print_json(obj: Any, out) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str), file=out)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return " ".join(f"{k}={_cell(v)}" for k, v in sorted(value.items()))
    if isinstance(value, (list, tuple)):
        return ",".join(_cell(v) for v in value)
    return str(value)


def print_table(rows: Iterable[dict[str, Any]], columns: Sequence[str], out, *,
                as_json: bool = False) -> None:
    """Rows (dicts) as an aligned table with a header, or as a JSON list when ``as_json``."""
    rows = list(rows)
    if as_json:
        print_json([{c: r.get(c) for c in columns} for r in rows], out)
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip(), file=out)
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip(), file=out)
