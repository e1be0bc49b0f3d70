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

On PostgreSQL every wait is bounded: connecting (``connect_timeout_s``), each statement on
the server (``statement_timeout``) and, on the client, each transaction and each pool
ping (the statement timeout plus a margin: a database that stops answering altogether is
cut off by :class:`~keel.store._db_guard.Deadlines`). A database that cannot be reached
or did not answer in time raises :class:`~keel.exceptions.DatabaseUnavailableError`
(503 on the server) with a one-line message.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from keel.exceptions import (
    AlreadyExistsError,
    ConfigError,
    ConstraintError,
    DatabaseUnavailableError,
    NotFoundError,
    StoreError,
)
from keel.store._db_guard import Deadlines

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from keel.config import Settings

_WRITE = "keel_write"
#: How long a SQLite statement waits for another writer's lock when the statement timeout is
#: off; otherwise it waits the statement timeout (KEEL_DB_STATEMENT_TIMEOUT), then fails
#: with "database is locked" (503 on the server).
SQLITE_BUSY_TIMEOUT_S = 86400.0
_SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL"}
#: How much longer than the server's statement timeout the client waits for any answer.
CLIENT_MARGIN_S = 5.0


def _sqlite_pragmas_for(synchronous: str, busy_s: float) -> tuple[str, ...]:
    """The pragmas of every SQLite connection keel opens (through SQLAlchemy or directly).
    WAL + FULL: a commit survives a power cut; WAL + NORMAL only a crash of the process."""
    level = _SYNCHRONOUS.get(synchronous)
    if level is None:
        raise ConfigError(f"SQLite synchronous {synchronous!r} is not one of full, normal")
    return (
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={int(busy_s * 1000)}",
        "PRAGMA foreign_keys=ON",
        f"PRAGMA synchronous={level}",
    )


def now_ms() -> int:
    return int(time.time() * 1000)


def given(**values: Any) -> dict[str, Any]:
    """The ``values`` that are not None: the columns a partial update sets."""
    return {k: v for k, v in values.items() if v is not None}


T = TypeVar("T")


def found_or_missing(found: T | None, missing: str) -> T:
    """``found``, or ``NotFoundError(missing)`` when None: a ``get`` over a ``find``."""
    if found is None:
        raise NotFoundError(missing)
    return found


def first_or_missing(conn: Connection, query: Any, missing: str) -> Any:
    """The first row ``query`` finds on ``conn``; ``NotFoundError(missing)`` when none: the
    one "get or 404" of every repository."""
    row = conn.execute(query).first()
    if row is None:
        raise NotFoundError(missing)
    return row


class Database:
    """Owns the engine for one metadata database (SQLite or PostgreSQL)."""

    def __init__(
        self,
        uri: str,
        *,
        echo: bool = False,
        synchronous: str = "full",
        connect_timeout_s: float = 10.0,
        statement_timeout_s: float = 30.0,
    ) -> None:
        self.uri = uri
        self._echo = echo
        self.connect_timeout_s = connect_timeout_s
        self.statement_timeout_s = statement_timeout_s
        self._deadlines = (
            Deadlines(statement_timeout_s + CLIENT_MARGIN_S) if statement_timeout_s > 0 else None
        )
        # ``SELECT 1`` on checkout is as cheap as a handshake: no answer within the connect
        # timeout means unreachable (then a new connection is tried, bounded the same way)
        ping_s = _ping_limit(connect_timeout_s, statement_timeout_s)
        self._ping_deadlines = Deadlines(ping_s) if ping_s > 0 else None
        self._busy_s = statement_timeout_s if statement_timeout_s > 0 else SQLITE_BUSY_TIMEOUT_S
        self._pragmas = _sqlite_pragmas_for(synchronous, self._busy_s)
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

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The metadata database ``settings`` point at, with their durability and timeouts."""
        return cls(
            settings.db_uri,
            synchronous=settings.sqlite_synchronous,
            connect_timeout_s=settings.db_connect_timeout_s,
            statement_timeout_s=settings.db_statement_timeout_s,
        )

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, created (and SQLAlchemy imported) on first use."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = _make_engine(
                        self.uri,
                        echo=self._echo,
                        pragmas=self._pragmas,
                        timeouts=(self.connect_timeout_s, self.statement_timeout_s),
                        deadlines=self._ping_deadlines,
                        sqlite_busy_s=self._busy_s,
                    )
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

    def one(self, query: Any, missing: str) -> Any:
        """The first row ``query`` finds, read in its own transaction; ``NotFoundError``
        with the one-line message ``missing`` when it finds none."""
        with self.read() as conn:
            return first_or_missing(conn, query, missing)

    def change(self, statement: Any, missing: str) -> int:
        """Run one ``UPDATE``/``DELETE`` in its own transaction; how many rows it changed,
        ``NotFoundError`` with the one-line message ``missing`` when none."""
        with self.write() as conn:
            n = int(conn.execute(statement).rowcount)
        if n == 0:
            raise NotFoundError(missing)
        return n

    def insert_new(
        self, statement: Any, exists: str, then: Callable[[Connection, Any], object] | None = None
    ) -> Any:
        """One ``INSERT`` (and ``then(conn, value)``: the rows that go with the new one) in its
        own transaction; ``value``, the answer, is what it returns (``.returning(t.c.id)``) or
        None. ``AlreadyExistsError(exists)`` when a unique constraint refuses it (name taken)."""
        from sqlalchemy.exc import IntegrityError

        try:
            with self.write() as conn:
                result = conn.execute(statement)
                value = result.scalar_one() if statement.exported_columns else None
                if then is not None:
                    then(conn, value)
        except IntegrityError as exc:
            raise AlreadyExistsError(exists) from exc
        return value

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
                timeout=self._busy_s,
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

        cut: list[bool] = []
        try:
            with self.engine.connect() as conn, self._watch(conn, cut):
                conn = conn.execution_options(**{_WRITE: write})
                with conn.begin():
                    yield conn
        except IntegrityError:
            raise  # repositories translate these; they know what the constraint means
        except (DBAPIError, SQLAlchemyError) as exc:
            raise self._failure(exc, timed_out=bool(cut)) from exc

    @contextmanager
    def _watch(self, conn: Connection, cut: list[bool]) -> Iterator[None]:
        """Bound the transaction on ``conn`` by the client deadline (PostgreSQL only)."""
        if self._deadlines is None or self.is_sqlite:
            yield
            return
        with self._deadlines.watch(conn.connection.dbapi_connection.fileno()) as w:  # type: ignore[union-attr]
            try:
                yield
            finally:
                if w.expired:
                    cut.append(True)

    def _failure(self, exc: Exception, *, timed_out: bool) -> StoreError:
        """The keel error for a database error: unavailable (503) when the database could not
        be reached or did not answer in time, else a plain store error."""
        from sqlalchemy.exc import DBAPIError, OperationalError
        from sqlalchemy.exc import TimeoutError as PoolTimeout

        if self.is_sqlite:
            return StoreError(f"metadata database error on {self.safe_uri}: {exc}")
        where = f"the metadata database at {self.safe_uri}"
        if timed_out:
            return DatabaseUnavailableError(
                f"{where} did not answer within {self.statement_timeout_s + CLIENT_MARGIN_S:g} s "
                "(KEEL_DB_STATEMENT_TIMEOUT); check that it is up and reachable"
            )
        if isinstance(exc, PoolTimeout):
            return DatabaseUnavailableError(
                f"no connection to {where} came free in time: it is slow or unreachable"
            )
        invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
        if isinstance(exc, OperationalError) or invalidated:
            return DatabaseUnavailableError(f"cannot use {where}: {_first_line(exc)}")
        return StoreError(f"metadata database error on {self.safe_uri}: {exc}")

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


class SqlRepository:
    """What every SQL repository is made with: the :class:`Database` it reads and writes."""

    def __init__(self, db: Database) -> None:
        self._db = db


def _ping_limit(connect_s: float, statement_s: float) -> float:
    """How long the pool's ``SELECT 1`` may take (0: unbounded, both timeouts are off)."""
    statement_limit = statement_s + CLIENT_MARGIN_S if statement_s > 0 else 0.0
    return min((x for x in (connect_s, statement_limit) if x > 0), default=0.0)


def _first_line(exc: BaseException) -> str:
    """The driver's own message, on one line (not SQLAlchemy's SQL echo and help link)."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return detail[0] if detail else type(exc).__name__


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


def _make_engine(
    uri: str,
    *,
    echo: bool,
    pragmas: tuple[str, ...],
    timeouts: tuple[float, float] = (10.0, 30.0),
    deadlines: Deadlines | None = None,
    sqlite_busy_s: float = SQLITE_BUSY_TIMEOUT_S,
) -> Engine:
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
            connect_args={"timeout": sqlite_busy_s, "check_same_thread": False},
        )
        _sqlite_pragmas(engine, pragmas)
        return engine
    if url.get_backend_name() == "postgresql" and url.get_driver_name() in ("psycopg2", ""):
        url = url.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
    if url.get_backend_name() == "postgresql":
        kwargs["connect_args"] = _pg_timeouts(url.query, *timeouts)
    engine = create_engine(url, **kwargs)
    if deadlines is not None and url.get_backend_name() == "postgresql":
        _guard_ping(engine, deadlines)
    return engine


def _pg_timeouts(query: Any, connect_s: float, statement_s: float) -> dict[str, Any]:
    """libpq parameters bounding each wait (a value given in the URL wins)."""
    args: dict[str, Any] = {}
    if connect_s > 0:
        args["connect_timeout"] = max(2, math.ceil(connect_s))  # libpq: whole seconds, >= 2
    if statement_s > 0 and "options" not in query:
        args["options"] = f"-c statement_timeout={int(statement_s * 1000)}"
    args.update(keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3)
    return {k: v for k, v in args.items() if k not in query}


def _guard_ping(engine: Engine, deadlines: Deadlines) -> None:
    """Bound the pool's pre-ping too: it runs before any transaction could be watched."""
    dialect = engine.dialect
    ping = dialect.do_ping

    def guarded(dbapi_conn: Any) -> bool:
        with deadlines.watch(dbapi_conn.fileno()):
            return ping(dbapi_conn)

    dialect.do_ping = guarded  # type: ignore[method-assign, assignment]


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
