"""Registry commands: list models and versions, move aliases, roll back, compare."""

from __future__ import annotations

import argparse

from modelmgmt.cli._common import add_json_flag, open_registry, print_json, print_table

__all__ = ["add_commands"]


def add_commands(sub) -> None:
    s = sub.add_parser("models", help="list model names")
    add_json_flag(s)
    s.set_defaults(handler=_models)
    s = sub.add_parser("versions", help="list a model's versions")
    s.add_argument("name")
    add_json_flag(s)
    s.set_defaults(handler=_versions)
    s = sub.add_parser("alias", help="point an alias at a version")
    s.add_argument("name")
    s.add_argument("alias")
    s.add_argument("version", type=int)
    s.set_defaults(handler=_alias)
    s = sub.add_parser("rollback", help="move an alias back to its previous target")
    s.add_argument("name")
    s.add_argument("alias")
    s.set_defaults(handler=_rollback)
    s = sub.add_parser("diff", help="compare two versions")
    s.add_argument("ref_a")
    s.add_argument("ref_b")
    s.set_defaults(handler=_diff)


def _models(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    print_table(({"name": n} for n in reg.models()), ["name"], out, as_json=args.json)
    return 0


def _versions(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    aliases = reg.aliases(args.name)
    rows = [
        {
            "version": v.version,
            "created_at": v.created_at,
            "digest": v.digest[:12],
            "aliases": [a for a, n in sorted(aliases.items()) if n == v.version],
            "metrics": dict(v.metrics),
        }
        for v in reg.versions(args.name)
    ]
    print_table(rows, ["version", "created_at", "digest", "aliases", "metrics"], out, as_json=args.json)
    return 0


def _alias(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    reg.set_alias(args.name, args.alias, args.version)
    print(f"{args.name}@{args.alias} -> {args.version}", file=out)
    return 0


def _rollback(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    v = reg.rollback(args.name, args.alias)
    print(f"{args.name}@{args.alias} -> {v.version}", file=out)
    return 0


def _diff(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    print_json(reg.diff(args.ref_a, args.ref_b), out)
    return 0
