"""Every wait on PostgreSQL is bounded: a database that does not answer is an error, fast."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from keel.config import Settings
from keel.exceptions import ConfigError, DatabaseUnavailableError
from keel.store import Database

sys.path.insert(0, str(Path(__file__).parents[1] / "server"))
from faultkit import BlackHole, TcpProxy  # type: ignore[import-not-found]


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


def _cli(home: Path, uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env.update(KEEL_HOME=str(home), KEEL_DB_URI=uri, KEEL_DB_CONNECT_TIMEOUT="2", COLUMNS="400")
    return subprocess.run(
        [sys.executable, "-m", "keel.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a hang fails here instead of stalling the suite
    )


@pytest.mark.parametrize(
    "command", [["db", "status"], ["db", "upgrade"], ["server", "--port", "0"]]
)
def test_cli_fails_in_one_line_on_a_database_that_never_answers(
    black_hole: BlackHole, tmp_path: Path, command: list[str]
) -> None:
    uri = f"postgresql+psycopg://keel@127.0.0.1:{black_hole.port}/keel"
    done = _cli(tmp_path / "home", uri, *command)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "cannot use the metadata database at postgresql+psycopg://keel@127.0.0.1" in lines[0]
    assert "timeout" in lines[0]


def test_timeouts_are_settings_with_clear_errors() -> None:
    s = Settings.from_env({"KEEL_DB_CONNECT_TIMEOUT": "3", "KEEL_DB_STATEMENT_TIMEOUT": "0"})
    assert (s.db_connect_timeout_s, s.db_statement_timeout_s) == (3.0, 0.0)
    assert Settings.from_env({}).db_connect_timeout_s == 10.0
    for bad in ("soon", "-1", "nan", "inf"):
        with pytest.raises(ConfigError, match=f"KEEL_DB_STATEMENT_TIMEOUT '{bad}'"):
            Settings.from_env({"KEEL_DB_STATEMENT_TIMEOUT": bad})


@pytest.fixture
def proxied(pg_database: str) -> Iterator[tuple[TcpProxy, str]]:
    url = make_url(pg_database)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(False)
    proxy.close()


def test_a_black_holed_link_fails_the_transaction_then_recovers(
    proxied: tuple[TcpProxy, str],
) -> None:
    proxy, uri = proxied
    db = Database(uri, connect_timeout_s=2, statement_timeout_s=1)
    with db.read() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    hung = pytest.raises(DatabaseUnavailableError, match=r"did not answer within 6 s")
    with hung, db.read() as conn:
        conn.execute(text("SELECT 1"))
        proxy.blackhole()  # the link dies in the middle of a transaction
        conn.execute(text("SELECT 1"))
    # a new transaction: the pool's ping would hang, then a new connection does
    unreachable = pytest.raises(DatabaseUnavailableError, match="database at postgresql")
    with unreachable, db.read() as conn:
        conn.execute(text("SELECT 1"))
    proxy.drop()
    down = pytest.raises(DatabaseUnavailableError, match="cannot use the metadata database")
    with down, db.cursor(write=False) as cur:
        cur.execute("SELECT 1")
    proxy.restore()
    with db.read() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    db.dispose()


def test_statement_timeout_stops_a_slow_statement(pg_database: str) -> None:
    db = Database(pg_database, statement_timeout_s=0.5)
    slow = pytest.raises(DatabaseUnavailableError, match="statement timeout")
    with slow, db.read() as conn:
        conn.execute(text("SELECT pg_sleep(5)"))
    with db.read() as conn:  # the connection is usable again
        assert conn.execute(text("SELECT 1")).scalar() == 1
    db.dispose()
