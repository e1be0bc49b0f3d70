"""Files and folders as dataset content: scan, hash incrementally, compare.

Nothing here imports pandas or pyarrow: ``keel datasets status`` runs on this module alone.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from keel.data._hashstate import FileStat, HashState, Row, vouches
from keel.exceptions import InvalidArgumentError, NotFoundError

#: Called as ``progress(stage, done, total)`` while long work advances.
ProgressFn = Callable[[str, int, int], None]

#: Folders that belong to tools, not to the data (version control, caches, keel's own home).
IGNORED_DIRS = frozenset({".git", ".hg", ".svn", ".dvc", ".keel", "__pycache__"})
CHUNK = 1 << 20


def scan(path: str | os.PathLike[str]) -> list[FileStat]:
    """Every file under ``path`` (or ``path`` itself), sorted by relative POSIX path.

    Symlinked files are followed; symlinked folders are not (they could loop).
    """
    root = Path(path).expanduser().absolute()
    try:
        st = root.stat()
    except FileNotFoundError:
        raise NotFoundError(f"path {str(path)!r} does not exist; check the spelling") from None
    if not root.is_dir():
        return [FileStat.of(root.name, str(root), st)]
    found: list[FileStat] = []
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            _scan_folder(folder, prefix, stack, found)
        except PermissionError as exc:
            raise InvalidArgumentError(
                f"cannot read {exc.filename or folder!r}: permission denied; fix its "
                "permissions or move it out of the dataset folder"
            ) from None
    found.sort(key=itemgetter(0))  # by relative path
    return found


def _scan_folder(
    folder: str, prefix: str, stack: list[tuple[str, str]], found: list[FileStat]
) -> None:
    with os.scandir(folder) as entries:
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in IGNORED_DIRS:
                    stack.append((entry.path, rel + "/"))
            elif entry.is_file():
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue  # deleted while we looked: it is not part of the folder now
                found.append(
                    FileStat(rel, entry.path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
                )


def require_files(path: str | os.PathLike[str], stats: list[FileStat]) -> None:
    if not stats:
        raise InvalidArgumentError(
            f"folder {str(path)!r} holds no files; put the data in it or pass another path"
        )


def hash_file(path: str, size: int) -> str:
    """sha256 of a file, read in chunks (big files never sit in memory)."""
    with open(path, "rb") as f:
        if size <= CHUNK:
            return hashlib.sha256(f.read()).hexdigest()
        return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass(frozen=True, slots=True)
class HashResult:
    """Relative path -> sha256 for every scanned file, and how many had to be read."""

    hashes: dict[str, str]
    hashed: int
    cached: int


def hash_stats(
    stats: list[FileStat],
    state: HashState,
    *,
    root: str | None = None,
    progress: ProgressFn | None = None,
) -> HashResult:
    """Hash files, reading only those the cache cannot vouch for; then update the cache."""
    known = state.under(root) if root is not None else _single(state, stats)
    hashes: dict[str, str] = {}
    todo: list[FileStat] = []
    window = state.racy_window_ns
    for st in stats:  # the hot loop of a warm status: keep it to lookups and compares
        entry = known.get(st.path)
        if entry is not None and vouches(entry, st, window):
            hashes[st.rel] = entry[4]
        else:
            todo.append(st)
    fresh: list[tuple[FileStat, str, int]] = []
    step = max(1, len(todo) // 100)
    for i, st in enumerate(todo, 1):
        started = time.time_ns()
        try:
            sha = hash_file(st.path, st.size)
        except FileNotFoundError:
            raise NotFoundError(
                f"file {st.path!r} disappeared while it was being hashed; run the command again"
            ) from None
        hashes[st.rel] = sha
        fresh.append((st, sha, started))
        if progress is not None and (i % step == 0 or i == len(todo)):
            progress("hashing", i, len(todo))
    state.record(fresh)
    if root is not None and len(known) > len(stats) - len(todo):
        seen = {st.path for st in stats}  # some cached files are gone: drop their rows
        state.forget(p for p in known if p not in seen)
    return HashResult(hashes, hashed=len(todo), cached=len(stats) - len(todo))


def file_hashes(path: str | os.PathLike[str], state: HashState | None = None) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``path`` (or of the file ``path`` itself).

    With ``state``, only files the cache cannot vouch for are read (and then recorded).
    """
    stats = scan(path)
    if state is None:
        return {st.rel: hash_file(st.path, st.size) for st in stats}
    root = Path(path).expanduser().absolute()
    return hash_stats(stats, state, root=str(root) if root.is_dir() else None).hashes


def _single(state: HashState, stats: list[FileStat]) -> dict[str, Row]:
    out: dict[str, Row] = {}
    for st in stats:
        entry = state.get(st.path)
        if entry is not None:
            out[st.path] = entry
    return out


def manifest_hash(hashes: Mapping[str, str]) -> str:
    """The content hash of a set of files: sha256 of ``"<sha>  <path>\\n"`` lines, by path."""
    digest = hashlib.sha256()
    for rel in sorted(hashes):
        digest.update(f"{hashes[rel]}  {rel}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class FolderStatus:
    """How a folder on disk differs from a dataset version (paths relative to the folder)."""

    ref: str
    path: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    unchanged: int = 0
    hashed: int = 0
    content_hash: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.modified)


def compare(
    ref: str,
    path: str,
    current: Mapping[str, str],
    stored: Mapping[str, str],
    *,
    hashed: int,
    stored_hash: str,
) -> FolderStatus:
    """Sort files into added, removed, modified and unchanged."""
    added = sorted(p for p in current if p not in stored)
    removed = sorted(p for p in stored if p not in current)
    modified = sorted(p for p in current if p in stored and stored[p] != current[p])
    unchanged = len(current) - len(added) - len(modified)
    changed = added or removed or modified
    content_hash = manifest_hash(current) if changed else stored_hash
    return FolderStatus(ref, path, added, removed, modified, unchanged, hashed, content_hash)


def folder_status(
    root: Path,
    state: HashState,
    ref: str,
    stored: Mapping[str, str],
    stored_hash: str,
    progress: ProgressFn | None = None,
) -> FolderStatus:
    """How the file or folder ``root`` differs from the version ``ref`` with files ``stored``
    (path -> blob); only files whose stat data changed since ``state`` saw them are read."""
    result = hash_stats(
        scan(root), state, root=str(root) if root.is_dir() else None, progress=progress
    )
    return compare(
        ref, str(root), result.hashes, stored, hashed=result.hashed, stored_hash=stored_hash
    )


def files_profile(stats: Iterable[FileStat]) -> dict[str, object]:
    """A small profile of a folder: file count, bytes, and counts per extension."""
    count = size = 0
    by_ext: dict[str, int] = {}
    for st in stats:
        count += 1
        size += st.size
        ext = os.path.splitext(st.rel)[1].lower() or "(none)"
        by_ext[ext] = by_ext.get(ext, 0) + 1
    top = sorted(by_ext.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    return {"files": count, "bytes": size, "extensions": dict(top)}
