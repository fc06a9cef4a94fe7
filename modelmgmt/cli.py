"""The ``modelmgmt`` command: inspect a registry, move aliases, roll back, serve, verify."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Sequence

from modelmgmt.errors import ModelmgmtError

REGISTRY_ENV = "MODELMGMT_REGISTRY"


def _parser() -> argparse.ArgumentParser:
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
    sub.add_parser("models", help="list model names")
    s = sub.add_parser("versions", help="list a model's versions")
    s.add_argument("name")
    s = sub.add_parser("alias", help="point an alias at a version")
    s.add_argument("name")
    s.add_argument("alias")
    s.add_argument("version", type=int)
    s = sub.add_parser("rollback", help="move an alias back to its previous target")
    s.add_argument("name")
    s.add_argument("alias")
    s = sub.add_parser("serve", help="serve a model over HTTP until interrupted")
    s.add_argument("ref", help='"name", "name/3" or "name@alias"')
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--token", default=os.environ.get("MODELMGMT_TOKEN"), help="require this bearer token")
    s = sub.add_parser("diff", help="compare two versions")
    s.add_argument("ref_a")
    s.add_argument("ref_b")
    s = sub.add_parser("verify", help="check every blob of a version against its digest")
    s.add_argument("ref")
    sub.add_parser("plugins", help="list loaded plugins, deployers and store schemes")
    s = sub.add_parser("demo", help="run the end-to-end example on a temporary local store")
    s.add_argument("--keep", action="store_true", help="keep the temporary registry and print its path")
    return p


def _registry(args: argparse.Namespace):
    if not args.registry:
        raise SystemExit(f"modelmgmt: error: --registry URL is required (or set ${REGISTRY_ENV})")
    from modelmgmt.registry import Registry

    return Registry(args.registry)


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str)


def run(args: argparse.Namespace, out=None) -> int:
    """Execute one parsed command; returns the exit status."""
    out = out if out is not None else sys.stdout
    cmd = args.command
    if cmd == "demo":
        from modelmgmt.demo import main as demo

        demo(keep=args.keep, out=out)
        return 0
    if cmd == "plugins":
        from modelmgmt import plugin_manager as pm

        print("plugins:   " + ", ".join(pm.plugins()), file=out)
        print("deployers: " + ", ".join(pm.deployers()), file=out)
        print("stores:    " + ", ".join(pm.store_schemes()) + " (+ any fsspec protocol)", file=out)
        return 0
    reg = _registry(args)
    if cmd == "models":
        for name in reg.models():
            print(name, file=out)
    elif cmd == "versions":
        aliases = reg.aliases(args.name)
        for v in reg.versions(args.name):
            names = ",".join(a for a, n in sorted(aliases.items()) if n == v.version)
            metrics = " ".join(f"{k}={val:.6g}" for k, val in sorted(v.metrics.items()))
            print(f"{v.version}\t{v.created_at}\t{v.digest[:12]}\t{names}\t{metrics}".rstrip(), file=out)
    elif cmd == "alias":
        reg.set_alias(args.name, args.alias, args.version)
        print(f"{args.name}@{args.alias} -> {args.version}", file=out)
    elif cmd == "rollback":
        v = reg.rollback(args.name, args.alias)
        print(f"{args.name}@{args.alias} -> {v.version}", file=out)
    elif cmd == "diff":
        print(_json(reg.diff(args.ref_a, args.ref_b)), file=out)
    elif cmd == "verify":
        v = reg.verify(args.ref)
        shown = f"{v.name}/{v.version}" if v is not None and hasattr(v, "version") else args.ref
        print(f"ok: {shown}", file=out)
    elif cmd == "serve":
        _serve(reg, args, out)
    return 0


def _serve(reg, args: argparse.Namespace, out) -> None:
    import signal
    import threading

    from modelmgmt.deployment import deploy

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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``modelmgmt`` console script and ``python -m modelmgmt``."""
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except (ModelmgmtError, ValueError, TypeError) as exc:
        print(f"modelmgmt: error: {exc}", file=sys.stderr)
        return 1
