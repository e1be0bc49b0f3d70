"""Schema migrations shipped inside the package (Alembic).

The embedded store calls :func:`ensure_schema` on first use: a cheap check of the
``alembic_version`` row, and only when it is behind, an upgrade under a lock (a file lock
for SQLite, an advisory lock for PostgreSQL) so two processes starting together never
migrate twice.
"""

from __future__ import annotations

from pathlib import Path

from keel.exceptions import MigrationError
from keel.store._db import Database

_MIGRATIONS = Path(__file__).with_name("migrations")
#: The head revisions this version of keel ships. Each feature area adds its tables in its
#: own migration branch (``down_revision`` of its previous migration), so areas never race
#: for one linear number; list the new head here (and drop the one it replaces).
HEAD_REVISIONS: frozenset[str] = frozenset(
    {"0002", "0004", "0005", "0006", "0007", "0008", "0014", "0017", "0018", "0019"}
)
_PG_LOCK_KEY = 0x6B65656C  # "keel"


_HAS_VERSION_TABLE = {
    "sqlite": "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
    "postgresql": (
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = ? AND table_schema = current_schema()"
    ),
}


def current_revisions(db: Database) -> frozenset[str]:
    """The revisions (one per branch) the database is at; empty for a new database."""
    with db.cursor(write=False) as cur:
        cur.execute(db.sql(_HAS_VERSION_TABLE[db.dialect]), ("alembic_version",))
        if not cur.fetchone()[0]:
            return frozenset()
        cur.execute("SELECT version_num FROM alembic_version")
        return frozenset(row[0] for row in cur.fetchall())


def is_current(db: Database) -> bool:
    return current_revisions(db) == HEAD_REVISIONS


def ensure_schema(db: Database) -> None:
    """Upgrade the schema to :data:`HEAD_REVISIONS` if it is behind; a no-op otherwise."""
    if is_current(db):
        return
    upgrade(db)


def upgrade(db: Database, revision: str = "heads") -> frozenset[str]:
    """Run pending migrations under a lock; returns the revision reached."""
    if db.is_sqlite:
        import filelock
        from sqlalchemy.engine import make_url

        path = make_url(db.uri).database or ""
        lock_path = f"{path}.migrate.lock" if path and path != ":memory:" else None
        if lock_path is None:
            return _upgrade_locked(db, revision)
        with filelock.FileLock(lock_path, timeout=120):
            return _upgrade_locked(db, revision)
    from sqlalchemy import text

    with db.engine.connect() as conn:
        # waiting for another process's migration may take longer than a statement may
        conn.execute(text("SET LOCAL statement_timeout = 0"))
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
        conn.commit()
        try:
            return _upgrade_locked(db, revision)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()


def _upgrade_locked(db: Database, revision: str) -> frozenset[str]:
    from alembic import command
    from alembic.config import Config

    if revision == "heads" and is_current(db):
        return HEAD_REVISIONS  # another process migrated while we waited for the lock
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.uri.replace("%", "%%"))
    try:
        with db.engine.begin() as conn:
            if not db.is_sqlite:  # a migration may rewrite a big table: no statement timeout
                conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except Exception as exc:
        raise MigrationError(
            f"could not upgrade the keel database at {db.safe_uri} to {revision}: {exc}"
        ) from exc
    return current_revisions(db)
