"""One engine per database and the one helper that opens transactions.

``Database.write()`` and ``Database.read()`` yield a SQLAlchemy ``Connection`` inside a
transaction that commits on success and rolls back on error; database errors come out
as :class:`~keel.exceptions.StoreError`. Writers on SQLite start with ``BEGIN IMMEDIATE``
so two writers queue on the busy timeout instead of failing with "database is locked"
when a read lock cannot be upgraded. A ``Database`` is safe to share between threads;
a ``Connection`` it yields is not.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from keel.exceptions import ConfigError, StoreError

_WRITE = "keel_write"
SQLITE_BUSY_TIMEOUT_S = 60.0


def now_ms() -> int:
    return int(time.time() * 1000)


class Database:
    """Owns the engine for one metadata database (SQLite or PostgreSQL)."""

    def __init__(self, uri: str, *, echo: bool = False) -> None:
        self.uri = uri
        self.engine = _make_engine(uri, echo=echo)
        self.dialect = self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction; commits when the block ends without error."""
        with self._transaction(write=True) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both backends)."""
        with self._transaction(write=False) as conn:
            yield conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(**{_WRITE: write})
                with conn.begin():
                    yield conn
        except IntegrityError:
            raise  # repositories translate these; they know what the constraint means
        except (DBAPIError, SQLAlchemyError) as exc:
            raise StoreError(f"metadata database error on {self.safe_uri}: {exc}") from exc

    @property
    def safe_uri(self) -> str:
        """The URI with any password hidden, for messages and logs."""
        return make_url(self.uri).render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()


def _make_engine(uri: str, *, echo: bool) -> Engine:
    try:
        url = make_url(uri)
    except Exception as exc:
        raise ConfigError(
            f"KEEL_DB_URI {uri!r} is not a database URL; use sqlite:///path or "
            "postgresql+psycopg://user@host/db"
        ) from exc
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        _sqlite_pragmas(engine)
        return engine
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("psycopg2", ""):
        url = url.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
    return create_engine(url, **kwargs)


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE is ours to send.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        # WAL + NORMAL: a commit survives a crash of the process (not of the OS).
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
