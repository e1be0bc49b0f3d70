"""``Database.cursor()``: the driver-level transactions the hot paths use, on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.config import Settings
from keel.exceptions import ConfigError, ConstraintError, NotFoundError, StoreError
from keel.store import Store, open_store


def _count(store: Store, name: str) -> int:
    with store.db.cursor(write=False) as cur:
        cur.execute(store.db.sql("SELECT count(*) FROM projects WHERE name = ?"), (name,))
        return int(cur.fetchone()[0])


def _count_all(store: Store) -> int:
    with store.db.cursor(write=False) as cur:
        cur.execute("SELECT count(*) FROM projects")
        return int(cur.fetchone()[0])


def test_commit_rollback_and_errors(store: Store) -> None:
    db = store.db
    insert = db.sql("INSERT INTO projects (name, description, created_at) VALUES (?, ?, ?)")
    with db.cursor(write=True) as cur:
        cur.execute(insert, ("kept", "", 1))
    assert _count(store, "kept") == 1

    with pytest.raises(NotFoundError), db.cursor(write=True) as cur:
        cur.execute(insert, ("rolled-back", "", 1))
        raise NotFoundError("the caller gave up")
    assert _count(store, "rolled-back") == 0  # nothing of a failed block is kept

    with pytest.raises(ConstraintError, match="refused the write"), db.cursor(write=True) as cur:
        cur.execute(insert, ("twice", "", 1))
        cur.execute(insert, ("twice", "", 1))  # unique name: the driver's error, translated
    assert _count(store, "twice") == 0

    with pytest.raises(StoreError), db.cursor(write=False) as cur:
        cur.execute("SELECT no_such_column FROM projects")
    assert _count(store, "kept") == 1  # the connection is usable after an error


def test_a_cursor_opened_inside_another_gets_its_own_transaction(store: Store) -> None:
    db = store.db
    insert = db.sql("INSERT INTO projects (name, description, created_at) VALUES (?, ?, ?)")
    with db.cursor(write=False) as outer:
        outer.execute("SELECT count(*) FROM projects")
        before = outer.fetchone()[0]
        with db.cursor(write=True) as inner:
            inner.execute(insert, ("inner", "", 1))
    assert _count(store, "inner") == 1
    assert before == _count_all(store) - 1


def test_sql_is_written_once_in_qmark_style(store: Store) -> None:
    text = "SELECT name FROM projects WHERE name LIKE ? AND id > ?"
    adapted = store.db.sql(text)
    if store.db.is_sqlite:
        assert adapted == text
    else:
        assert adapted == "SELECT name FROM projects WHERE name LIKE %s AND id > %s"
    store.projects.get_or_create("team-a")
    store.projects.get_or_create("other")
    with store.db.cursor(write=False) as cur:
        cur.execute(adapted, ("team%", 0))
        assert [r[0] for r in cur.fetchall()] == ["team-a"]


def test_sqlite_durability_is_full_unless_asked(tmp_path: Path) -> None:
    """Every SQLite connection keel opens (driver-level and SQLAlchemy's) fsyncs each commit
    by default; KEEL_SQLITE_SYNCHRONOUS=normal trades that for speed."""
    for env, expected in (({}, 2), ({"KEEL_SQLITE_SYNCHRONOUS": "normal"}, 1)):
        settings = Settings.from_env({"KEEL_HOME": str(tmp_path / str(expected)), **env})
        store = open_store(settings)
        try:
            with store.db.cursor(write=False) as cur:
                cur.execute("PRAGMA synchronous")
                assert cur.fetchone()[0] == expected
            with store.db.read() as conn:
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == expected
        finally:
            store.close()
    with pytest.raises(ConfigError, match="KEEL_SQLITE_SYNCHRONOUS 'off' is not one of full"):
        Settings.from_env({"KEEL_HOME": str(tmp_path), "KEEL_SQLITE_SYNCHRONOUS": "off"})
