"""Fixtures for dataset tests: a client over a real store, and small folders of files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from keel.data import DatasetClient, HashState
from keel.store import Store


@pytest.fixture
def hash_state(tmp_path: Path) -> HashState:
    """A hash cache with a short racy window, so tests need not wait two seconds."""
    return HashState(tmp_path / "hashstate.db", racy_window_ns=20_000_000)


@pytest.fixture
def datasets(sqlite_store: Store, hash_state: HashState) -> DatasetClient:
    return DatasetClient(
        sqlite_store, sqlite_store.projects.get_or_create("default"), hash_state=hash_state
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three small files, one of them in a subfolder."""
    root = tmp_path / "images"
    (root / "cats").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "b.txt").write_text("bravo\n")
    (root / "cats" / "c.bin").write_bytes(bytes(range(256)))
    return root


@pytest.fixture
def cli_runner(keel_home: Path) -> Iterator[CliRunner]:
    """The CLI in-process over a fresh KEEL_HOME; cached settings and store reset around it."""
    from keel.cli import _context

    for cached in (_context.settings, _context.store):
        cached.cache_clear()
    yield CliRunner()
    if _context.store.cache_info().currsize:
        _context.store().close()
    for cached in (_context.settings, _context.store):
        cached.cache_clear()
