"""The single-file form of a package: a deterministic, uncompressed tar.

Deterministic (sorted names, zero times and owners) so one package is one blob; not
compressed because model files rarely shrink and loading must stay fast. Unpacking
accepts regular files and folders only, each name checked by ``safe_relpath``.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import uuid
from pathlib import Path

from keel.exceptions import TamperedModelError, UnsafePathError
from keel.store.paths import safe_relpath

_CHUNK = 1 << 20
MAX_MEMBERS = 100_000


def pack(folder: Path, dest: Path) -> Path:
    """Write every file of ``folder`` into the tar ``dest``."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            rel = path.relative_to(folder).as_posix()
            info = tarfile.TarInfo(rel)
            info.size = path.stat().st_size
            info.mode = 0o644
            info.mtime = 0
            with open(path, "rb") as f:
                tar.addfile(info, f)
    return dest


def unpack(archive: Path, dest: Path) -> Path:
    """Extract a package tar into ``dest`` (created atomically; replaced if it exists)."""
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:") as tar:
            size = archive.stat().st_size
            total = 0
            for i, member in enumerate(tar):
                if i >= MAX_MEMBERS:
                    raise TamperedModelError(f"{archive.name} holds too many files")
                total += member.size
                if total > size:  # an uncompressed tar holds every byte it extracts
                    raise TamperedModelError(
                        f"{archive.name}: member {member.name!r} declares more bytes than the "
                        "archive holds"
                    )
                _extract(tar, member, tmp)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except (tarfile.TarError, UnsafePathError) as exc:
        raise TamperedModelError(
            f"{archive.name} is not a valid keel package archive: {exc}"
        ) from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path) -> None:
    rel = safe_relpath(member.name, what="package archive member")
    if member.isdir():
        (root / rel).mkdir(parents=True, exist_ok=True)
        return
    if not member.isfile():
        raise TamperedModelError(f"package archive member {member.name!r} is not a regular file")
    if member.issparse():
        # A sparse member writes its declared size (GiBs) from a few bytes: refused.
        raise TamperedModelError(f"package archive member {member.name!r} is a sparse file")
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    src = tar.extractfile(member)
    if src is None:
        raise TamperedModelError(f"package archive member {member.name!r} cannot be read")
    with src, open(target, "wb") as out:
        shutil.copyfileobj(src, out, _CHUNK)


__all__ = ["pack", "unpack"]
