"""One engine per database and the one helper that opens transactions.

``Database.write()`` and ``Database.read()`` yield a SQLAlchemy ``Connection`` inside a
transaction that commits on success and rolls back on error; database errors come out
as :class:`~keel.exceptions.StoreError`. Writers on SQLite start with ``BEGIN IMMEDIATE``
so two writers queue on the busy timeout instead of failing with "database is locked"
when a read lock cannot be upgraded. A ``Database`` is safe to share between threads;
a ``Connection`` it yields is not.

``Database.cursor()`` is the driver-level twin for hot paths: a DB-API cursor inside the
same kind of transaction, with SQL written once in qmark style (``?``) and adapted by
:meth:`Database.sql` to the driver. On a SQLite file it talks to ``sqlite3`` directly (one
connection per thread, the same pragmas), so a command that only needs such statements
never imports SQLAlchemy; elsewhere it borrows a connection from the engine's pool.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from keel.exceptions import ConfigError, ConstraintError, StoreError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

_WRITE = "keel_write"
SQLITE_BUSY_TIMEOUT_S = 60.0
_SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL"}


def _sqlite_pragmas_for(synchronous: str) -> tuple[str, ...]:
    """The pragmas of every SQLite connection keel opens (through SQLAlchemy or directly).
    WAL + FULL: a commit survives a power cut; WAL + NORMAL only a crash of the process."""
    level = _SYNCHRONOUS.get(synchronous)
    if level is None:
        raise ConfigError(f"SQLite synchronous {synchronous!r} is not one of full, normal")
    return (
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}",
        "PRAGMA foreign_keys=ON",
        f"PRAGMA synchronous={level}",
    )


def now_ms() -> int:
    return int(time.time() * 1000)


class Database:
    """Owns the engine for one metadata database (SQLite or PostgreSQL)."""

    def __init__(self, uri: str, *, echo: bool = False, synchronous: str = "full") -> None:
        self.uri = uri
        self._echo = echo
        self._pragmas = _sqlite_pragmas_for(synchronous)
        self._engine: Any = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._raw: list[sqlite3.Connection] = []
        self._sql: dict[str, str] = {}
        self._sqlite_file = _sqlite_file(uri)
        if self._sqlite_file is not None:
            self.dialect = "sqlite"
            self._sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        else:
            self.dialect = self.engine.dialect.name  # builds (and validates) the engine now

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created (and SQLAlchemy imported) on first use."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = _make_engine(self.uri, echo=self._echo, pragmas=self._pragmas)
        return self._engine

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def flags(self) -> tuple[Any, Any]:
        """The values a boolean column binds for (False, True) at the driver level: pysqlite
        binds ints directly, PostgreSQL's boolean column needs real bools."""
        return (0, 1) if self.is_sqlite else (False, True)

    def sql(self, text: str) -> str:
        """``text`` (qmark style) in the driver's parameter style."""
        if self.is_sqlite:
            return text
        out = self._sql.get(text)
        if out is None:
            out = self._sql[text] = text.replace("%", "%%").replace("?", "%s")
        return out

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
    def cursor(self, *, write: bool) -> Iterator[Any]:
        """A DB-API cursor inside a transaction (``BEGIN IMMEDIATE`` for writers on SQLite);
        commits when the block ends without error. SQL goes through :meth:`sql`."""
        if self._sqlite_file is None:
            try:
                with self._transaction(write=write) as sa_conn, _dbapi_cursor(sa_conn) as cur:
                    yield cur
            except Exception as exc:
                if type(exc).__name__ == "IntegrityError":
                    raise _constraint(exc) from exc
                raise
            return
        conn = self._sqlite_conn()
        nested = conn.in_transaction  # a cursor opened inside another on this thread
        if nested:  # gets its own connection, as a second pool checkout would
            conn = self._connect_sqlite()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            cur = conn.cursor()
            try:
                yield cur
            finally:
                cur.close()
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.IntegrityError):
                raise _constraint(exc) from exc
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"metadata database error on {self.safe_uri}: {exc}") from exc
            raise
        finally:
            if nested:
                conn.close()

    def _sqlite_conn(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use, never reused across a fork)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = self._connect_sqlite()
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._lock:
                self._raw.append(conn)
        return conn

    def _connect_sqlite(self) -> sqlite3.Connection:
        assert self._sqlite_file is not None
        try:
            conn = sqlite3.connect(
                self._sqlite_file,
                timeout=SQLITE_BUSY_TIMEOUT_S,
                isolation_level=None,  # we send BEGIN/COMMIT ourselves
                check_same_thread=False,  # only for dispose() from another thread
            )
            for pragma in self._pragmas:
                conn.execute(pragma)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the metadata database {self.uri}: {exc}") from exc
        return conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

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
        if self._sqlite_file is not None:
            return self.uri
        from sqlalchemy.engine import make_url

        return make_url(self.uri).render_as_string(hide_password=True)

    def dispose(self) -> None:
        with self._lock:
            raw, self._raw = self._raw, []
            self._local = threading.local()
        for conn in raw:
            conn.close()
        if self._engine is not None:
            self._engine.dispose()


def _constraint(exc: BaseException) -> ConstraintError:
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return ConstraintError(
        f"the database refused the write ({detail}): a name or id is taken, or something it "
        "refers to does not exist"
    )


def _sqlite_file(uri: str) -> Path | None:
    """The file of a plain ``sqlite:///path`` URI (what keel writes by default); ``None`` for
    anything else (memory, URI options, other databases), which goes through SQLAlchemy."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if uri.startswith(prefix):
            path = unquote(uri[len(prefix) :])
            if not path or path == ":memory:" or "?" in path or path.startswith("file:"):
                return None
            return Path(path)
    return None


@contextmanager
def _dbapi_cursor(conn: Connection) -> Iterator[Any]:
    """A driver cursor inside ``conn``'s open transaction, for logging and search results.

    It skips SQLAlchemy's per-statement machinery (~40 us each, more than SQLite's insert);
    driver errors come out as SQLAlchemy's, so :class:`Database` still translates them.
    """
    from sqlalchemy.exc import DBAPIError

    base_error: type[Exception] = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.cursor()
    try:
        yield cursor
    except base_error as exc:
        raise DBAPIError.instance(None, None, exc, base_error, dialect=conn.dialect) from exc
    finally:
        cursor.close()


def _make_engine(uri: str, *, echo: bool, pragmas: tuple[str, ...]) -> Engine:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

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
        _sqlite_pragmas(engine, pragmas)
        return engine
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("psycopg2", ""):
        url = url.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
    return create_engine(url, **kwargs)


def _sqlite_pragmas(engine: Engine, pragmas: tuple[str, ...]) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE is ours to send.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in pragmas:
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
