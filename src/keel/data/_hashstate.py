"""The machine-local hash cache: ``abs path -> (inode, size, mtime, ctime, sha256)``.

Like DVC's state database, it lets a re-hash skip files that have not changed, but it is
careful about the cases where stat data lies:

- every stat field must match (inode, size, ``mtime_ns`` and ``ctime_ns``), so a file
  rewritten with the same size and its old mtime put back (``os.utime``) is still caught,
  because the kernel moves ``ctime`` on any change and no user call can set it back;
- git's "racily clean" rule: an entry is trusted only when the file's newest timestamp is
  older than the moment its bytes were read, minus a window for coarse filesystem clocks.
  A file written in the same clock tick as it was hashed is hashed again next time.

The cache is plain :mod:`sqlite3` (no SQLAlchemy, so the CLI starts fast) in WAL mode; it is
disposable, and a damaged or unwritable cache file degrades to "hash everything".
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

#: Timestamps closer than this to the read time are not trusted (FAT has 2 s mtimes).
RACY_WINDOW_NS = 2_000_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    path TEXT PRIMARY KEY,
    inode INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    recorded_at_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS refs (
    db TEXT NOT NULL,
    project TEXT NOT NULL,
    ref TEXT NOT NULL,
    db_stat TEXT NOT NULL,
    recorded_at_ns INTEGER NOT NULL,
    version_ref TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    PRIMARY KEY (db, project, ref)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifests (
    content_hash TEXT PRIMARY KEY,
    body BLOB NOT NULL
) WITHOUT ROWID;
"""


class FileStat(NamedTuple):
    """What ``stat`` says about one file, and where it sits in its dataset.

    A named tuple rather than a dataclass: a folder scan makes one per file, and tuples are
    several times cheaper to build.
    """

    rel: str
    path: str
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, rel: str, path: str, st: os.stat_result) -> FileStat:
        return cls(rel, path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True, slots=True)
class RefEntry:
    """A dataset reference as resolved when the metadata database had stat ``db_stat``."""

    db_stat: str
    recorded_at_ns: int
    version_ref: str
    content_hash: str


#: A cache row as stored: (inode, size, mtime_ns, ctime_ns, sha256, recorded_at_ns).
Row = tuple[int, int, int, int, str, int]


class StateEntry(NamedTuple):
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    sha256: str
    recorded_at_ns: int

    def vouches_for(self, st: FileStat, racy_window_ns: int) -> bool:
        """True when the cached hash is certainly the file's hash (see module docstring)."""
        return vouches(self, st, racy_window_ns)


def vouches(entry: Row, st: FileStat, racy_window_ns: int) -> bool:
    """:meth:`StateEntry.vouches_for` on a plain row (the hot path of a warm status)."""
    return entry[:4] == st[2:] and (st[4] if st[4] > st[5] else st[5]) < entry[5] - racy_window_ns


class HashState:
    """The hash cache of one machine. Not shared between threads; cheap to open."""

    def __init__(
        self, path: str | os.PathLike[str] | None, *, racy_window_ns: int = RACY_WINDOW_NS
    ):
        self.path = None if path is None else Path(path)
        self.racy_window_ns = racy_window_ns
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            return _init(sqlite3.connect(":memory:"))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return _init(sqlite3.connect(self.path, timeout=30, isolation_level=None))
        except sqlite3.DatabaseError:
            # A damaged cache holds nothing we cannot recompute: start it again.
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    os.unlink(f"{self.path}{suffix}")
            try:
                return _init(sqlite3.connect(self.path, timeout=30, isolation_level=None))
            except sqlite3.Error:
                return _init(sqlite3.connect(":memory:"))
        except OSError:
            return _init(sqlite3.connect(":memory:"))  # read-only home: hash everything

    def under(self, root: str) -> dict[str, Row]:
        """Every entry below the folder ``root`` (absolute), in one range query."""
        root = root.rstrip(os.sep)
        # Paths below root sort between "root/" and "root0" ('0' follows '/').
        low, high = root + os.sep, root + chr(ord(os.sep) + 1)
        try:
            rows = self._connect().execute(
                "SELECT path, inode, size, mtime_ns, ctime_ns, sha256, recorded_at_ns "
                "FROM state WHERE path >= ? AND path < ?",
                (low, high),
            )
            # Plain rows: building 10,000 named tuples costs more than the query.
            return {r[0]: r[1:] for r in rows}
        except sqlite3.Error:
            return {}

    def get(self, path: str) -> StateEntry | None:
        try:
            row = (
                self._connect()
                .execute(
                    "SELECT inode, size, mtime_ns, ctime_ns, sha256, recorded_at_ns "
                    "FROM state WHERE path = ?",
                    (path,),
                )
                .fetchone()
            )
        except sqlite3.Error:
            return None
        return None if row is None else StateEntry(*row)

    def record(self, rows: Iterable[tuple[FileStat, str, int]]) -> None:
        """Remember ``(stat, sha256, read_started_ns)`` for files just hashed, in one write."""
        values = [
            (st.path, st.inode, st.size, st.mtime_ns, st.ctime_ns, sha, at) for st, sha, at in rows
        ]
        if values:
            self._write(
                "INSERT OR REPLACE INTO state (path, inode, size, mtime_ns, ctime_ns, sha256, "
                "recorded_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?)",
                values,
            )

    def forget(self, paths: Iterable[str]) -> None:
        """Drop entries of files that no longer exist."""
        values = [(p,) for p in paths]
        if values:
            self._write("DELETE FROM state WHERE path = ?", values)

    def _write(self, sql: str, values: Sequence[tuple[object, ...]]) -> None:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, values)
            conn.execute("COMMIT")
        except sqlite3.Error:
            # A cache that cannot be written only costs speed next time.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")

    def lookup_ref(self, db: str, project: str, ref: str) -> RefEntry | None:
        try:
            row = (
                self._connect()
                .execute(
                    "SELECT db_stat, recorded_at_ns, version_ref, content_hash FROM refs "
                    "WHERE db = ? AND project = ? AND ref = ?",
                    (db, project, ref),
                )
                .fetchone()
            )
        except sqlite3.Error:
            return None
        return None if row is None else RefEntry(*row)

    def remember_ref(self, db: str, project: str, ref: str, entry: RefEntry) -> None:
        e = entry
        row = (db, project, ref, e.db_stat, e.recorded_at_ns, e.version_ref, e.content_hash)
        self._write(
            "INSERT OR REPLACE INTO refs (db, project, ref, db_stat, recorded_at_ns, "
            "version_ref, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [row],
        )

    def manifest(self, content_hash: str) -> bytes | None:
        """The stored file list of a content hash (callers verify it against the hash)."""
        try:
            row = (
                self._connect()
                .execute("SELECT body FROM manifests WHERE content_hash = ?", (content_hash,))
                .fetchone()
            )
        except sqlite3.Error:
            return None
        return None if row is None else bytes(row[0])

    def remember_manifest(self, content_hash: str, body: bytes) -> None:
        self._write(
            "INSERT OR REPLACE INTO manifests (content_hash, body) VALUES (?, ?)",
            [(content_hash, body)],
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> HashState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _init(conn: sqlite3.Connection) -> sqlite3.Connection:
    conn.isolation_level = None
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(_SCHEMA)
    return conn
