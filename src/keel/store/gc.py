"""Garbage collection: delete blobs that no metadata row references."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select, union

from keel.store._db import Database
from keel.store._tables import Base
from keel.store.blobs import BlobStore


@dataclass(frozen=True, slots=True)
class GcReport:
    scanned: int
    referenced: int
    deleted: list[str]
    freed_bytes: int
    partial_removed: int
    dry_run: bool


def referenced_blobs(db: Database) -> set[str]:
    """Every hash held in a ``blob_sha`` column of any table, present or future."""
    selects = [
        select(table.c.blob_sha) for table in Base.metadata.sorted_tables if "blob_sha" in table.c
    ]
    with db.read() as conn:
        return {row[0] for row in conn.execute(union(*selects))}


def collect_garbage(
    db: Database, blobs: BlobStore, *, grace_s: float = 3600, dry_run: bool = False
) -> GcReport:
    """Delete unreferenced blobs older than ``grace_s`` (a writer may not have recorded yet)."""
    keep = referenced_blobs(db)
    cutoff = time.time() - grace_s
    scanned = 0
    doomed: list[str] = []
    freed = 0
    for sha, mtime in blobs.iter_all():
        scanned += 1
        if sha in keep or mtime > cutoff:
            continue
        doomed.append(sha)
        freed += blobs.size(sha)
    partial = 0
    if not dry_run:
        for sha in doomed:
            blobs.delete(sha)
        partial = blobs.clean_tmp(older_than_s=grace_s)
    return GcReport(scanned, len(keep), doomed, freed, partial, dry_run)
