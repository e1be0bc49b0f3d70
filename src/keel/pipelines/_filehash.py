"""Content hashes of files and folders for step cache keys, without re-reading unchanged files.

:class:`ContentHasher` is the small interface the step cache needs. :class:`StatCacheHasher`
keeps ``path -> (inode, size, mtime, ctime, sha256, recorded)`` in a machine-local state
and re-reads a file only when its stat data changed or is too recent to trust (a write in
the same clock tick as the hash: git's "racily clean" case). The state is keel.data's
:class:`~keel.data.HashState` (the same cache ``keel datasets`` fills, so a folder already
versioned is not read again), or a private SQLite file when keel.data is unavailable.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

CHUNK = 1 << 20
RACY_WINDOW_NS = 2_000_000_000

#: (inode, size, mtime_ns, ctime_ns, sha256, recorded_at_ns)
Row = tuple[int, int, int, int, str, int]


class ContentHasher(Protocol):
    def hash_file(self, path: Path) -> str: ...

    def hash_folder(self, path: Path) -> str: ...


class _Stat(NamedTuple):
    path: str
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


class _State(Protocol):
    """The part of keel.data's ``HashState`` this module uses."""

    def under(self, root: str) -> dict[str, Any]: ...

    def get(self, path: str) -> Any: ...

    def record(self, rows: Iterable[tuple[Any, str, int]]) -> None: ...

    def close(self) -> None: ...


class _SqliteState:
    """A private state file, used only when keel.data cannot be imported."""

    def __init__(self, path: Path) -> None:
        self._conn: sqlite3.Connection | None = None
        with contextlib.suppress(sqlite3.Error, OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS state (path TEXT PRIMARY KEY, inode INTEGER, "
                "size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, sha256 TEXT, "
                "recorded_at_ns INTEGER) WITHOUT ROWID"
            )
            self._conn = conn

    def _query(self, where: str, args: Sequence[str]) -> dict[str, Row]:
        if self._conn is None:
            return {}
        try:
            rows = self._conn.execute(
                "SELECT path, inode, size, mtime_ns, ctime_ns, sha256, recorded_at_ns "
                f"FROM state WHERE {where}",
                args,
            ).fetchall()
        except sqlite3.Error:
            return {}
        return {r[0]: tuple(r[1:]) for r in rows}

    def under(self, root: str) -> dict[str, Row]:
        root = root.rstrip(os.sep)
        return self._query("path >= ? AND path < ?", (root + os.sep, root + chr(ord(os.sep) + 1)))

    def get(self, path: str) -> Row | None:
        return self._query("path = ?", (path,)).get(path)

    def record(self, rows: Iterable[tuple[Any, str, int]]) -> None:
        values = [(s.path, s.inode, s.size, s.mtime_ns, s.ctime_ns, sha, at) for s, sha, at in rows]
        if self._conn is None or not values:
            return
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR REPLACE INTO state VALUES (?, ?, ?, ?, ?, ?, ?)", values
            )
            self._conn.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _walk(root: str) -> list[tuple[str, os.stat_result, str]]:
    """Every file under ``root`` as ``(relative posix path, stat, absolute path)``, sorted."""
    out: list[tuple[str, os.stat_result, str]] = []
    stack = [("", root)]
    while stack:
        rel, path = stack.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                child = f"{rel}{entry.name}"
                if entry.is_dir(follow_symlinks=True):
                    stack.append((child + "/", entry.path))
                elif entry.is_file(follow_symlinks=True):
                    out.append((child, entry.stat(follow_symlinks=True), entry.path))
    out.sort(key=lambda t: t[0])
    return out


def _trusted(hit: Any, st: os.stat_result, racy_window_ns: int) -> bool:
    inode, size, mtime_ns, ctime_ns, _sha, recorded_ns = tuple(hit)
    return (
        inode == st.st_ino
        and size == st.st_size
        and mtime_ns == st.st_mtime_ns
        and ctime_ns == st.st_ctime_ns
        and max(mtime_ns, ctime_ns) < recorded_ns - racy_window_ns
    )


def _stat(path: str, st: os.stat_result) -> _Stat:
    return _Stat(path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class StatCacheHasher:
    """Hashes files and folders, trusting a cached hash while the file's stat is unchanged."""

    def __init__(
        self, state: _State | None = None, *, racy_window_ns: int = RACY_WINDOW_NS
    ) -> None:
        self._state = state
        self.racy_window_ns = racy_window_ns

    @classmethod
    def for_cache_dir(
        cls, cache_dir: Path, *, racy_window_ns: int = RACY_WINDOW_NS
    ) -> StatCacheHasher:
        try:
            from keel.data import HashState
        except ImportError:  # pragma: no cover - keel.data ships with keel
            state: _State = _SqliteState(cache_dir / "pipeline-hashstate.db")
        else:
            state = HashState(cache_dir / "hashstate.db")
        return cls(state, racy_window_ns=racy_window_ns)

    def close(self) -> None:
        if self._state is not None:
            self._state.close()

    def hash_file(self, path: Path) -> str:
        abs_path = str(Path(path).absolute())
        st = os.stat(abs_path)
        hit = self._state.get(abs_path) if self._state is not None else None
        if hit is not None and _trusted(hit, st, self.racy_window_ns):
            return str(tuple(hit)[4])
        started = time.time_ns()
        sha = sha256_file(abs_path)
        if self._state is not None:
            self._state.record([(_stat(abs_path, st), sha, started)])
        return sha

    def hash_folder(self, path: Path) -> str:
        root = str(Path(path).absolute())
        cached = self._state.under(root) if self._state is not None else {}
        digest = hashlib.sha256()
        fresh: list[tuple[_Stat, str, int]] = []
        for rel, st, abs_path in _walk(root):
            hit = cached.get(abs_path)
            if hit is not None and _trusted(hit, st, self.racy_window_ns):
                sha = str(tuple(hit)[4])
            else:
                started = time.time_ns()
                sha = sha256_file(abs_path)
                fresh.append((_stat(abs_path, st), sha, started))
            digest.update(f"{rel}\0{sha}\n".encode())
        if fresh and self._state is not None:
            self._state.record(fresh)
        return digest.hexdigest()


def default_hasher() -> StatCacheHasher:
    """A hasher without a persistent cache (every file is read)."""
    return StatCacheHasher(None)
