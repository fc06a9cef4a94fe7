"""Trust commands: verify a version (bytes and signature), make a signing key, export a version."""

from __future__ import annotations

import argparse

from modelmgmt.cli._common import open_registry, print_json
from modelmgmt.registry.signing import KEY_TYPES, generate_key

__all__ = ["add_commands"]


def add_commands(sub) -> None:
    s = sub.add_parser("verify", help="check a version's signature and every blob against its digest")
    s.add_argument("ref")
    s.add_argument("--key", action="append", default=[], metavar="PUB",
                   help="trusted public key (PEM); repeat for several; the version must be signed by one")
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.set_defaults(handler=_verify)
    s = sub.add_parser("keygen", help="write a new signing key PATH and its public key PATH.pub")
    s.add_argument("path")
    s.add_argument("--type", choices=KEY_TYPES, default="ed25519", help="key type (default: ed25519)")
    s.set_defaults(handler=_keygen)
    s = sub.add_parser("export", help="write one version as a plain, verifiable folder")
    s.add_argument("ref")
    s.add_argument("dir")
    s.add_argument("--key", action="append", default=[], metavar="PUB",
                   help="trusted public key (PEM); the version must be signed by one to be exported")
    s.set_defaults(handler=_export)


def _registry(args: argparse.Namespace):
    keys = list(args.key)
    return open_registry(args, trusted_keys=keys or None, require_signature=bool(keys))


def _verify(args: argparse.Namespace, out) -> int:
    result = _registry(args).verify(args.ref)  # IntegrityError (exit 1) when any check fails
    if args.json:
        print_json({"ok": result.ok, "ref": result.ref, "digest": result.digest,
                    "signed_by": result.signed_by, "blobs_checked": result.blobs_checked}, out)
        return 0 if result.ok else 1
    signer = f"signed by {result.signed_by}" if result.signed_by else "signature not checked"
    print(f"ok: {result.ref} ({signer}; {result.blobs_checked} blob(s) checked)", file=out)
    return 0 if result.ok else 1


def _keygen(args: argparse.Namespace, out) -> int:
    fp = generate_key(args.path, args.type)
    print(f"wrote {args.path} (private, keep it secret) and {args.path}.pub ({args.type}, fingerprint {fp})",
          file=out)
    return 0


def _export(args: argparse.Namespace, out) -> int:
    where = _registry(args).export(args.ref, args.dir)
    print(f"exported {args.ref} to {where}", file=out)
    return 0
