"""Fixtures shared by every test: an isolated embedded store, and PostgreSQL when available.

PostgreSQL tests run when ``KEEL_TEST_POSTGRES_URI`` is set (``.ci/run`` sets it and fails
if the server is missing); on a laptop without it they skip with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from keel.config import Settings
from keel.store import Store, open_store

PG_URI = os.environ.get("KEEL_TEST_POSTGRES_URI")
REQUIRE_SERVICES = os.environ.get("KEEL_TEST_REQUIRE_SERVICES") == "1"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers for ``-n auto`` (pyproject's default): one per core, at most four — each
    worker starts its own servers, browser and PostgreSQL database. ``-n 0`` runs serially."""
    return max(1, min(4, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test touches ./.keel or a developer's KEEL_* settings."""
    for var in list(os.environ):
        if var.startswith("KEEL_") and not var.startswith("KEEL_TEST_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "keel-home"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.for_home(tmp_path / "keel-home")


@pytest.fixture
def sqlite_store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings)
    yield store
    store.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    if not PG_URI:
        if REQUIRE_SERVICES:
            pytest.fail("KEEL_TEST_REQUIRE_SERVICES=1 but KEEL_TEST_POSTGRES_URI is not set")
        pytest.skip("PostgreSQL tests need KEEL_TEST_POSTGRES_URI (set by .ci/run)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"keel_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URI).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                "AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def pg_store(pg_database: str, tmp_path: Path) -> Iterator[Store]:
    from sqlalchemy import text

    from keel.store._tables import Base

    store = open_store(Settings.for_home(tmp_path / "pg-home", db_uri=pg_database))
    with store.db.write() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> Store:
    """The same test against every metadata backend (the repository contract)."""
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def keel_home(tmp_path: Path) -> Path:
    return tmp_path / "keel-home"


KeelCli = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def run_keel(keel_home: Path) -> KeelCli:
    """Run the real ``keel`` command line against ``keel_home``; asserts success by default."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KEEL_HOME": str(keel_home), "COLUMNS": "200"}
        proc = subprocess.run(
            [sys.executable, "-m", "keel.cli", *args], capture_output=True, text=True, env=env
        )
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    return run


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_or_skip() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if REQUIRE_SERVICES:
            pytest.fail("KEEL_TEST_REQUIRE_SERVICES=1 but chromium is not installed")
        pytest.skip("web UI tests need Debian's chromium: apt-get install -y chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        if REQUIRE_SERVICES:
            pytest.fail("KEEL_TEST_REQUIRE_SERVICES=1 but the playwright package is missing")
        pytest.skip("web UI tests need the playwright package: pip install -e '.[dev]'")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for every browser test of the session: Playwright's sync API
    cannot start a second time in a process while the first one runs."""
    path = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:  # Playwright gives each launch a fresh profile
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield b
        b.close()
