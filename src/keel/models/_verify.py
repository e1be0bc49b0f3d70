"""Verify a package folder before anything in it is loaded.

Order matters: the signature is checked over the manifest bytes first (so an edited
manifest is caught even if it was edited to match a swapped file), then the set of
files (none missing, none added), then their sizes, then their sha256. Every failure
names the file. The trust policy decides only what happens to unsigned packages and
unknown signers; a changed byte is always an error unless verification is ``off``.

What is loaded is what was verified: the files a loader is about to use are hashed from
the bytes it will read — small ones (up to :data:`KEEP_IN_MEMORY_BYTES`) read once into
memory, larger ones copied into a private folder (``0700``, under the temp dir) while they
are hashed, in the same single read. A file changed in the package after that cannot
reach the loader.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from keel.exceptions import InvalidArgumentError, TamperedModelError, UntrustedModelError
from keel.models._manifest import (
    CHUNK_BYTES,
    MANIFEST_FILE,
    FileEntry,
    Manifest,
    find_mismatch,
    package_files,
)
from keel.models._signing import SIGNATURE_FILE, Keyring, SignatureInfo, check_signature

TrustPolicy = Literal["strict", "warn", "off"]
POLICIES: tuple[str, ...] = ("strict", "warn", "off")
#: Files to be loaded up to this size are read once into memory, verified and loaded from
#: those bytes; larger ones are copied into a private folder while they are hashed.
KEEP_IN_MEMORY_BYTES = 32 << 20
_BLOCK = 1 << 20


class UntrustedModelWarning(UserWarning):
    """A package is unsigned or signed by an unknown key, and the policy is ``warn``."""


@dataclass(frozen=True)
class Verified:
    """A checked package: its manifest, who signed it, and the bytes kept for loading.

    ``contents`` holds the small files the caller asked to keep, read once and hashed from
    memory; ``copies`` the large ones, as private copies hashed while they were written (in
    ``private_dir``, which the caller removes with :meth:`discard_copies` once loaded). So
    what is loaded is exactly what was verified (no check-then-reopen race).
    """

    manifest: Manifest
    signature: SignatureInfo | None
    policy: str
    contents: dict[str, bytes] = field(default_factory=dict)
    copies: dict[str, Path] = field(default_factory=dict)
    private_dir: Path | None = None

    def discard_copies(self) -> None:
        if self.private_dir is not None:
            import shutil

            shutil.rmtree(self.private_dir, ignore_errors=True)

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
    wanted = [p for p in keep(manifest) if p in manifest.files] if keep is not None else []
    big = [p for p in wanted if manifest.files[p].size > KEEP_IN_MEMORY_BYTES]
    private = Path(tempfile.mkdtemp(prefix="keel-verified-")) if big else None
    try:
        contents, copies = _check_files(folder, manifest, wanted, big, private)
    except BaseException:
        if private is not None:
            import shutil

            shutil.rmtree(private, ignore_errors=True)
        raise
    return Verified(manifest, info, policy, contents, copies, private)


def _read(
    folder: Path, manifest: Manifest, keep: Callable[[Manifest], Iterable[str]] | None
) -> dict[str, bytes]:
    if keep is None:
        return {}
    wanted = [p for p in keep(manifest) if p in manifest.files]
    return {
        p: (folder / p).read_bytes()
        for p in wanted
        if manifest.files[p].size <= KEEP_IN_MEMORY_BYTES  # larger: the loader opens them
    }


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
    folder: Path, manifest: Manifest, wanted: list[str], big: list[str], private: Path | None
) -> tuple[dict[str, bytes], dict[str, Path]]:
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
    contents = {p: (folder / p).read_bytes() for p in wanted if p not in big}
    copies: dict[str, Path] = {}
    bad = next((r for r, b in contents.items() if len(b) != manifest.files[r].size), None)
    for i, rel in enumerate(big):
        if bad is not None:
            break
        assert private is not None
        copies[rel] = private / f"{i}-{Path(rel).name}"
        if not _copy_verified(folder / rel, copies[rel], manifest.files[rel]):
            bad = rel
    entries = [manifest.files[rel] for rel in sorted(listed) if rel not in copies]
    bad = bad or find_mismatch(folder, entries, contents=contents)
    if bad is not None:
        raise TamperedModelError(
            f"{bad} changed after the package was written: its sha256 does not match the "
            "manifest. Do not use this package."
        )
    return contents, copies


def _copy_verified(src: Path, dst: Path, entry: FileEntry, workers: int = 2) -> bool:
    """Copy ``entry.size`` bytes of ``src`` to a new private file ``dst``, hashing each
    block as it is copied (chunk by chunk on ``workers`` threads when the manifest pins
    chunks); True when every hash matches. One read of the source, as hashing alone."""
    spans = [(off, min(CHUNK_BYTES, entry.size - off)) for off in range(0, entry.size, CHUNK_BYTES)]
    if entry.chunks and len(entry.chunks) == len(spans):
        jobs = [(off, n, h) for (off, n), h in zip(spans, entry.chunks, strict=True)]
    else:
        jobs = [(0, entry.size, entry.sha256)]
    fd_in = os.open(src, os.O_RDONLY)
    try:
        fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.ftruncate(fd_out, entry.size)

            def copy(job: tuple[int, int, str]) -> bool:
                off, n, want = job
                digest, pos, end = hashlib.sha256(), off, off + n
                while pos < end:
                    block = os.pread(fd_in, min(_BLOCK, end - pos), pos)
                    if not block:  # shorter than the manifest says
                        return False
                    digest.update(block)
                    done = 0
                    while done < len(block):
                        done += os.pwrite(fd_out, block[done:], pos + done)
                    pos += len(block)
                return digest.hexdigest() == want

            if len(jobs) == 1:
                return copy(jobs[0])
            with ThreadPoolExecutor(max_workers=workers) as pool:
                return all(pool.map(copy, jobs))
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)


__all__ = [
    "KEEP_IN_MEMORY_BYTES",
    "POLICIES",
    "TrustPolicy",
    "UntrustedModelWarning",
    "Verified",
    "check_policy",
    "verify_package",
]
