"""The shipped migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from keel.store import HEAD_REVISIONS, Store, current_revisions
from keel.store._schema_reports import UNMODELLED
from keel.store._tables import Base


def _modelled(name: str | None, type_: str, parent: object) -> bool:
    """The search index's FTS5 tables and tsvector column are made by SQL, not models."""
    return not (name or "").startswith(UNMODELLED)


def test_migrated_schema_matches_models(store: Store) -> None:
    assert current_revisions(store.db) == HEAD_REVISIONS
    with store.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _modelled})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
