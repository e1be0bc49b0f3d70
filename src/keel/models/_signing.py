"""Ed25519 keys and package signatures.

A package is signed over the exact bytes of its manifest (``keel-model.yaml``), and the
manifest lists the sha256 of every other file, so one signature covers every byte.
The signature sits beside the manifest in ``keel-model.sig`` (JSON: key id, public key,
signature). Whether a signer is trusted is decided by the :class:`Keyring`: the folder
``<KEEL_HOME>/keys`` holds this machine's signing key (mode 0600) and one public key per
trusted signer in ``trusted/``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keel.exceptions import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    TamperedModelError,
)

SIGNATURE_FILE = "keel-model.sig"
SIGNATURE_FORMAT = "keel-ed25519-v1"
#: A detached signature of one file (``<file>.sig``): Ed25519 over the file's sha256 hex.
FILE_SIGNATURE_FORMAT = "keel-ed25519-file-v1"
FILE_SIGNATURE_SUFFIX = ".sig"
_MAX_SIGNATURE_BYTES = 1 << 20
_PRIVATE = "signing-key.pem"
_PUBLIC = "signing-key.pub"


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A signer's public key, known by a short id (sha256 of the raw key, 16 hex digits)."""

    key_id: str
    name: str
    raw: bytes

    @property
    def pem(self) -> str:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        key = Ed25519PublicKey.from_public_bytes(self.raw)
        return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def key_id_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def _raw_public(key: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return bytes(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def parse_public_key(text: str | bytes, name: str = "") -> PublicKey:
    """A public key from PEM text (what ``keel keys export`` prints)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    data = text.encode() if isinstance(text, str) else text
    try:
        key = load_pem_public_key(data)
    except ValueError as exc:
        raise InvalidArgumentError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidArgumentError("keel signs with Ed25519; this public key is another type")
    raw = _raw_public(key)
    return PublicKey(key_id_of(raw), name or key_id_of(raw), raw)


class Keyring:
    """This machine's signing key and the public keys it trusts, under one folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def trusted_dir(self) -> Path:
        return self.root / "trusted"

    def has_signing_key(self) -> bool:
        return (self.root / _PRIVATE).exists()

    def generate(self, name: str = "", *, overwrite: bool = False) -> PublicKey:
        """Create the signing key (private file 0600) and trust its public half."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            NoEncryption,
            PrivateFormat,
        )

        private_path = self.root / _PRIVATE
        if private_path.exists() and not overwrite:
            raise AlreadyExistsError(
                f"a signing key exists at {private_path}; pass --overwrite to replace it "
                "(packages signed with the old key stay trusted while its public key is)"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        private_path.unlink(missing_ok=True)
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        raw = _raw_public(key.public_key())
        public = PublicKey(key_id_of(raw), name or _default_name(), raw)
        (self.root / _PUBLIC).write_text(public.pem)
        self.trust(public)
        return public

    def ensure_signing_key(self) -> PublicKey | None:
        """Create this machine's signing key if there is none; returns it when created.

        The new key's public half is trusted at once (:meth:`generate`), so packages this
        user saves load under the strict policy, while anyone else's key stays untrusted.
        """
        if self.has_signing_key():
            return None
        try:
            return self.generate()
        except AlreadyExistsError:  # another process created it first
            return None

    def signing_key(self) -> Any:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        path = self.root / _PRIVATE
        if not path.exists():
            raise NotFoundError(f"no signing key at {path}; create one with `keel keys generate`")
        if os.stat(path).st_mode & 0o077:
            raise InvalidArgumentError(
                f"signing key {path} is readable by other users; run `chmod 600 {path}`"
            )
        return load_pem_private_key(path.read_bytes(), password=None)

    def public_key(self) -> PublicKey:
        key = self.signing_key()
        raw = _raw_public(key.public_key())
        return self._named(PublicKey(key_id_of(raw), key_id_of(raw), raw))

    def trust(self, key: PublicKey) -> PublicKey:
        """Trust packages signed by ``key`` from now on."""
        self.trusted_dir.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"name": key.name, "public_key": key.pem})
        (self.trusted_dir / f"{key.key_id}.json").write_text(body)
        return key

    def untrust(self, key_id: str) -> None:
        path = self.trusted_dir / f"{_check_key_id(key_id)}.json"
        if not path.exists():
            raise NotFoundError(f"key {key_id!r} is not trusted; see `keel keys list`")
        path.unlink()

    def trusted(self) -> dict[str, PublicKey]:
        out: dict[str, PublicKey] = {}
        if not self.trusted_dir.exists():
            return out
        for path in sorted(self.trusted_dir.glob("*.json")):
            data = json.loads(path.read_text())
            key = parse_public_key(data["public_key"], data.get("name", ""))
            out[key.key_id] = key
        return out

    def _named(self, key: PublicKey) -> PublicKey:
        known = self.trusted().get(key.key_id)
        return known if known is not None else key


def _check_key_id(key_id: str) -> str:
    if len(key_id) != 16 or any(c not in "0123456789abcdef" for c in key_id):
        raise InvalidArgumentError(f"{key_id!r} is not a key id (16 hex digits)")
    return key_id


def _default_name() -> str:
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "keel"
    return f"{user}@{socket.gethostname()}"


def sign_package(folder: Path, keyring: Keyring, manifest_name: str) -> PublicKey:
    """Write ``keel-model.sig`` over the manifest bytes with the keyring's signing key."""
    data = (folder / manifest_name).read_bytes()
    return _write_signature(folder / SIGNATURE_FILE, keyring, data, format=SIGNATURE_FORMAT)


def _write_signature(target: Path, keyring: Keyring, data: bytes, **fields: Any) -> PublicKey:
    """Write ``fields`` and the keyring's key id, signer name, public key and Ed25519
    signature of ``data`` to ``target`` as one JSON document; the key that signed."""
    key = keyring.signing_key()
    public = keyring.public_key()
    doc = {
        **fields,
        "key_id": public.key_id,
        "signer": public.name,
        "public_key": base64.b64encode(public.raw).decode(),
        "signature": base64.b64encode(key.sign(data)).decode(),
    }
    target.write_text(json.dumps(doc, indent=2) + "\n")
    return public


@dataclass(frozen=True, slots=True)
class SignatureInfo:
    key_id: str
    signer: str
    trusted: bool


def check_signature(folder: Path, manifest_bytes: bytes, keyring: Keyring) -> SignatureInfo | None:
    """Verify ``keel-model.sig`` if present; None for an unsigned package.

    A signature that does not verify raises TamperedModelError (the manifest changed);
    whether the signer is trusted is returned, for the caller's policy to decide.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    path = folder / SIGNATURE_FILE
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
        raw = base64.b64decode(doc["public_key"])
        sig = base64.b64decode(doc["signature"])
        key_id = str(doc["key_id"])
        public = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise TamperedModelError(
            f"{SIGNATURE_FILE} is damaged ({exc}); the package was altered"
        ) from exc
    if key_id_of(raw) != key_id:
        raise TamperedModelError(
            f"{SIGNATURE_FILE} names key {key_id} but carries another public key; the "
            "package was altered"
        )
    try:
        public.verify(sig, manifest_bytes)
    except InvalidSignature as exc:
        raise TamperedModelError(
            f"keel-model.yaml was changed after it was signed by key {key_id} "
            f"({doc.get('signer', '?')}): the signature does not match. Do not use this package."
        ) from exc
    trusted = keyring.trusted()
    known = trusted.get(key_id)
    signer = known.name if known is not None else str(doc.get("signer", ""))
    return SignatureInfo(key_id, signer, known is not None and known.raw == raw)


def file_sha256(path: Path) -> str:
    """The sha256 hex of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sign_file(path: Path, keyring: Keyring, out: Path | None = None) -> Path:
    """Write a detached signature of ``path`` (default ``<file>.sig`` beside it).

    It is what a model's author hands out with the file: ``keel models import`` finds it,
    verifies it and records its signer as the author. The signature is Ed25519 over the
    file's sha256 hex, with the key id, public key, signer name, file name and digest in
    one JSON document.
    """
    if not path.is_file():
        raise NotFoundError(f"no file at {str(path)!r} to sign")
    sha256 = file_sha256(path)
    target = out if out is not None else path.with_name(path.name + FILE_SIGNATURE_SUFFIX)
    _write_signature(
        target,
        keyring,
        sha256.encode(),
        format=FILE_SIGNATURE_FORMAT,
        file=path.name,
        sha256=sha256,
        size=path.stat().st_size,
    )
    return target


@dataclass(frozen=True, slots=True)
class FileSignature(SignatureInfo):
    """A detached signature that verified over a file's bytes: who signed it."""

    sha256: str


def read_signature_doc(sig_path: Path) -> dict[str, Any] | None:
    """The JSON of a keel detached signature, or None when the file is another format
    (a sigstore bundle, an OpenPGP armour...) that keel records but does not verify."""
    if sig_path.stat().st_size > _MAX_SIGNATURE_BYTES:
        raise InvalidArgumentError(f"{sig_path.name} is over 1 MiB; not a signature file")
    try:
        doc = json.loads(sig_path.read_bytes())
    except ValueError:
        return None
    if isinstance(doc, dict) and {"key_id", "public_key", "signature"} <= doc.keys():
        return doc
    return None


def check_file_signature(
    sig_path: Path, sha256: str, keyring: Keyring, *, file_name: str = ""
) -> FileSignature:
    """Verify a keel detached signature against a file's sha256 hex.

    A signature that does not verify raises TamperedModelError naming both files: the file
    is not the one the signer signed (or the signature was edited). Whether the signer is
    trusted is returned, for the caller to decide.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    what = file_name or "the file"
    doc = read_signature_doc(sig_path)
    if doc is None:
        raise InvalidArgumentError(f"{sig_path.name} is not a keel signature (keel keys sign)")
    try:
        raw = base64.b64decode(doc["public_key"])
        sig = base64.b64decode(doc["signature"])
        key_id = str(doc["key_id"])
        public = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        raise TamperedModelError(f"{sig_path.name} is damaged ({exc})") from exc
    if key_id_of(raw) != key_id:
        raise TamperedModelError(
            f"{sig_path.name} names key {key_id} but carries another public key; it was altered"
        )
    try:
        public.verify(sig, sha256.encode())
    except InvalidSignature as exc:
        raise TamperedModelError(
            f"{sig_path.name} does not match {what}: the file is not the one key {key_id} "
            f"({doc.get('signer', '?')}) signed, or the signature was edited"
        ) from exc
    known = keyring.trusted().get(key_id)
    claimed = str(doc.get("signer", ""))
    # the name this machine gave the key, unless it was trusted without one
    signer = known.name if known is not None and known.name != key_id else claimed
    return FileSignature(key_id, signer, known is not None and known.raw == raw, sha256)


__all__ = [
    "FILE_SIGNATURE_FORMAT",
    "FILE_SIGNATURE_SUFFIX",
    "SIGNATURE_FILE",
    "FileSignature",
    "Keyring",
    "PublicKey",
    "SignatureInfo",
    "check_file_signature",
    "check_signature",
    "file_sha256",
    "parse_public_key",
    "read_signature_doc",
    "sign_file",
    "sign_package",
]
