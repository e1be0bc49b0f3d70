"""Garbage collection: delete blobs that no metadata row references."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select, union

from keel.store._tables import Base
from keel.store.protocols import Blobs, Db


@dataclass(frozen=True, slots=True)
class GcReport:
    scanned: int
    referenced: int
    deleted: list[str]
    freed_bytes: int
    partial_removed: int
    dry_run: bool


def referenced_blobs(db: Db) -> set[str]:
    """Every hash held in a ``blob_sha`` column of any table, present or future."""
    selects = [
        select(table.c.blob_sha) for table in Base.metadata.sorted_tables if "blob_sha" in table.c
    ]
    with db.read() as conn:
        return {row[0] for row in conn.execute(union(*selects))}


def collect_garbage(
    db: Db, blobs: Blobs, *, grace_s: float = 3600, dry_run: bool = False
) -> GcReport:
    """Delete unreferenced blobs older than ``grace_s`` (a writer may not have recorded yet).

    The references are read before the blobs are listed, and each blob's age is read again
    just before it goes: a writer that stored (or refreshed) a blob after the scan started
    made it young, so it stays until that writer has recorded its reference."""
    keep = referenced_blobs(db)
    cutoff = time.time() - grace_s
    scanned = 0
    candidates: list[str] = []
    for sha, mtime in blobs.iter_all():
        scanned += 1
        if sha not in keep and mtime <= cutoff:
            candidates.append(sha)
    doomed: list[str] = []
    freed = 0
    for sha in candidates:
        now = blobs.mtime(sha)
        if now is None or now > cutoff:  # gone, or refreshed by a writer meanwhile
            continue
        freed += blobs.size(sha)
        if not dry_run:
            blobs.delete(sha)
        doomed.append(sha)
    partial = 0 if dry_run else blobs.clean_tmp(older_than_s=grace_s)
    return GcReport(scanned, len(keep), doomed, freed, partial, dry_run)
