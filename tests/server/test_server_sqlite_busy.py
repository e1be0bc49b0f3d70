"""SQLite lock contention is a 503 with Retry-After, not a 500 (issue 21).

A second connection really holds SQLite's write lock (``BEGIN IMMEDIATE``) while the server
tries to write; the server waits its statement timeout, then answers 503 so a client retries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keel.config import Settings
from keel.server import ServerOptions, create_app
from keel.store import open_store

OPTIONS = ServerOptions(allowed_hosts=("testserver",))


@pytest.fixture(scope="module")
def busy_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    home = tmp_path_factory.mktemp("busy") / "home"
    store = open_store(Settings.for_home(home, db_statement_timeout_s=0.5))
    with TestClient(create_app(store.settings, OPTIONS, store=store)) as client:
        yield client, home / "keel.db"
    store.close()


def _create(client: Any, name: str) -> Any:
    return client.post("/api/2.0/mlflow/experiments/create", json={"name": name})


@pytest.mark.parametrize("api", ["mlflow", "keel"])
def test_a_write_lock_held_elsewhere_gives_503_and_retry_after(
    busy_world: tuple[Any, Path], api: str
) -> None:
    client, db_file = busy_world
    holder = sqlite3.connect(db_file, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process's long write transaction
        if api == "mlflow":
            answer = _create(client, f"blocked-{api}")
        else:
            answer = client.post("/api/v1/projects", json={"name": "blocked"})
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "5"
        body = answer.json()
        assert body["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert body["keel_error"] == "DatabaseUnavailableError"
        assert "lock" in body["message"] and "retry" in body["message"]
        # readers are not blocked by a writer (WAL), so the server still answers them
        assert client.get("/api/v1/projects").status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # the lock is gone: the same request goes through, nothing half-written before it
    if api == "mlflow":
        assert _create(client, f"blocked-{api}").status_code == 200
