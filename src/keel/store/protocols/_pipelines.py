"""Pipeline runs, the step cache and schedules.

Part of :mod:`keel.store.protocols` (import them from there)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from keel.store.pipelines import (
        CacheEntry,
        ChildRun,
        PipelineRunInfo,
        Schedule,
        ScheduleFire,
        SchedulerInfo,
        StepRunInfo,
    )

    pass


class PipelineRuns(Protocol):
    """A pipeline run and the fate of each of its steps."""

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
    ) -> PipelineRunInfo: ...
    def record_steps(
        self,
        pipeline_run_id: str,
        steps: Sequence[StepRunInfo],
        *,
        new_runs: Sequence[ChildRun] = (),
    ) -> None: ...
    def finish(
        self,
        run_id: str,
        *,
        status: str,
        n_cached: int,
        n_ran: int,
        n_failed: int,
        error: str = "",
    ) -> PipelineRunInfo: ...
    def get(self, run_id: str, *, project_id: int | None = None) -> PipelineRunInfo: ...
    def list(
        self, project_id: int, *, pipeline: str | None = None, limit: int = 50
    ) -> list[PipelineRunInfo]: ...
    def steps(self, run_id: str) -> builtins.list[StepRunInfo]: ...


class StepCache(Protocol):
    """Step-cache entries per project: the key, its parts and the output manifest."""

    def get(self, project_id: int, key: str) -> CacheEntry | None: ...
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
    ) -> None: ...
    def delete(self, project_id: int, keys: Iterable[str]) -> int: ...
    def clear(self, project_id: int, *, step: str | None = None) -> int: ...
    def latest_for_step(self, project_id: int, step: str) -> CacheEntry | None: ...
    def stats(self, project_id: int) -> list[tuple[str, int, int]]: ...


class Schedules(Protocol):
    """Schedules, the occurrences schedulers claimed, and the schedulers' heartbeats."""

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
    ) -> Schedule: ...
    def get(self, project_id: int, name: str) -> Schedule: ...
    def get_by_id(self, schedule_id: int) -> Schedule: ...
    def list(
        self, project_id: int | None = None, *, enabled_only: bool = False
    ) -> list[Schedule]: ...
    def remove(self, project_id: int, name: str) -> None: ...
    def set_enabled(self, project_id: int, name: str, enabled: bool) -> Schedule: ...
    def claim(
        self, schedule_id: int, occurrence: str, *, due_at: int, claimed_by: str, lease_ms: int
    ) -> ScheduleFire | None: ...
    def get_fire(self, fire_id: int) -> ScheduleFire: ...
    def update_fire(
        self,
        fire_id: int,
        *,
        status: str | None = None,
        pipeline_run_id: str | None = None,
        lease_expires_at: int | None = None,
        error: str | None = None,
        ended: bool = False,
    ) -> None: ...
    def fires(self, schedule_id: int, *, limit: int = 50) -> builtins.list[ScheduleFire]: ...
    def last_due(self, schedule_id: int) -> int | None: ...
    def has_occurrence(self, schedule_id: int, occurrence: str) -> bool: ...
    def expire_lost(self, now: int) -> int: ...
    def heartbeat(self, scheduler_id: str, *, host: str, pid: int, started_at: int) -> None: ...
    def schedulers(self, *, alive_within_ms: int = 60_000) -> builtins.list[SchedulerInfo]: ...
    def leave(self, scheduler_id: str) -> None: ...
