"""Pipeline entities to JSON and back: the wire format of the pipelines part of ``/api/v1``.

Shared by the server's router and the remote repositories, like :mod:`keel.store.remote.codec`.
Manifests, cache-key parts and parameters are JSON already (the SQL store keeps them as
JSON text), so they travel as they are.
"""

from __future__ import annotations

from typing import Any

from keel.store.pipelines import (
    CacheEntry,
    ChildRun,
    PipelineRunInfo,
    Schedule,
    ScheduleFire,
    SchedulerInfo,
    StepRunInfo,
    StepStatus,
    manifest_blobs,
)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def pipeline_run(r: PipelineRunInfo) -> dict[str, Any]:
    return {
        "id": r.id,
        "project_id": r.project_id,
        "pipeline": r.pipeline,
        "target": r.target,
        "runner": r.runner,
        "status": r.status,
        "params": r.params,
        "started_at": r.started_at,
        "ended_at": r.ended_at,
        "n_steps": r.n_steps,
        "n_cached": r.n_cached,
        "n_ran": r.n_ran,
        "n_failed": r.n_failed,
        "error": r.error,
    }


def to_pipeline_run(d: dict[str, Any]) -> PipelineRunInfo:
    return PipelineRunInfo(
        id=d["id"],
        project_id=int(d["project_id"]),
        pipeline=d["pipeline"],
        target=d["target"],
        runner=d["runner"],
        status=d["status"],
        params=dict(d.get("params") or {}),
        started_at=int(d["started_at"]),
        ended_at=_opt_int(d.get("ended_at")),
        n_steps=int(d["n_steps"]),
        n_cached=int(d["n_cached"]),
        n_ran=int(d["n_ran"]),
        n_failed=int(d["n_failed"]),
        error=d.get("error") or "",
    )


def step_run(s: StepRunInfo) -> dict[str, Any]:
    return {
        "node": s.node,
        "step": s.step,
        "status": s.status.value,
        "cache_key": s.cache_key,
        "run_id": s.run_id,
        "attempts": s.attempts,
        "started_at": s.started_at,
        "ended_at": s.ended_at,
        "duration_ms": s.duration_ms,
        "reason": s.reason,
        "error": s.error,
    }


def to_step_run(d: dict[str, Any]) -> StepRunInfo:
    return StepRunInfo(
        node=d["node"],
        step=d["step"],
        status=StepStatus(d["status"]),
        cache_key=d.get("cache_key") or "",
        run_id=d.get("run_id"),
        attempts=int(d.get("attempts") or 0),
        started_at=int(d.get("started_at") or 0),
        ended_at=_opt_int(d.get("ended_at")),
        duration_ms=int(d.get("duration_ms") or 0),
        reason=d.get("reason") or "",
        error=d.get("error") or "",
    )


def child_run(c: ChildRun) -> dict[str, Any]:
    return {
        "id": c.id,
        "experiment_id": c.experiment_id,
        "parent_id": c.parent_id,
        "name": c.name,
        "status": c.status,
        "start_time": c.start_time,
        "end_time": c.end_time,
        "user": c.user,
        "tags": dict(c.tags),
    }


def to_child_run(d: dict[str, Any]) -> ChildRun:
    return ChildRun(
        id=d["id"],
        experiment_id=int(d["experiment_id"]),
        parent_id=d["parent_id"],
        name=d["name"],
        status=d["status"],
        start_time=int(d["start_time"]),
        end_time=int(d["end_time"]),
        user=d.get("user") or "",
        tags=dict(d.get("tags") or {}),
    )


def cache_entry(e: CacheEntry) -> dict[str, Any]:
    return {
        "key": e.key,
        "step": e.step,
        "parts": e.parts,
        "manifest": e.manifest,
        "size_bytes": e.size_bytes,
        "run_id": e.run_id,
        "created_at": e.created_at,
    }


def to_cache_entry(d: dict[str, Any]) -> CacheEntry:
    manifest = dict(d["manifest"])
    return CacheEntry(
        key=d["key"],
        step=d["step"],
        parts=dict(d["parts"]),
        manifest=manifest,
        size_bytes=int(d["size_bytes"]),
        run_id=d.get("run_id"),
        created_at=int(d["created_at"]),
        blob_shas=tuple(manifest_blobs(manifest)),
    )


def schedule(s: Schedule) -> dict[str, Any]:
    return {
        "id": s.id,
        "project_id": s.project_id,
        "name": s.name,
        "target": s.target,
        "params": s.params,
        "runner": s.runner,
        "cron": s.cron,
        "trigger_kind": s.trigger_kind,
        "trigger_ref": s.trigger_ref,
        "trigger_baseline": s.trigger_baseline,
        "catch_up": s.catch_up,
        "enabled": s.enabled,
        "created_at": s.created_at,
    }


def to_schedule(d: dict[str, Any]) -> Schedule:
    return Schedule(
        id=int(d["id"]),
        project_id=int(d["project_id"]),
        name=d["name"],
        target=d["target"],
        params=dict(d.get("params") or {}),
        runner=dict(d.get("runner") or {}),
        cron=d.get("cron"),
        trigger_kind=d.get("trigger_kind"),
        trigger_ref=d.get("trigger_ref"),
        trigger_baseline=d.get("trigger_baseline") or "",
        catch_up=d["catch_up"],
        enabled=bool(d["enabled"]),
        created_at=int(d["created_at"]),
    )


def schedule_fire(f: ScheduleFire) -> dict[str, Any]:
    return {
        "id": f.id,
        "schedule_id": f.schedule_id,
        "occurrence": f.occurrence,
        "due_at": f.due_at,
        "claimed_by": f.claimed_by,
        "claimed_at": f.claimed_at,
        "lease_expires_at": f.lease_expires_at,
        "status": f.status,
        "pipeline_run_id": f.pipeline_run_id,
        "ended_at": f.ended_at,
        "error": f.error,
    }


def to_schedule_fire(d: dict[str, Any]) -> ScheduleFire:
    return ScheduleFire(
        id=int(d["id"]),
        schedule_id=int(d["schedule_id"]),
        occurrence=d["occurrence"],
        due_at=int(d["due_at"]),
        claimed_by=d["claimed_by"],
        claimed_at=int(d["claimed_at"]),
        lease_expires_at=int(d["lease_expires_at"]),
        status=d["status"],
        pipeline_run_id=d.get("pipeline_run_id"),
        ended_at=_opt_int(d.get("ended_at")),
        error=d.get("error") or "",
    )


def scheduler_info(s: SchedulerInfo) -> dict[str, Any]:
    return {
        "id": s.id,
        "host": s.host,
        "pid": s.pid,
        "started_at": s.started_at,
        "heartbeat_at": s.heartbeat_at,
    }


def to_scheduler_info(d: dict[str, Any]) -> SchedulerInfo:
    return SchedulerInfo(
        d["id"], d["host"], int(d["pid"]), int(d["started_at"]), int(d["heartbeat_at"])
    )


__all__ = [
    "cache_entry",
    "child_run",
    "pipeline_run",
    "schedule",
    "schedule_fire",
    "scheduler_info",
    "step_run",
    "to_cache_entry",
    "to_child_run",
    "to_pipeline_run",
    "to_schedule",
    "to_schedule_fire",
    "to_scheduler_info",
    "to_step_run",
]
