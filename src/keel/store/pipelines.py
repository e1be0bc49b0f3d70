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

from keel.exceptions import NotFoundError
from keel.store._db import SqlRepository, now_ms
from keel.store._pipeline_schedules import (
    Schedule,
    ScheduleFire,
    ScheduleRepository,
    SchedulerInfo,
)
from keel.store._rows import entity, records
from keel.store._validate import check_name
from keel.store.projects import project_label
from keel.store.runs import ChildRun, insert_finished_runs

# Driver-level SQL (the same text on SQLite and PostgreSQL, see ``Database.sql``): a cached
# re-run of a 200-step pipeline is a few hundred of these, and needs no SQLAlchemy at all.
_PR_FIELDS = (
    "id, project_id, pipeline, target, runner, status, params_json, started_at, ended_at, "
    "n_steps, n_cached, n_ran, n_failed, error"
).split(", ")
_PR_COLS = f"SELECT {', '.join(_PR_FIELDS)} FROM pipeline_runs"
_SR_COLS = (
    "SELECT node, step, status, cache_key, run_id, attempts, started_at, ended_at, "
    "duration_ms, reason, error FROM pipeline_step_runs"
)
_CE_COLS = (
    "SELECT key, step, parts_json, manifest_json, size_bytes, run_id, created_at "
    "FROM pipeline_cache_entries"
)
_UPSERT_STEP = (
    "INSERT INTO pipeline_step_runs (pipeline_run_id, node, step, status, cache_key, run_id, "
    "attempts, started_at, ended_at, duration_ms, reason, error) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (pipeline_run_id, node) DO UPDATE SET step = excluded.step, "
    "status = excluded.status, cache_key = excluded.cache_key, run_id = excluded.run_id, "
    "attempts = excluded.attempts, started_at = excluded.started_at, "
    "ended_at = excluded.ended_at, duration_ms = excluded.duration_ms, "
    "reason = excluded.reason, error = excluded.error"
)
_UPSERT_ENTRY = (
    "INSERT INTO pipeline_cache_entries (project_id, key, step, parts_json, manifest_json, "
    "size_bytes, run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (project_id, key) DO UPDATE SET step = excluded.step, "
    "parts_json = excluded.parts_json, manifest_json = excluded.manifest_json, "
    "size_bytes = excluded.size_bytes, run_id = excluded.run_id, "
    "created_at = excluded.created_at"
)


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

    def __repr__(self) -> str:
        return (
            f"PipelineRunInfo({self.pipeline!r}, id={self.id[:8]}…, {self.status}, {self.n_steps} "
            f"steps: {self.n_ran} ran, {self.n_cached} cached, {self.n_failed} failed)"
        )


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

    def __repr__(self) -> str:
        return f"StepRunInfo({self.node!r}, {self.status.value}, {self.duration_ms} ms)"


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


def _run(row: Mapping[str, Any]) -> PipelineRunInfo:
    return entity(PipelineRunInfo, row, params=json.loads(row["params_json"]))


def _step(row: Mapping[str, Any]) -> StepRunInfo:
    return entity(StepRunInfo, row, status=StepStatus(row["status"]))


class PipelineRunRepository(SqlRepository):
    """Record a pipeline run and the fate of each of its steps."""

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
        row = (
            run_id,
            project_id,
            check_name("pipeline", pipeline),
            target,
            runner,
            "RUNNING",
            json.dumps(dict(params), default=str, sort_keys=True),
            now_ms(),
            None,
            n_steps,
            0,
            0,
            0,
            "",
        )
        with self._db.cursor(write=True) as cur:
            cur.execute(
                self._db.sql(
                    f"INSERT INTO pipeline_runs ({', '.join(_PR_FIELDS)}) "
                    f"VALUES ({', '.join('?' * len(_PR_FIELDS))})"
                ),
                row,
            )
        return _run(dict(zip(_PR_FIELDS, row, strict=True)))

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
            (
                pipeline_run_id,
                s.node,
                s.step,
                s.status.value,
                s.cache_key,
                s.run_id,
                s.attempts,
                s.started_at,
                s.ended_at,
                s.duration_ms,
                s.reason[:4000],
                s.error[:20000],
            )
            for s in steps
        ]
        if not rows and not new_runs:
            return
        with self._db.cursor(write=True) as cur:
            insert_finished_runs(self._db, cur, new_runs)
            if rows:
                cur.executemany(self._db.sql(_UPSERT_STEP), rows)

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
        with self._db.cursor(write=True) as cur:
            cur.execute(
                self._db.sql(
                    "UPDATE pipeline_runs SET status = ?, ended_at = ?, n_cached = ?, n_ran = ?, "
                    "n_failed = ?, error = ? WHERE id = ?"
                ),
                (status, now_ms(), n_cached, n_ran, n_failed, error[:20000], run_id),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"pipeline run {run_id!r} does not exist")
            cur.execute(self._db.sql(f"{_PR_COLS} WHERE id = ?"), (run_id,))
            return _run(records(cur)[0])

    def get(self, run_id: str, *, project_id: int | None = None) -> PipelineRunInfo:
        """A run by id or unambiguous id prefix; with ``project_id``, a run of that project
        only (another project's does not exist here, and a prefix is matched in it alone)."""
        scope, args = ("", ()) if project_id is None else (" AND project_id = ?", (project_id,))
        with self._db.cursor(write=False) as cur:
            cur.execute(self._db.sql(f"{_PR_COLS} WHERE id = ?{scope}"), (run_id, *args))
            found = records(cur)
            if not found and 0 < len(run_id) < 32 and run_id.isalnum():  # a short id prefix
                # LOWER: SQLite's LIKE ignores case, PostgreSQL's does not (ids are lower hex)
                cur.execute(
                    self._db.sql(f"{_PR_COLS} WHERE LOWER(id) LIKE ?{scope} LIMIT 2"),
                    (run_id.lower() + "%", *args),
                )
                found = records(cur)
        if len(found) == 1:
            return _run(found[0])
        where = "" if project_id is None else f" in project {project_label(self._db, project_id)!r}"
        raise NotFoundError(  # none, or a prefix of two
            f"pipeline run {run_id!r} does not exist{where}; list them with `keel pipeline runs`"
        )

    def list(
        self, project_id: int, *, pipeline: str | None = None, limit: int = 50
    ) -> list[PipelineRunInfo]:
        where, args = "project_id = ?", builtins.list[Any]([project_id])
        if pipeline is not None:
            where, args = where + " AND pipeline = ?", [project_id, pipeline]
        with self._db.cursor(write=False) as cur:
            cur.execute(
                self._db.sql(f"{_PR_COLS} WHERE {where} ORDER BY started_at DESC, id DESC LIMIT ?"),
                (*args, int(limit)),
            )
            return [_run(r) for r in records(cur)]

    def steps(self, run_id: str) -> builtins.list[StepRunInfo]:
        with self._db.cursor(write=False) as cur:
            cur.execute(
                self._db.sql(f"{_SR_COLS} WHERE pipeline_run_id = ? ORDER BY id"), (run_id,)
            )
            return [_step(r) for r in records(cur)]


def _entry(row: Mapping[str, Any]) -> CacheEntry:
    manifest = json.loads(row["manifest_json"])
    return entity(
        CacheEntry,
        row,
        parts=json.loads(row["parts_json"]),
        manifest=manifest,
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


class StepCacheRepository(SqlRepository):
    """Cache entries per project: the key, what it was made of, and the output manifest."""

    def get(self, project_id: int, key: str) -> CacheEntry | None:
        with self._db.cursor(write=False) as cur:
            cur.execute(
                self._db.sql(f"{_CE_COLS} WHERE project_id = ? AND key = ?"), (project_id, key)
            )
            found = records(cur)
        return _entry(found[0]) if found else None

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
        entry = (
            project_id,
            key,
            step,
            json.dumps(dict(parts), sort_keys=True),
            json.dumps(dict(manifest), sort_keys=True),
            size_bytes,
            run_id,
            now_ms(),
        )
        blobs = [(project_id, key, sha) for sha in sorted(set(manifest_blobs(manifest)))]
        sql = self._db.sql
        with self._db.cursor(write=True) as cur:
            cur.execute(sql(_UPSERT_ENTRY), entry)
            cur.execute(
                sql("DELETE FROM pipeline_cache_blobs WHERE project_id = ? AND key = ?"),
                (project_id, key),
            )
            if blobs:
                cur.executemany(
                    sql(
                        "INSERT INTO pipeline_cache_blobs (project_id, key, blob_sha) "
                        "VALUES (?, ?, ?)"
                    ),
                    blobs,
                )

    def delete(self, project_id: int, keys: Iterable[str]) -> int:
        keys = list(keys)
        gone = 0
        sql = self._db.sql
        with self._db.cursor(write=True) as cur:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                for table in ("pipeline_cache_blobs", "pipeline_cache_entries"):
                    cur.execute(
                        sql(f"DELETE FROM {table} WHERE project_id = ? AND key IN ({marks})"),
                        (project_id, *chunk),
                    )
                gone += max(cur.rowcount, 0)
        return gone

    def clear(self, project_id: int, *, step: str | None = None) -> int:
        """Forget cached outputs (of one step, or all); blobs go at the next ``keel gc``."""
        where, args = "project_id = ?", builtins.list[Any]([project_id])
        if step is not None:
            where, args = where + " AND step = ?", [project_id, step]
        with self._db.cursor(write=False) as cur:
            cur.execute(self._db.sql(f"SELECT key FROM pipeline_cache_entries WHERE {where}"), args)
            keys = [r[0] for r in cur.fetchall()]
        return self.delete(project_id, keys) if keys else 0

    def latest_for_step(self, project_id: int, step: str) -> CacheEntry | None:
        """The newest entry of a step: what a cache miss is compared with to explain itself."""
        with self._db.cursor(write=False) as cur:
            cur.execute(
                self._db.sql(
                    f"{_CE_COLS} WHERE project_id = ? AND step = ? ORDER BY created_at DESC LIMIT 1"
                ),
                (project_id, step),
            )
            found = records(cur)
        return _entry(found[0]) if found else None

    def stats(self, project_id: int) -> list[tuple[str, int, int]]:
        """(step, entries, bytes) per step."""
        with self._db.cursor(write=False) as cur:
            cur.execute(
                self._db.sql(
                    "SELECT step, count(*), coalesce(sum(size_bytes), 0) "
                    "FROM pipeline_cache_entries WHERE project_id = ? GROUP BY step ORDER BY step"
                ),
                (project_id,),
            )
            return [(r[0], int(r[1]), int(r[2])) for r in cur.fetchall()]


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
