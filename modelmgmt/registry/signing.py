"""Signed manifests: Ed25519 or ECDSA P-256 signatures over a version's exact manifest bytes.

The manifest lists the sha256 of every tensor blob, so a signature over its bytes covers the
whole version. The signature lives beside the manifest as ``manifest.sig``, a small JSON
document (algorithm, signing key's fingerprint, the manifest's sha256, base64 signature)
written *before* the manifest, so a visible signed version is never briefly unsigned.
A key's fingerprint is the sha256 of its DER SubjectPublicKeyInfo, in hex.

Needs the ``cryptography`` package (the ``sign`` extra) only when a key is used.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any, Iterable

import attrs

from modelmgmt._validation import check_bool, check_choice
from modelmgmt.errors import IntegrityError, InvalidArgumentError

__all__ = ["SIGNATURE", "KEY_TYPES", "Trust", "generate_key", "fingerprint", "load_public_key"]

SIGNATURE = "manifest.sig"
SIG_FORMAT = "modelmgmt-signature"
KEY_TYPES = ("ed25519", "ecdsa-p256")
_ALGORITHMS = {"ed25519": "ed25519", "ecdsa-p256": "ecdsa-p256-sha256"}
_MAX_SIG_BYTES = 4096


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:  # pragma: no cover - the sign extra is installed in the test venv
        raise ImportError("signing needs the 'cryptography' package: pip install 'modelmgmt[sign]'") from None
    return serialization


def _key_type(key: Any) -> str:
    """"ed25519" or "ecdsa-p256" for a private or public key; InvalidArgumentError otherwise."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) and key.curve.name == "secp256r1":
        return "ecdsa-p256"
    raise InvalidArgumentError(f"only Ed25519 and ECDSA P-256 keys are supported; got {type(key).__name__}"
                               + (f" on curve {key.curve.name}" if hasattr(key, "curve") else ""))


def _read_pem(path: Any, what: str) -> bytes:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentError(f"{what} must be a path to a PEM file; got {type(path).__name__}")
    try:
        with open(path, "rb") as f:
            return f.read(1 << 16)
    except OSError as exc:
        raise InvalidArgumentError(f"{what} {os.fspath(path)!r} cannot be read: {exc.strerror or exc}") from None


def _load_private_key(path: Any) -> Any:
    serialization = _crypto()
    data = _read_pem(path, "signing_key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidArgumentError(f"signing_key {os.fspath(path)!r} is not an unencrypted PEM private key: {exc}") from None
    _key_type(key)
    return key


def load_public_key(path: Any) -> Any:
    """A trusted public key from a PEM file (a PEM private key is accepted: its public half is used)."""
    serialization = _crypto()
    data = _read_pem(path, "trusted key")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise InvalidArgumentError(f"trusted key {os.fspath(path)!r} is not a PEM public key: {exc}") from None
    _key_type(key)
    return key


def fingerprint(public_key: Any) -> str:
    """The key's fingerprint: sha256 of its DER SubjectPublicKeyInfo, hex."""
    serialization = _crypto()
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def generate_key(path: Any, key_type: str = "ed25519") -> str:
    """Write a new private key to ``path`` (PEM, mode 0600) and its public key to ``path.pub``;
    returns the fingerprint. Refuses to overwrite an existing file."""
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    check_choice(key_type, "key type", KEY_TYPES)
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentError(f"path must be a str or path; got {type(path).__name__}")
    path = os.fspath(path)
    key = ed25519.Ed25519PrivateKey.generate() if key_type == "ed25519" else ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    for target, data, mode in ((path, private, 0o600), (path + ".pub", public, 0o644)):
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            raise InvalidArgumentError(f"{target!r} already exists; refusing to overwrite a key") from None
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return fingerprint(key.public_key())


@attrs.frozen
class _Signature:
    algorithm: str
    key: str
    manifest_sha256: str
    signature: bytes


def _parse_signature(data: bytes, where: str) -> _Signature:
    if len(data) > _MAX_SIG_BYTES:
        raise IntegrityError(f"signature {where} is {len(data)} bytes; a signature file is at most {_MAX_SIG_BYTES}")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise IntegrityError(f"signature {where} is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != SIG_FORMAT:
        raise IntegrityError(f"signature {where}: field 'format' must be {SIG_FORMAT!r}")
    fields = {}
    for field in ("algorithm", "key", "manifest_sha256", "signature"):
        value = doc.get(field)
        if not isinstance(value, str) or not value:
            raise IntegrityError(f"signature {where}: field {field!r} must be a non-empty str; got {value!r}")
        fields[field] = value
    if fields["algorithm"] not in _ALGORITHMS.values():
        raise IntegrityError(f"signature {where}: field 'algorithm' is {fields['algorithm']!r}; "
                             f"expected one of {sorted(_ALGORITHMS.values())}")
    try:
        raw = base64.b64decode(fields["signature"], validate=True)
    except ValueError:
        raise IntegrityError(f"signature {where}: field 'signature' is not base64") from None
    return _Signature(fields["algorithm"], fields["key"], fields["manifest_sha256"], raw)


class Trust:
    """What a registry signs with and which signatures it accepts.

    ``signing_key``: path to a PEM private key; every manifest written is signed with it (its
    public key is trusted too). ``trusted_keys``: paths to PEM public keys (several at once
    for rotation). ``require_signature``: refuse unsigned versions and untrusted signers.
    """

    def __init__(self, signing_key: Any = None, trusted_keys: Any = None, require_signature: bool = False) -> None:
        self.require = check_bool(require_signature, "require_signature")
        self._signer = None if signing_key is None else _load_private_key(signing_key)
        if trusted_keys is None:
            paths: list[Any] = []
        elif isinstance(trusted_keys, (str, os.PathLike)):
            paths = [trusted_keys]
        elif isinstance(trusted_keys, Iterable):
            paths = list(trusted_keys)
        else:
            raise InvalidArgumentError(f"trusted_keys must be a list of paths to PEM public keys; "
                                       f"got {type(trusted_keys).__name__}")
        keys = [load_public_key(p) for p in paths]
        if self._signer is not None:
            keys.append(self._signer.public_key())
        self.keys: dict[str, Any] = {fingerprint(k): k for k in keys}
        if self.require and not self.keys:
            raise InvalidArgumentError("require_signature=True needs trusted_keys (or a signing_key) to check against")
        self.signing_fingerprint = None if self._signer is None else fingerprint(self._signer.public_key())

    @property
    def checks(self) -> bool:
        """Whether loading checks signatures at all."""
        return bool(self.keys)

    @property
    def signs(self) -> bool:
        """Whether this registry signs what it writes."""
        return self._signer is not None

    def sign(self, manifest: bytes) -> bytes:
        """The signature document (JSON bytes) for exact ``manifest`` bytes."""
        if self._signer is None:
            raise InvalidArgumentError("this registry has no signing_key")
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        key_type = _key_type(self._signer)
        if key_type == "ed25519":
            raw = self._signer.sign(manifest)
        else:
            raw = self._signer.sign(manifest, ec.ECDSA(hashes.SHA256()))
        doc = {
            "format": SIG_FORMAT,
            "algorithm": _ALGORITHMS[key_type],
            "key": self.signing_fingerprint,
            "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
            "signature": base64.b64encode(raw).decode("ascii"),
        }
        return json.dumps(doc, sort_keys=True, indent=1).encode("utf-8")

    def check(self, manifest: bytes, signature: bytes | None, where: str) -> str | None:
        """The fingerprint of the trusted key that signed ``manifest``, or None when the version is
        unsigned (or signed by an unknown key) and signatures are not required.

        IntegrityError when a required signature is missing or untrusted, and whenever a
        signature by a trusted key does not match the manifest bytes.
        """
        if not self.checks:
            return None
        if signature is None:
            if self.require:
                raise IntegrityError(f"{where} is not signed, and this registry requires a signature "
                                     "(require_signature=True)")
            return None
        sig = _parse_signature(signature, where)
        key = self.keys.get(sig.key)
        if key is None:
            if self.require:
                raise IntegrityError(
                    f"{where} is signed by key {sig.key}, which is not one of the {len(self.keys)} trusted "
                    f"key(s) ({', '.join(sorted(self.keys))})"
                )
            return None
        expected = _ALGORITHMS[_key_type(key)]
        if sig.algorithm != expected:
            raise IntegrityError(f"{where}: signature algorithm {sig.algorithm!r} does not match trusted key "
                                 f"{sig.key} ({expected})")
        if sig.manifest_sha256 != hashlib.sha256(manifest).hexdigest():
            raise IntegrityError(f"{where} was changed after it was signed by {sig.key}: its sha256 is "
                                 f"{hashlib.sha256(manifest).hexdigest()}, the signature covers {sig.manifest_sha256}")
        if not _verify(key, sig.signature, manifest):
            raise IntegrityError(f"{where}: the signature by trusted key {sig.key} does not match the manifest bytes")
        return sig.key


def _verify(key: Any, signature: bytes, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        if _key_type(key) == "ed25519":
            key.verify(signature, data)
        else:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
