"""``INSERT ... ON CONFLICT`` for the two dialects keel supports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Connection, Table


def _insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    keys: Sequence[str],
    update: Sequence[str] = (),
    where: Any = None,
) -> None:
    """Insert ``rows``; on a key conflict overwrite ``update`` columns (or do nothing).

    ``where`` is a callable ``(table, excluded) -> condition`` that limits which conflicting
    rows are overwritten.
    """
    if not rows:
        return
    stmt = _insert(conn, table)
    if update:
        cond: ColumnElement[bool] | None = None if where is None else where(table, stmt.excluded)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_={c: stmt.excluded[c] for c in update},
            where=cond,
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, list(rows))
