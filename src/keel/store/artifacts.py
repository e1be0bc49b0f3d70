"""The artifact index of each run: which blob sits at which relative path."""

from __future__ import annotations

from sqlalchemy import delete, select

from keel.exceptions import NotFoundError
from keel.store._db import Database, now_ms
from keel.store._schema import ArtifactRow, RunRow, table
from keel.store._upsert import upsert
from keel.store.blobs import BlobRef
from keel.store.entities import ArtifactInfo
from keel.store.paths import safe_relpath

A = table(ArtifactRow)
R = table(RunRow)


class ArtifactRepository:
    """Record, list and remove run artifacts; the bytes live in the blob store."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, run_id: str, items: list[tuple[str, BlobRef]]) -> list[ArtifactInfo]:
        """Record ``(relative path, blob)`` pairs; a path logged again points at the new blob."""
        ts = now_ms()
        infos = {
            clean: ArtifactInfo(clean, ref.size, ref.sha, ts)
            for clean, ref in ((safe_relpath(p), r) for p, r in items)
        }
        rows = [
            {
                "run_id": run_id,
                "path": a.path,
                "blob_sha": a.blob_sha,
                "size": a.size,
                "created_at": ts,
            }
            for a in infos.values()
        ]
        with self._db.write() as conn:
            if conn.execute(select(R.c.id).where(R.c.id == run_id)).first() is None:
                raise NotFoundError(f"run id {run_id!r} does not exist")
            upsert(
                conn, A, rows, keys=("run_id", "path"), update=("blob_sha", "size", "created_at")
            )
        return list(infos.values())

    def list(self, run_id: str, prefix: str | None = None) -> list[ArtifactInfo]:
        """Artifacts of a run, optionally only those under the folder ``prefix``."""
        query = select(A).where(A.c.run_id == run_id).order_by(A.c.path)
        if prefix:
            folder = safe_relpath(prefix).rstrip("/")
            query = query.where(
                (A.c.path == folder) | A.c.path.startswith(folder + "/", autoescape=True)
            )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [ArtifactInfo(r.path, r.size, r.blob_sha, r.created_at) for r in rows]

    def get(self, run_id: str, path: str) -> ArtifactInfo:
        clean = safe_relpath(path)
        with self._db.read() as conn:
            row = conn.execute(select(A).where(A.c.run_id == run_id, A.c.path == clean)).first()
        if row is None:
            raise NotFoundError(f"run {run_id!r} has no artifact {clean!r}")
        return ArtifactInfo(row.path, row.size, row.blob_sha, row.created_at)

    def delete(self, run_id: str, path: str) -> int:
        """Remove an artifact or a whole folder of them; returns how many went."""
        clean = safe_relpath(path)
        with self._db.write() as conn:
            n = conn.execute(
                delete(A).where(
                    A.c.run_id == run_id,
                    (A.c.path == clean) | A.c.path.startswith(clean + "/", autoescape=True),
                )
            ).rowcount
        if n == 0:
            raise NotFoundError(f"run {run_id!r} has no artifact {clean!r}")
        return int(n)
