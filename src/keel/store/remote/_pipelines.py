"""Pipeline runs, the step cache and schedules over HTTP: their protocols, one request each.

Recording a cache entry quotes the upload receipts
of the blobs its manifest names (see ``PUT /api/v1/blobs``). A scheduler's own bookkeeping
(heartbeats, expiring lost leases, leaving) is refused: the scheduler runs next to the
database, so that its leases live in the database's transactions.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from keel.exceptions import ConfigError
from keel.store.pipelines import (
    CacheEntry,
    ChildRun,
    PipelineRunInfo,
    Schedule,
    ScheduleFire,
    SchedulerInfo,
    StepRunInfo,
    manifest_blobs,
)
from keel.store.remote._http import Http
from keel.store.wire import load

V1 = "/api/v1"


def _project(project_id: int, tail: str) -> str:
    return f"{V1}/projects/{int(project_id)}{tail}"


def _run_path(run_id: str, tail: str = "") -> str:
    from urllib.parse import quote

    return f"{V1}/pipeline-runs/{quote(run_id, safe='')}{tail}"


class RemotePipelineRunRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

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
        body = {
            "run_id": run_id,
            "pipeline": pipeline,
            "target": target,
            "runner": runner,
            "params": dict(params),
            "n_steps": n_steps,
        }
        return load(PipelineRunInfo, self._http.post(_project(project_id, "/pipeline-runs"), body))

    def record_steps(
        self,
        pipeline_run_id: str,
        steps: Sequence[StepRunInfo],
        *,
        new_runs: Sequence[ChildRun] = (),
    ) -> None:
        if not steps and not new_runs:
            return
        body = {
            "steps": list(steps),
            "new_runs": list(new_runs),
        }
        self._http.post(_run_path(pipeline_run_id, "/steps"), body)

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
        body = {
            "status": status,
            "n_cached": n_cached,
            "n_ran": n_ran,
            "n_failed": n_failed,
            "error": error,
        }
        return load(PipelineRunInfo, self._http.post(_run_path(run_id, "/finish"), body))

    def get(self, run_id: str) -> PipelineRunInfo:
        return load(PipelineRunInfo, self._http.get(_run_path(run_id)))

    def list(
        self, project_id: int, *, pipeline: str | None = None, limit: int = 50
    ) -> builtins.list[PipelineRunInfo]:
        data = self._http.get(
            _project(project_id, "/pipeline-runs"), pipeline=pipeline, limit=limit
        )
        return load(list[PipelineRunInfo], data["runs"])

    def steps(self, run_id: str) -> builtins.list[StepRunInfo]:
        data = self._http.get(_run_path(run_id, "/steps"))
        return load(list[StepRunInfo], data["steps"])


class RemoteStepCacheRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    @staticmethod
    def _entry(data: dict[str, Any]) -> CacheEntry | None:
        found = data.get("entry")
        return None if found is None else load(CacheEntry, found)

    def get(self, project_id: int, key: str) -> CacheEntry | None:
        return self._entry(self._http.get(_project(project_id, "/step-cache"), key=key))

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
        receipts = {sha: self._http.receipt(sha) for sha in manifest_blobs(manifest)}
        body = {
            "key": key,
            "step": step,
            "parts": dict(parts),
            "manifest": dict(manifest),
            "size_bytes": size_bytes,
            "run_id": run_id,
            "receipts": {sha: r for sha, r in receipts.items() if r is not None},
        }
        self._http.put(_project(project_id, "/step-cache"), body)

    def delete(self, project_id: int, keys: Iterable[str]) -> int:
        keys = builtins.list(keys)
        if not keys:
            return 0
        data = self._http.post(_project(project_id, "/step-cache/delete"), {"keys": keys})
        return int(data["deleted"])

    def clear(self, project_id: int, *, step: str | None = None) -> int:
        data = self._http.post(_project(project_id, "/step-cache/clear"), {"step": step})
        return int(data["deleted"])

    def latest_for_step(self, project_id: int, step: str) -> CacheEntry | None:
        return self._entry(self._http.get(_project(project_id, "/step-cache/latest"), step=step))

    def stats(self, project_id: int) -> builtins.list[tuple[str, int, int]]:
        data = self._http.get(_project(project_id, "/step-cache/stats"))
        return load(builtins.list[tuple[str, int, int]], data["steps"])


def _scheduler_side(what: str) -> ConfigError:
    return ConfigError(
        f"{what} is the scheduler's own bookkeeping and is not served through KEEL_SERVER_URL; "
        "run `keel scheduler` where the server's database is (without KEEL_SERVER_URL)"
    )


class RemoteScheduleRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    @staticmethod
    def _schedule_path(schedule_id: int, tail: str = "") -> str:
        return f"{V1}/schedules/{int(schedule_id)}{tail}"

    @staticmethod
    def _fire_path(fire_id: int) -> str:
        return f"{V1}/schedule-fires/{int(fire_id)}"

    def add(
        self,
        project_id: int,
        name: str,
        *,
        target: str,
        params: Mapping[str, Any],
        runner: Mapping[str, Any],
        cron: str | None,
        trigger_kind: str | None,
        trigger_ref: str | None,
        trigger_baseline: str,
        catch_up: str,
    ) -> Schedule:
        body = {
            "name": name,
            "target": target,
            "params": dict(params),
            "runner": dict(runner),
            "cron": cron,
            "trigger_kind": trigger_kind,
            "trigger_ref": trigger_ref,
            "trigger_baseline": trigger_baseline,
            "catch_up": catch_up,
        }
        return load(Schedule, self._http.post(_project(project_id, "/schedules"), body))

    def get(self, project_id: int, name: str) -> Schedule:
        data = self._http.get(_project(project_id, "/schedules/lookup"), name=name)
        return load(Schedule, data)

    def get_by_id(self, schedule_id: int) -> Schedule:
        return load(Schedule, self._http.get(self._schedule_path(schedule_id)))

    def list(self, project_id: int | None = None, *, enabled_only: bool = False) -> list[Schedule]:
        """Schedules of one project, or of every project this caller can see."""
        path = f"{V1}/schedules" if project_id is None else _project(project_id, "/schedules")
        data = self._http.get(path, enabled_only=enabled_only)
        return load(list[Schedule], data["schedules"])

    def remove(self, project_id: int, name: str) -> None:
        self._http.delete(_project(project_id, "/schedules"), name=name)

    def set_enabled(self, project_id: int, name: str, enabled: bool) -> Schedule:
        body = {"name": name, "enabled": enabled}
        return load(Schedule, self._http.post(_project(project_id, "/schedules/enabled"), body))

    # -- occurrences -----------------------------------------------------------------------
    def claim(
        self, schedule_id: int, occurrence: str, *, due_at: int, claimed_by: str, lease_ms: int
    ) -> ScheduleFire | None:
        body = {
            "occurrence": occurrence,
            "due_at": due_at,
            "claimed_by": claimed_by,
            "lease_ms": lease_ms,
        }
        found = self._http.post(self._schedule_path(schedule_id, "/claim"), body)["fire"]
        return None if found is None else load(ScheduleFire, found)

    def get_fire(self, fire_id: int) -> ScheduleFire:
        return load(ScheduleFire, self._http.get(self._fire_path(fire_id)))

    def update_fire(
        self,
        fire_id: int,
        *,
        status: str | None = None,
        pipeline_run_id: str | None = None,
        lease_expires_at: int | None = None,
        error: str | None = None,
        ended: bool = False,
    ) -> None:
        body = {
            "status": status,
            "pipeline_run_id": pipeline_run_id,
            "lease_expires_at": lease_expires_at,
            "error": error,
            "ended": ended,
        }
        self._http.patch(self._fire_path(fire_id), body)

    def fires(self, schedule_id: int, *, limit: int = 50) -> builtins.list[ScheduleFire]:
        data = self._http.get(self._schedule_path(schedule_id, "/fires"), limit=limit)
        return load(list[ScheduleFire], data["fires"])

    def last_due(self, schedule_id: int) -> int | None:
        value = self._http.get(self._schedule_path(schedule_id, "/last-due"))["due_at"]
        return None if value is None else int(value)

    def has_occurrence(self, schedule_id: int, occurrence: str) -> bool:
        path = self._schedule_path(schedule_id, "/occurrence")
        return bool(self._http.get(path, occurrence=occurrence)["exists"])

    def expire_lost(self, now: int) -> int:
        raise _scheduler_side("expiring lost schedule fires")

    # -- schedulers ------------------------------------------------------------------------
    def heartbeat(self, scheduler_id: str, *, host: str, pid: int, started_at: int) -> None:
        raise _scheduler_side("a scheduler heartbeat")

    def schedulers(self, *, alive_within_ms: int = 60_000) -> builtins.list[SchedulerInfo]:
        data = self._http.get(f"{V1}/schedulers", alive_within_ms=alive_within_ms)
        return load(list[SchedulerInfo], data["schedulers"])

    def leave(self, scheduler_id: str) -> None:
        raise _scheduler_side("a scheduler leaving")


__all__ = ["RemotePipelineRunRepository", "RemoteScheduleRepository", "RemoteStepCacheRepository"]
