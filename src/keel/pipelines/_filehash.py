"""Content hashes of files and folders for step cache keys, without re-reading unchanged files.

:class:`ContentHasher` is the small interface the step cache needs. :class:`StatCacheHasher`
delegates to keel.data's incremental hashing (:func:`keel.data.file_hashes` over a
:class:`~keel.data.HashState`), the same cache ``keel datasets`` fills, so a folder already
versioned is not read again, and a folder hashes to the content hash its dataset version has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from keel.data import RACY_WINDOW_NS, HashState, file_hashes, manifest_hash


class ContentHasher(Protocol):
    def hash_file(self, path: Path) -> str: ...

    def hash_folder(self, path: Path) -> str: ...


class StatCacheHasher:
    """Hashes files and folders, trusting a cached hash while the file's stat is unchanged."""

    def __init__(self, state: HashState | None = None) -> None:
        self._state = state

    @classmethod
    def for_cache_dir(
        cls, cache_dir: Path, *, racy_window_ns: int = RACY_WINDOW_NS
    ) -> StatCacheHasher:
        return cls(HashState(cache_dir / "hashstate.db", racy_window_ns=racy_window_ns))

    def close(self) -> None:
        if self._state is not None:
            self._state.close()

    def hash_file(self, path: Path) -> str:
        (sha,) = file_hashes(path, self._state).values()
        return sha

    def hash_folder(self, path: Path) -> str:
        return manifest_hash(file_hashes(path, self._state))


def default_hasher() -> StatCacheHasher:
    """A hasher without a persistent cache (every file is read)."""
    return StatCacheHasher(None)
