"""The package manifest, ``keel-model.yaml``: what the package is and every file's hash.

The manifest is plain YAML so people can read it. It is written once, and its exact
bytes are what a signature covers; keel never rewrites it in place.
"""

from __future__ import annotations

import hashlib
import mmap
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keel.exceptions import TamperedModelError
from keel.models._signature import ModelSignature
from keel.store.paths import safe_relpath

MANIFEST_FILE = "keel-model.yaml"
FORMAT_VERSION = 1
_CHUNK = 1 << 20
CHUNK_BYTES = 16 << 20


@dataclass(frozen=True)
class FileEntry:
    """A package file: its sha256, size and, for large files, the sha256 of each chunk.

    Chunk hashes (``CHUNK_BYTES`` each) let verification hash one big file on several
    cores; the signed manifest pins every chunk, so checking them is as strong as
    checking the whole-file hash.
    """

    path: str
    sha256: str
    size: int
    chunks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Manifest:
    """Everything a package says about itself."""

    name: str
    flavor: str  # the native flavor
    serve_flavor: str  # the flavor predict() uses (onnx when parity holds and it was asked)
    flavors: dict[str, dict[str, Any]]
    signature: ModelSignature
    files: dict[str, FileEntry]
    task: str = "other"
    frameworks: dict[str, str] = field(default_factory=dict)
    requirements: list[str] = field(default_factory=list)
    lineage: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    card: dict[str, Any] = field(default_factory=dict)
    created_at: int = 0
    format_version: int = FORMAT_VERSION

    def __repr__(self) -> str:
        sig = self.signature.brief()
        return f"Manifest({self.name!r}, {self.flavor}, {sig}, {len(self.files)} files)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "name": self.name,
            "created_at": self.created_at,
            "flavor": self.flavor,
            "serve_flavor": self.serve_flavor,
            "task": self.task,
            "flavors": self.flavors,
            "frameworks": self.frameworks,
            "signature": self.signature.to_dict(),
            "requirements": self.requirements,
            "lineage": self.lineage,
            "metrics": self.metrics,
            "card": self.card,
            "files": {p: _entry_dict(e) for p, e in sorted(self.files.items())},
        }

    def to_yaml(self) -> bytes:
        import yaml

        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        text = yaml.dump(self.to_dict(), Dumper=dumper, sort_keys=False, allow_unicode=True)
        return text.encode()

    @classmethod
    def from_yaml(cls, data: bytes, *, label: str = MANIFEST_FILE) -> Manifest:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 20x faster
        try:
            check_yaml_budget(data, label)
            doc = yaml.load(data, Loader=loader)  # a safe loader: plain data only
            return cls._from_dict(doc)
        except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TamperedModelError(
                f"{label} is not a valid keel manifest ({exc}); the package is damaged"
            ) from exc

    @classmethod
    def _from_dict(cls, doc: Mapping[str, Any]) -> Manifest:
        version = int(doc["format_version"])
        if version > FORMAT_VERSION:
            raise ValueError(f"format_version {version} is newer than this keel understands")
        files = {
            safe_relpath(str(p), what="package file"): FileEntry(
                safe_relpath(str(p), what="package file"),
                str(e["sha256"]),
                int(e["size"]),
                tuple(str(c) for c in e.get("chunks") or ()),
            )
            for p, e in (doc.get("files") or {}).items()
        }
        return cls(
            name=str(doc["name"]),
            flavor=str(doc["flavor"]),
            serve_flavor=str(doc.get("serve_flavor") or doc["flavor"]),
            flavors=dict(doc["flavors"]),
            signature=ModelSignature.from_dict(doc.get("signature") or {}),
            files=files,
            task=str(doc.get("task", "other")),
            frameworks={str(k): str(v) for k, v in (doc.get("frameworks") or {}).items()},
            requirements=[str(r) for r in doc.get("requirements") or []],
            lineage=dict(doc.get("lineage") or {}),
            metrics={str(k): float(v) for k, v in (doc.get("metrics") or {}).items()},
            card=dict(doc.get("card") or {}),
            created_at=int(doc.get("created_at") or 0),
            format_version=version,
        )


#: Limits on a manifest's YAML, checked on its tokens before anything is built.
MAX_MANIFEST_BYTES = 16 << 20
MAX_YAML_ALIASES = 100
MAX_YAML_DEPTH = 64


def check_yaml_budget(data: bytes, label: str = MANIFEST_FILE) -> None:
    """Refuse YAML whose aliases or nesting could expand without bound (a "billion laughs")."""
    import yaml

    if len(data) > MAX_MANIFEST_BYTES:
        raise TamperedModelError(
            f"{label} is {len(data)} bytes; a manifest may be at most {MAX_MANIFEST_BYTES}"
        )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    opens = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
             yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)  # fmt: skip
    closes = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
    aliases = depth = 0
    for token in yaml.scan(data, Loader=loader):
        if isinstance(token, yaml.AliasToken):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise TamperedModelError(
                    f"{label} uses more than {MAX_YAML_ALIASES} YAML aliases; refused"
                )
        elif isinstance(token, opens):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise TamperedModelError(
                    f"{label} nests deeper than {MAX_YAML_DEPTH} levels; refused"
                )
        elif isinstance(token, closes):
            depth -= 1


def _entry_dict(e: FileEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"sha256": e.sha256, "size": e.size}
    if e.chunks:
        out["chunks"] = list(e.chunks)
    return out


def sha256_file(path: Path, offset: int = 0, length: int | None = None) -> str:
    """sha256 of a file, or of ``length`` bytes from ``offset``.

    Hashes straight from a read-only memory map (no copy into Python buffers, which
    costs as much as the hashing itself); hashlib releases the GIL, so threads overlap.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        end = size if length is None else min(size, offset + length)
        if end <= offset:
            return hashlib.sha256(b"").hexdigest()
        with (
            mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
            memoryview(mapped) as view,
        ):
            digest = hashlib.sha256()
            for start in range(offset, end, _CHUNK * 64):
                digest.update(view[start : min(end, start + _CHUNK * 64)])
            return digest.hexdigest()


def _spans(size: int) -> list[tuple[int, int]]:
    return [(off, min(CHUNK_BYTES, size - off)) for off in range(0, size, CHUNK_BYTES)]


def hash_files(folder: Path, paths: list[str]) -> dict[str, FileEntry]:
    """sha256, size and chunk hashes of each file (for writing a manifest)."""

    def one(rel: str) -> FileEntry:
        path = folder / rel
        size = path.stat().st_size
        chunks: tuple[str, ...] = ()
        if size > 2 * CHUNK_BYTES:
            chunks = tuple(sha256_file(path, off, n) for off, n in _spans(size))
        return FileEntry(rel, sha256_file(path), size, chunks)

    if len(paths) <= 1:
        return {p: one(p) for p in paths}
    with ThreadPoolExecutor(max_workers=2) as pool:
        return {e.path: e for e in pool.map(one, paths)}


def find_mismatch(
    folder: Path,
    entries: list[FileEntry],
    workers: int = 2,
    contents: Mapping[str, bytes] | None = None,
) -> str | None:
    """The first file whose bytes differ from its entry, hashing chunks on ``workers`` threads.

    Files with chunk hashes are checked chunk by chunk (in parallel); the others whole.
    Files in ``contents`` are checked from those bytes (the ones the loader will use).
    """
    held = contents or {}
    jobs: list[tuple[str, int, int, str]] = []
    for e in entries:
        if e.chunks and len(e.chunks) == len(_spans(e.size)):
            jobs += [
                (e.path, off, n, h) for (off, n), h in zip(_spans(e.size), e.chunks, strict=True)
            ]
        else:
            jobs.append((e.path, 0, e.size, e.sha256))
    jobs.sort(key=lambda j: -j[2])

    def check(job: tuple[str, int, int, str]) -> str | None:
        rel, off, n, expected = job
        data = held.get(rel)
        if data is None:
            actual = sha256_file(folder / rel, off, n)
        else:
            with memoryview(data) as view:
                actual = hashlib.sha256(view[off : off + n]).hexdigest()
        return None if actual == expected else rel

    if len(jobs) <= 1 or workers <= 1:
        bad = [check(j) for j in jobs]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            bad = list(pool.map(check, jobs))
    return next((b for b in bad if b is not None), None)


def package_files(folder: Path, *, exclude: frozenset[str]) -> list[str]:
    """Relative POSIX paths of every regular file under ``folder``, minus ``exclude``."""
    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            raise TamperedModelError(
                f"{path.relative_to(folder).as_posix()} is a symbolic link; packages hold "
                "regular files only"
            )
        if path.is_file():
            rel = path.relative_to(folder).as_posix()
            if rel not in exclude:
                out.append(rel)
    return out


__all__ = [
    "CHUNK_BYTES",
    "MANIFEST_FILE",
    "FileEntry",
    "Manifest",
    "find_mismatch",
    "hash_files",
    "package_files",
    "sha256_file",
]
