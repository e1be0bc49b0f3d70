"""The shipped migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from keel.store import HEAD_REVISIONS, Store, current_revisions
from keel.store._tables import Base


def test_migrated_schema_matches_models(store: Store) -> None:
    assert current_revisions(store.db) == HEAD_REVISIONS
    with store.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
