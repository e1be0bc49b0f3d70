"""``status`` without opening the metadata store: the fast path of ``keel datasets status``.

A folder check is meant to run in scripts and hooks, often, so its cost should be the cost
of ``stat`` on each file, not of importing an ORM. After a full status (which resolves the
reference in the metadata database), the machine-local cache remembers:

- which version the reference meant, with the stat data of the embedded SQLite database
  files at the time (any write to the database changes them, so the answer is re-checked);
- the version's file list, stored under its content hash and verified against it on read.

The database stat is trusted with the same "racily clean" rule as files. Only the embedded
SQLite store has this path; PostgreSQL and remote stores always take the full one.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from keel.config import Settings
from keel.data._files import FolderStatus, ProgressFn, folder_status
from keel.data._hashstate import HashState, RefEntry
from keel.data._refs import parse_ref

STATE_FILE = "hashstate.db"


@dataclass(frozen=True, slots=True)
class DbProbe:
    """The stat data of an embedded database, taken before it is read."""

    db: str
    stat: str
    taken_at_ns: int
    newest_ns: int


def sqlite_file(db_uri: str) -> str | None:
    """The database file of a ``sqlite:///path`` URI; None for other databases or memory."""
    scheme, sep, rest = db_uri.partition(":///")
    if not sep or scheme.split("+")[0] != "sqlite":
        return None
    path = rest.split("?", 1)[0]
    return os.path.abspath(path) if path and path != ":memory:" else None


def probe(settings: Settings) -> DbProbe | None:
    """Stat the embedded database's files (main and write-ahead log), or None if not SQLite."""
    db = sqlite_file(settings.db_uri)
    if db is None or settings.server_url:
        return None
    taken = time.time_ns()
    parts, newest = [], 0
    for path in (db, db + "-wal"):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        if st is None or (path != db and st.st_size == 0):
            parts.append("-")  # an empty write-ahead log holds nothing: same as none
            continue
        parts.append(f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}")
        newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
    return DbProbe(db, "|".join(parts), taken, newest)


def manifest_body(files: Sequence[tuple[str, str]]) -> bytes:
    """``"<sha>  <path>\\n"`` lines sorted by path: sha256 of this is a files version's hash."""
    return "".join(f"{sha}  {path}\n" for path, sha in sorted(files)).encode()


def remember(
    state: HashState,
    seen: DbProbe,
    project: str,
    ref: str,
    version_ref: str,
    content_hash: str,
    files: Sequence[tuple[str, str]],
) -> None:
    """Record what ``ref`` resolved to while the database looked like ``seen``."""
    if state.manifest(content_hash) is None:
        state.remember_manifest(content_hash, manifest_body(files))
    entry = RefEntry(seen.stat, seen.taken_at_ns, version_ref, content_hash)
    state.remember_ref(seen.db, project, str(parse_ref(ref)), entry)


def quick_status(
    settings: Settings,
    ref: str,
    path: str | os.PathLike[str],
    *,
    progress: ProgressFn | None = None,
    state: HashState | None = None,
) -> FolderStatus | None:
    """The status of ``path`` against ``ref`` from the cache alone, or None on a cache miss."""
    now = probe(settings)
    if now is None:
        return None
    own = state is None
    state = state or HashState(settings.cache_dir / STATE_FILE)
    try:
        entry = state.lookup_ref(now.db, settings.project, str(parse_ref(ref)))
        if entry is None or not _vouches(entry, now, state.racy_window_ns):
            return None
        stored = _stored_files(state, entry.content_hash)
        if stored is None:
            return None
        root = Path(path).expanduser().absolute()
        return folder_status(root, state, entry.version_ref, stored, entry.content_hash, progress)
    finally:
        if own:
            state.close()


def _vouches(entry: RefEntry, now: DbProbe, racy_window_ns: int) -> bool:
    return entry.db_stat == now.stat and now.newest_ns < entry.recorded_at_ns - racy_window_ns


def _stored_files(state: HashState, content_hash: str) -> dict[str, str] | None:
    body = state.manifest(content_hash)
    if body is None or hashlib.sha256(body).hexdigest() != content_hash:
        return None  # missing or damaged: the full path will answer and rewrite it
    stored: dict[str, str] = {}
    for line in body.decode().splitlines():
        stored[line[66:]] = line[:64]
    return stored
