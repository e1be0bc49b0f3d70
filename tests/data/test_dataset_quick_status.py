"""The store-free fast path of ``status``: right answers, and a miss whenever in doubt."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from keel.data import DatasetClient, HashState, quick_status
from keel.data._quick import sqlite_file
from keel.store import Store


def settle() -> None:
    time.sleep(0.05)  # past the 20 ms racy window of the test hash cache


def test_quick_status_after_a_full_one(
    datasets: DatasetClient, hash_state: HashState, folder: Path
) -> None:
    settings = datasets.store.settings
    datasets.log("imgs", folder)
    assert quick_status(settings, "imgs", folder, state=hash_state) is None  # nothing cached
    settle()
    full = datasets.status("imgs", folder)
    quick = quick_status(settings, "imgs", folder, state=hash_state)
    assert quick is not None and quick == replace(full, hashed=0)
    assert quick.ref == "imgs@1" and not quick.changed and quick.hashed == 0
    (folder / "b.txt").write_text("changed\n")
    changed = quick_status(settings, "imgs@latest", folder, state=hash_state)
    assert changed is not None and changed.modified == ["b.txt"]


def test_any_metadata_write_forces_the_full_path(
    datasets: DatasetClient, hash_state: HashState, folder: Path
) -> None:
    settings = datasets.store.settings
    datasets.log("imgs", folder)
    settle()
    datasets.status("imgs", folder)
    (folder / "a.txt").write_text("v2\n")
    datasets.log("imgs", folder)  # version 2: "imgs" now means something else
    assert quick_status(settings, "imgs", folder, state=hash_state) is None
    settle()
    assert datasets.status("imgs", folder).ref == "imgs@2"
    quick = quick_status(settings, "imgs", folder, state=hash_state)
    assert quick is not None and quick.ref == "imgs@2" and not quick.changed


def test_damaged_manifest_is_a_miss(
    datasets: DatasetClient, hash_state: HashState, folder: Path, tmp_path: Path
) -> None:
    datasets.log("imgs", folder)
    settle()
    datasets.status("imgs", folder)
    hash_state.close()
    with sqlite3.connect(tmp_path / "hashstate.db") as conn:
        conn.execute("UPDATE manifests SET body = CAST('x  y' AS BLOB)")
    assert quick_status(datasets.store.settings, "imgs", folder, state=hash_state) is None


def test_only_embedded_sqlite_has_a_fast_path(store: Store, tmp_path: Path) -> None:
    assert sqlite_file("sqlite:////abs/keel.db?timeout=5") == "/abs/keel.db"
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("postgresql+psycopg://u@h/db") is None
    expected = sqlite_file(store.settings.db_uri)
    assert (expected is None) == (not store.db.is_sqlite)
    assert quick_status(store.settings, "x", tmp_path) is None


def test_cli_status_from_cache_skips_the_store(keel_home: Path, folder: Path) -> None:
    env = {**os.environ, "KEEL_HOME": str(keel_home)}
    cmd = [sys.executable, "-m", "keel.cli", "datasets"]
    subprocess.run([*cmd, "add", "imgs", str(folder)], env=env, check=True, capture_output=True)
    time.sleep(2.2)  # the real racy window: the database and files must look settled
    subprocess.run([*cmd, "status", "imgs", str(folder)], env=env, check=True, capture_output=True)
    fast = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd[1:], "status", "imgs", str(folder)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    imported = {line.split("|")[-1].strip() for line in fast.stderr.splitlines()}
    # the fast path opens no store: neither the ORM nor keel.store is imported (keel.data's
    # lazy exports load through importlib, which -X importtime does not report, so the proof is
    # what is absent)
    assert "sqlalchemy" not in imported and "keel.store" not in imported
    assert "keel.data._files" in imported
    assert "matches imgs@1 (3 files, 0 re-hashed)" in fast.stdout
