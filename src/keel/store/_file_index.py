"""Which blob sits at which relative path, for one kind of owner (a run, a logged model).

Run artifacts and logged-model files are the same index over different tables; this is
the one implementation both repositories use.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Table, delete, select

from keel.store._db import Database, now_ms
from keel.store._upsert import upsert
from keel.store.blobs import BlobRef
from keel.store.entities import ArtifactInfo
from keel.store.paths import safe_relpath


class FileIndex:
    """One owner kind's files in ``table`` (owner, path, blob_sha, size, created_at)."""

    def __init__(self, db: Database, table: Table, owner: str, *, noun: str, item: str) -> None:
        self._db = db
        self._t = table
        self._owner = table.c[owner]
        self._owner_key = owner
        self._noun = noun  # "run", "logged model": names the owner in messages
        self._item = item  # "artifact", "file"

    def add(
        self,
        owner_id: str,
        items: list[tuple[str, BlobRef]],
        *,
        check: Callable[[Connection], None] | None = None,
    ) -> list[ArtifactInfo]:
        """Record ``(relative path, blob)`` pairs; a path recorded again points at the new blob.

        ``check`` runs inside the write transaction (e.g. that the owner exists).
        """
        ts = now_ms()
        infos = {
            clean: ArtifactInfo(clean, ref.size, ref.sha, ts)
            for clean, ref in ((safe_relpath(p), r) for p, r in items)
        }
        rows = [
            {self._owner_key: owner_id, "path": a.path, "blob_sha": a.blob_sha, "size": a.size,
             "created_at": ts}
            for a in infos.values()
        ]  # fmt: skip
        with self._db.write() as conn:
            if check is not None:
                check(conn)
            upsert(conn, self._t, rows, keys=(self._owner_key, "path"),
                   update=("blob_sha", "size", "created_at"))  # fmt: skip
        return list(infos.values())

    def list(self, owner_id: str, prefix: str | None = None) -> list[ArtifactInfo]:
        """Files of an owner, optionally only those under the folder ``prefix``."""
        t = self._t
        query = select(t).where(self._owner == owner_id).order_by(t.c.path)
        if prefix:
            folder = safe_relpath(prefix).rstrip("/")
            query = query.where(
                (t.c.path == folder) | t.c.path.startswith(folder + "/", autoescape=True)
            )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [ArtifactInfo(r.path, r.size, r.blob_sha, r.created_at) for r in rows]

    def get(self, owner_id: str, path: str) -> ArtifactInfo:
        clean = safe_relpath(path)
        t = self._t
        query = select(t).where(self._owner == owner_id, t.c.path == clean)
        row = self._db.one(query, f"{self._noun} {owner_id!r} has no {self._item} {clean!r}")
        return ArtifactInfo(row.path, row.size, row.blob_sha, row.created_at)

    def delete(self, owner_id: str, path: str) -> int:
        """Remove one file or a whole folder of them; returns how many went."""
        clean = safe_relpath(path)
        t = self._t
        inside = (t.c.path == clean) | t.c.path.startswith(clean + "/", autoescape=True)
        missing = f"{self._noun} {owner_id!r} has no {self._item} {clean!r}"
        return self._db.change(delete(t).where(self._owner == owner_id, inside), missing)
