"""The artifact index of each run: which blob sits at which relative path."""

from __future__ import annotations

from sqlalchemy import Connection, select

from keel.exceptions import NotFoundError
from keel.store._db import Database
from keel.store._file_index import FileIndex
from keel.store._schema import ArtifactRow, RunRow, table
from keel.store.blobs import BlobRef
from keel.store.entities import ArtifactInfo

A = table(ArtifactRow)
R = table(RunRow)


class ArtifactRepository:
    """Record, list and remove run artifacts; the bytes live in the blob store."""

    def __init__(self, db: Database) -> None:
        self._index = FileIndex(db, A, "run_id", noun="run", item="artifact")

    def add(self, run_id: str, items: list[tuple[str, BlobRef]]) -> list[ArtifactInfo]:
        """Record ``(relative path, blob)`` pairs; a path logged again points at the new blob."""

        def run_exists(conn: Connection) -> None:
            if conn.execute(select(R.c.id).where(R.c.id == run_id)).first() is None:
                raise NotFoundError(f"run id {run_id!r} does not exist")

        return self._index.add(run_id, items, check=run_exists)

    def list(self, run_id: str, prefix: str | None = None) -> list[ArtifactInfo]:
        """Artifacts of a run, optionally only those under the folder ``prefix``."""
        return self._index.list(run_id, prefix)

    def get(self, run_id: str, path: str) -> ArtifactInfo:
        return self._index.get(run_id, path)

    def delete(self, run_id: str, path: str) -> int:
        """Remove an artifact or a whole folder of them; returns how many went."""
        return self._index.delete(run_id, path)
