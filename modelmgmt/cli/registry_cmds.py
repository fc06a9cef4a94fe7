"""Registry commands: models, versions, aliases and their history, search, experiments and
runs, gc, delete, predict. Listings print aligned tables with a header, or JSON with --json."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
from typing import Any

import numpy as np

from modelmgmt.cli._common import CLIError, add_json_flag, open_registry, print_json, print_table

__all__ = ["add_commands"]


def add_commands(sub) -> None:
    s = sub.add_parser("models", help="list model names")
    add_json_flag(s)
    s.set_defaults(handler=_models)
    s = sub.add_parser("versions", help="list a model's versions")
    s.add_argument("name")
    s.add_argument("--offset", type=int, default=0, help="skip this many versions")
    s.add_argument("--limit", type=int, default=None, help="list at most this many versions")
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
    s = sub.add_parser("aliases", help="list a model's aliases and their targets")
    s.add_argument("name")
    add_json_flag(s)
    s.set_defaults(handler=_aliases)
    s = sub.add_parser("history", help="every move of an alias, oldest first")
    s.add_argument("name")
    s.add_argument("alias")
    add_json_flag(s)
    s.set_defaults(handler=_history)
    s = sub.add_parser("diff", help="compare two versions")
    s.add_argument("ref_a")
    s.add_argument("ref_b")
    s.set_defaults(handler=_diff)
    s = sub.add_parser("search", help="find versions with MLflow's filter syntax")
    s.add_argument("--filter", default="", help="e.g. \"metrics.acc > 0.9 and tags.team = 'ml'\"")
    s.add_argument("--name", default=None, help="only this model's versions")
    s.add_argument("--order-by", action="append", default=None, help="e.g. 'metrics.acc DESC' (repeatable)")
    s.add_argument("--limit", type=int, default=None)
    add_json_flag(s)
    s.set_defaults(handler=_search)
    s = sub.add_parser("experiments", help="list experiments")
    add_json_flag(s)
    s.set_defaults(handler=_experiments)
    s = sub.add_parser("runs", help="list an experiment's runs")
    s.add_argument("experiment")
    s.add_argument("--filter", default="", help="e.g. \"metrics.r2 > 0.8 and params.lr < 0.1\"")
    s.add_argument("--order-by", action="append", default=None, help="e.g. 'metrics.r2 DESC' (repeatable)")
    s.add_argument("--limit", type=int, default=None)
    add_json_flag(s)
    s.set_defaults(handler=_runs)
    s = sub.add_parser("gc", help="delete blobs no version references")
    s.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    s.add_argument("--grace-period", type=float, default=3600.0, help="seconds a writer elsewhere is waited for")
    add_json_flag(s)
    s.set_defaults(handler=_gc)
    s = sub.add_parser("delete", help="delete a version (NAME/N) or a whole model (NAME)")
    s.add_argument("ref")
    s.set_defaults(handler=_delete)
    s = sub.add_parser("predict", help="predict with a version on rows from a .csv or .npy file")
    s.add_argument("ref")
    s.add_argument("--input", required=True, help="FILE.csv (header row optional) or FILE.npy")
    s.add_argument("--output", default=None, help="FILE.csv or FILE.json (default: CSV on stdout)")
    s.set_defaults(handler=_predict)


def _models(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    print_table(({"name": n} for n in reg.models()), ["name"], out, as_json=args.json)
    return 0


def _version_rows(versions, aliases: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    return [
        {
            "name": v.name,
            "version": v.version,
            "created_at": v.created_at,
            "digest": v.digest[:12],
            "aliases": [a for a, n in sorted(aliases.get(v.name, {}).items()) if n == v.version],
            "metrics": dict(v.metrics),
            "tags": dict(v.tags),
        }
        for v in versions
    ]


def _versions(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    aliases = {args.name: reg.aliases(args.name)}
    rows = _version_rows(reg.versions(args.name, offset=args.offset, limit=args.limit), aliases)
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


def _aliases(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    rows = [{"alias": a, "version": v} for a, v in sorted(reg.aliases(args.name).items())]
    print_table(rows, ["alias", "version"], out, as_json=args.json)
    return 0


def _history(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    rows = reg.alias_history(args.name, args.alias)
    print_table(rows, ["time", "action", "version", "previous"], out, as_json=args.json)
    return 0


def _diff(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    print_json(reg.diff(args.ref_a, args.ref_b), out)
    return 0


def _search(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    found = reg.search_versions(args.filter, name=args.name, order_by=args.order_by or (), limit=args.limit)
    names = sorted({v.name for v in found})
    rows = _version_rows(found, {n: reg.aliases(n) for n in names})
    print_table(rows, ["name", "version", "created_at", "aliases", "metrics", "tags"], out, as_json=args.json)
    return 0


def _experiments(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    print_table(({"experiment": e} for e in reg.experiments()), ["experiment"], out, as_json=args.json)
    return 0


def _runs(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    # an unknown experiment raises NotFoundError naming the known ones
    runs = reg.search_runs(args.filter, experiment=args.experiment, order_by=args.order_by or (), limit=args.limit)
    rows = [
        {
            "run_id": r.id, "status": r.status, "start_time": r.start_time, "parent_id": r.parent_id,
            "params": r.params, "metrics": {k: pts[-1][1] for k, pts in r.metrics.items() if pts},
        }
        for r in runs
    ]
    columns = ["run_id", "status", "start_time", "parent_id", "params", "metrics"]
    print_table(rows, columns, out, as_json=args.json)
    return 0


def _gc(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    removed = reg.gc(grace_period=args.grace_period, dry_run=args.dry_run)
    what = "would delete" if args.dry_run else "deleted"
    print_table(({"key": k, "action": what} for k in removed), ["key", "action"], out, as_json=args.json)
    if not args.json:
        print(f"{len(removed)} blob(s) {what}", file=out)
    return 0


def _delete(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    ref = args.ref
    if "@" in ref and "/" not in ref:
        raise CLIError(f"delete takes NAME/N (one version) or NAME (the whole model), not an alias: {ref!r}")
    if "/" in ref:
        name, _, number = ref.partition("/")
        if not number.isdigit():
            raise CLIError(f"delete takes NAME/N with a version number N; got {ref!r}")
        reg.delete_version(name, int(number))
        print(f"deleted {name}/{number}", file=out)
    else:
        reg.delete_model(ref)
        print(f"deleted model {ref} (run `modelmgmt gc` to free its blobs)", file=out)
    return 0


def read_rows(path: str) -> np.ndarray:
    """Rows from a .npy file, or a .csv file with or without a header row."""
    if not os.path.isfile(path):
        raise CLIError(f"input file {path!r} does not exist")
    if path.endswith(".npy"):
        return np.load(path, allow_pickle=False)
    if not path.endswith(".csv"):
        raise CLIError(f"--input must be a .csv or .npy file; got {path!r}")
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    if not rows:
        raise CLIError(f"{path!r} has no rows")
    try:
        [float(c) for c in rows[0] if c.strip()]
    except ValueError:
        rows = rows[1:]  # a header row
    try:
        return np.array([[float(c) if c.strip() else np.nan for c in r] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise CLIError(f"{path!r}: every value after the header must be a number ({exc})") from None


def _predict(args: argparse.Namespace, out) -> int:
    reg = open_registry(args)
    X = read_rows(args.input)
    model = reg.load(args.ref)
    pred = np.asarray(model.predict(X))
    rows = pred.reshape(len(pred), -1).tolist()
    if args.output and args.output.endswith(".json"):
        text = json.dumps([r[0] if len(r) == 1 else r for r in rows]) + "\n"
    else:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        text = buf.getvalue()
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
        print(f"{len(rows)} prediction(s) written to {args.output}", file=out)
    else:
        out.write(text)
    return 0
