"""Verify a package folder before anything in it is loaded.

Order matters: the signature is checked over the manifest bytes first (so an edited
manifest is caught even if it was edited to match a swapped file), then the set of
files (none missing, none added), then their sizes, then their sha256. Every failure
names the file. The trust policy decides only what happens to unsigned packages and
unknown signers; a changed byte is always an error unless verification is ``off``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from keel.exceptions import InvalidArgumentError, TamperedModelError, UntrustedModelError
from keel.models._manifest import MANIFEST_FILE, Manifest, find_mismatch, package_files
from keel.models._signing import SIGNATURE_FILE, Keyring, SignatureInfo, check_signature

TrustPolicy = Literal["strict", "warn", "off"]
POLICIES: tuple[str, ...] = ("strict", "warn", "off")


class UntrustedModelWarning(UserWarning):
    """A package is unsigned or signed by an unknown key, and the policy is ``warn``."""


@dataclass(frozen=True)
class Verified:
    """A checked package: its manifest, who signed it, and the bytes kept for loading.

    ``contents`` holds the files the caller asked to keep, read once and hashed from
    memory, so what is loaded is exactly what was verified (no check-then-reopen race).
    """

    manifest: Manifest
    signature: SignatureInfo | None
    policy: str
    contents: dict[str, bytes] = field(default_factory=dict)

    @property
    def trusted(self) -> bool:
        return self.signature is not None and self.signature.trusted


def check_policy(policy: str) -> TrustPolicy:
    if policy not in POLICIES:
        raise InvalidArgumentError(f"trust policy {policy!r} is not one of strict, warn, off")
    return policy  # type: ignore[return-value]


def verify_package(
    folder: Path,
    *,
    policy: str = "strict",
    keyring: Keyring | None = None,
    keep: Callable[[Manifest], Iterable[str]] | None = None,
) -> Verified:
    """Check signature, file list and every file's hash; returns the manifest.

    ``keep`` names (from the manifest) the files to read into memory and return: the
    ones a loader is about to use.
    """
    policy = check_policy(policy)
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        raise TamperedModelError(
            f"{folder} has no {MANIFEST_FILE}; it is not a keel model package (or it was removed)"
        )
    data = manifest_path.read_bytes()
    if policy == "off":
        manifest = Manifest.from_yaml(data)
        return Verified(manifest, None, policy, _read(folder, manifest, keep))
    info = check_signature(folder, data, keyring or Keyring(folder / ".no-keys"))
    _apply_policy(info, policy, folder)
    manifest = Manifest.from_yaml(data)
    contents = _check_files(folder, manifest, keep)
    return Verified(manifest, info, policy, contents)


def _read(
    folder: Path, manifest: Manifest, keep: Callable[[Manifest], Iterable[str]] | None
) -> dict[str, bytes]:
    if keep is None:
        return {}
    wanted = [p for p in keep(manifest) if p in manifest.files]
    return {p: (folder / p).read_bytes() for p in wanted}


def _apply_policy(info: SignatureInfo | None, policy: str, folder: Path) -> None:
    if info is None:
        message = (
            f"the model package at {folder} is not signed, so keel cannot tell who made it; "
            "sign it with `keel keys generate` then save with sign=True, or accept the risk "
            "with trust='warn' (--trust warn)"
        )
    elif not info.trusted:
        message = (
            f"the model package at {folder} is signed by key {info.key_id} ({info.signer}), which "
            "this machine does not trust; if you trust that signer, run "
            "`keel keys trust <their public key file>`"
        )
    else:
        return
    if policy == "strict":
        raise UntrustedModelError(message + " (trust policy: strict)")
    warnings.warn(message, UntrustedModelWarning, stacklevel=4)


def _check_files(
    folder: Path, manifest: Manifest, keep: Callable[[Manifest], Iterable[str]] | None
) -> dict[str, bytes]:
    present = package_files(folder, exclude=frozenset({MANIFEST_FILE, SIGNATURE_FILE}))
    listed = set(manifest.files)
    for rel in present:
        if rel not in listed:
            raise TamperedModelError(
                f"{rel} is in the package but not in its manifest: a file was added after the "
                "package was written. Do not use this package."
            )
    for rel in sorted(listed - set(present)):
        raise TamperedModelError(f"{rel} is listed in the manifest but missing from the package")
    for rel, entry in sorted(manifest.files.items()):
        size = (folder / rel).stat().st_size
        if size != entry.size:
            raise TamperedModelError(
                f"{rel} changed after the package was written: {size} bytes, the manifest "
                f"records {entry.size}. Do not use this package."
            )
    contents = _read(folder, manifest, keep)
    entries = [manifest.files[rel] for rel in sorted(listed)]
    bad = next((r for r, b in contents.items() if len(b) != manifest.files[r].size), None)
    bad = bad or find_mismatch(folder, entries, contents=contents)
    if bad is not None:
        raise TamperedModelError(
            f"{bad} changed after the package was written: its sha256 does not match the "
            "manifest. Do not use this package."
        )
    return contents


__all__ = [
    "POLICIES",
    "TrustPolicy",
    "UntrustedModelWarning",
    "Verified",
    "check_policy",
    "verify_package",
]
