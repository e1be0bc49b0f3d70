"""Pipeline runs, step runs, the step cache, schedules and their fires.

Three repositories, one per aggregate: :class:`PipelineRunRepository` (a run and its
steps), :class:`StepCacheRepository` (cache metadata; the cached values are blobs) and
:class:`ScheduleRepository` (schedules, the occurrences they fired and the schedulers
alive; in ``_pipeline_schedules.py``). Every method runs its own transaction, so all
three are thread-safe.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, bindparam, delete, desc, func, insert, select, update

from keel.exceptions import NotFoundError
from keel.store._db import Database, now_ms
from keel.store._pipeline_schedules import (
    Schedule,
    ScheduleFire,
    ScheduleRepository,
    SchedulerInfo,
)
from keel.store._schema import table
from keel.store._schema_pipelines import (
    CacheBlobRow,
    CacheEntryRow,
    PipelineRunRow,
    StepRunRow,
)
from keel.store._upsert import upsert
from keel.store._validate import check_name
from keel.store.runs import ChildRun, insert_finished_runs

PR = table(PipelineRunRow)
SR = table(StepRunRow)
CE = table(CacheEntryRow)
CB = table(CacheBlobRow)


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    CACHED = "cached"
    RAN = "ran"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class PipelineRunInfo:
    id: str
    project_id: int
    pipeline: str
    target: str
    runner: str
    status: str
    params: dict[str, Any]
    started_at: int
    ended_at: int | None
    n_steps: int
    n_cached: int
    n_ran: int
    n_failed: int
    error: str


@dataclass(frozen=True, slots=True)
class StepRunInfo:
    node: str
    step: str
    status: StepStatus
    cache_key: str = ""
    run_id: str | None = None
    attempts: int = 0
    started_at: int = 0
    ended_at: int | None = None
    duration_ms: int = 0
    reason: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """Stored outputs of one step under one cache key; ``parts`` says what the key is made of."""

    key: str
    step: str
    parts: dict[str, Any]
    manifest: dict[str, Any]
    size_bytes: int
    run_id: str | None
    created_at: int
    blob_shas: tuple[str, ...] = field(default_factory=tuple)


def _run(row: Row) -> PipelineRunInfo:
    return PipelineRunInfo(
        id=row.id,
        project_id=row.project_id,
        pipeline=row.pipeline,
        target=row.target,
        runner=row.runner,
        status=row.status,
        params=json.loads(row.params_json),
        started_at=row.started_at,
        ended_at=row.ended_at,
        n_steps=row.n_steps,
        n_cached=row.n_cached,
        n_ran=row.n_ran,
        n_failed=row.n_failed,
        error=row.error,
    )


def _step(row: Row) -> StepRunInfo:
    return StepRunInfo(
        node=row.node,
        step=row.step,
        status=StepStatus(row.status),
        cache_key=row.cache_key,
        run_id=row.run_id,
        attempts=row.attempts,
        started_at=row.started_at,
        ended_at=row.ended_at,
        duration_ms=row.duration_ms,
        reason=row.reason,
        error=row.error,
    )


class PipelineRunRepository:
    """Record a pipeline run and the fate of each of its steps."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def start(
        self,
        run_id: str,
        *,
        project_id: int,
        pipeline: str,
        target: str,
        runner: str,
        params: Mapping[str, Any],
        n_steps: int,
    ) -> PipelineRunInfo:
        with self._db.write() as conn:
            conn.execute(
                insert(PR).values(
                    id=run_id,
                    project_id=project_id,
                    pipeline=check_name("pipeline", pipeline),
                    target=target,
                    runner=runner,
                    status="RUNNING",
                    params_json=json.dumps(dict(params), default=str, sort_keys=True),
                    started_at=now_ms(),
                    ended_at=None,
                    n_steps=n_steps,
                    n_cached=0,
                    n_ran=0,
                    n_failed=0,
                    error="",
                )
            )
        return self.get(run_id)

    def record_steps(
        self,
        pipeline_run_id: str,
        steps: Sequence[StepRunInfo],
        *,
        new_runs: Sequence[ChildRun] = (),
    ) -> None:
        """Insert or update step rows (keyed by node), creating ``new_runs`` (the tracking
        runs of cached steps) first, all in one transaction."""
        rows = [
            {
                "pipeline_run_id": pipeline_run_id,
                "node": s.node,
                "step": s.step,
                "status": s.status.value,
                "cache_key": s.cache_key,
                "run_id": s.run_id,
                "attempts": s.attempts,
                "started_at": s.started_at,
                "ended_at": s.ended_at,
                "duration_ms": s.duration_ms,
                "reason": s.reason[:4000],
                "error": s.error[:20000],
            }
            for s in steps
        ]
        if not rows and not new_runs:
            return
        with self._db.write() as conn:
            insert_finished_runs(conn, new_runs)
            if rows:
                cols = [c for c in rows[0] if c not in ("pipeline_run_id", "node")]
                upsert(conn, SR, rows, keys=("pipeline_run_id", "node"), update=cols)

    def finish(
        self,
        run_id: str,
        *,
        status: str,
        n_cached: int,
        n_ran: int,
        n_failed: int,
        error: str = "",
    ) -> PipelineRunInfo:
        with self._db.write() as conn:
            n = conn.execute(
                update(PR)
                .where(PR.c.id == run_id)
                .values(
                    status=status,
                    ended_at=now_ms(),
                    n_cached=n_cached,
                    n_ran=n_ran,
                    n_failed=n_failed,
                    error=error[:20000],
                )
            ).rowcount
        if n == 0:
            raise NotFoundError(f"pipeline run {run_id!r} does not exist")
        return self.get(run_id)

    def get(self, run_id: str) -> PipelineRunInfo:
        with self._db.read() as conn:
            row = conn.execute(select(PR).where(PR.c.id == run_id)).first()
            if row is None and len(run_id) < 32:
                rows = conn.execute(select(PR).where(PR.c.id.startswith(run_id)).limit(2)).all()
                row = rows[0] if len(rows) == 1 else None
        if row is None:
            raise NotFoundError(
                f"pipeline run {run_id!r} does not exist; list them with `keel pipeline runs`"
            )
        return _run(row)

    def list(
        self, project_id: int, *, pipeline: str | None = None, limit: int = 50
    ) -> list[PipelineRunInfo]:
        query = select(PR).where(PR.c.project_id == project_id)
        if pipeline is not None:
            query = query.where(PR.c.pipeline == pipeline)
        query = query.order_by(desc(PR.c.started_at), desc(PR.c.id)).limit(limit)
        with self._db.read() as conn:
            return [_run(r) for r in conn.execute(query).all()]

    def steps(self, run_id: str) -> builtins.list[StepRunInfo]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(SR).where(SR.c.pipeline_run_id == run_id).order_by(SR.c.id)
            ).all()
        return [_step(r) for r in rows]


_GET_ENTRY = select(CE).where(CE.c.project_id == bindparam("p"), CE.c.key == bindparam("k"))


def _entry(row: Row) -> CacheEntry:
    manifest = json.loads(row.manifest_json)
    return CacheEntry(
        key=row.key,
        step=row.step,
        parts=json.loads(row.parts_json),
        manifest=manifest,
        size_bytes=row.size_bytes,
        run_id=row.run_id,
        created_at=row.created_at,
        blob_shas=tuple(manifest_blobs(manifest)),
    )


def manifest_blobs(manifest: Mapping[str, Any]) -> list[str]:
    """Every blob hash a stored output manifest refers to (children included)."""
    out: list[str] = []
    sha = manifest.get("blob_sha")
    if sha:
        out.append(str(sha))
    for child in manifest.get("items", ()):
        out.extend(manifest_blobs(child))
    return out


class StepCacheRepository:
    """Cache entries per project: the key, what it was made of, and the output manifest."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, project_id: int, key: str) -> CacheEntry | None:
        with self._db.read() as conn:
            row = conn.execute(_GET_ENTRY, {"p": project_id, "k": key}).first()
        return None if row is None else _entry(row)

    def put(
        self,
        project_id: int,
        *,
        key: str,
        step: str,
        parts: Mapping[str, Any],
        manifest: Mapping[str, Any],
        size_bytes: int,
        run_id: str | None,
    ) -> None:
        """Record an entry; its blobs must already be in the blob store."""
        entry = {
            "project_id": project_id,
            "key": key,
            "step": step,
            "parts_json": json.dumps(dict(parts), sort_keys=True),
            "manifest_json": json.dumps(dict(manifest), sort_keys=True),
            "size_bytes": size_bytes,
            "run_id": run_id,
            "created_at": now_ms(),
        }
        blobs = [
            {"project_id": project_id, "key": key, "blob_sha": sha}
            for sha in sorted(set(manifest_blobs(manifest)))
        ]
        updated = [c for c in entry if c not in ("project_id", "key")]
        with self._db.write() as conn:
            upsert(conn, CE, [entry], keys=("project_id", "key"), update=updated)
            conn.execute(delete(CB).where(CB.c.project_id == project_id, CB.c.key == key))
            if blobs:
                conn.execute(insert(CB), blobs)

    def delete(self, project_id: int, keys: Iterable[str]) -> int:
        keys = list(keys)
        with self._db.write() as conn:
            conn.execute(delete(CB).where(CB.c.project_id == project_id, CB.c.key.in_(keys)))
            return int(
                conn.execute(
                    delete(CE).where(CE.c.project_id == project_id, CE.c.key.in_(keys))
                ).rowcount
            )

    def clear(self, project_id: int, *, step: str | None = None) -> int:
        """Forget cached outputs (of one step, or all); blobs go at the next ``keel gc``."""
        query = select(CE.c.key).where(CE.c.project_id == project_id)
        if step is not None:
            query = query.where(CE.c.step == step)
        with self._db.read() as conn:
            keys = list(conn.execute(query).scalars())
        return self.delete(project_id, keys) if keys else 0

    def latest_for_step(self, project_id: int, step: str) -> CacheEntry | None:
        """The newest entry of a step: what a cache miss is compared with to explain itself."""
        with self._db.read() as conn:
            row = conn.execute(
                select(CE)
                .where(CE.c.project_id == project_id, CE.c.step == step)
                .order_by(desc(CE.c.created_at))
                .limit(1)
            ).first()
        return None if row is None else _entry(row)

    def stats(self, project_id: int) -> list[tuple[str, int, int]]:
        """(step, entries, bytes) per step."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(CE.c.step, func.count(), func.coalesce(func.sum(CE.c.size_bytes), 0))
                .where(CE.c.project_id == project_id)
                .group_by(CE.c.step)
                .order_by(CE.c.step)
            ).all()
        return [(r[0], int(r[1]), int(r[2])) for r in rows]


__all__ = [
    "CacheEntry",
    "ChildRun",
    "PipelineRunInfo",
    "PipelineRunRepository",
    "Schedule",
    "ScheduleFire",
    "ScheduleRepository",
    "SchedulerInfo",
    "StepCacheRepository",
    "StepRunInfo",
    "StepStatus",
    "manifest_blobs",
]
