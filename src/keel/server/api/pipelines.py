"""``/api/v1`` for pipelines: pipeline runs and their steps, the step cache, schedules.

What ``keel pipeline run`` needs against a team server: the run and its step rows, the
runs of cached steps (``new_runs``, created in the same transaction as the step rows), and
the project's step cache. A cache entry is accepted only when every blob of its manifest
is on the server and the caller may reference it (the upload receipt of ``PUT
/api/v1/blobs``, as for registry packages). Ids of pipeline runs, schedules and fires are
checked against the caller's projects: another project's object does not exist for you.
The scheduler's own bookkeeping (heartbeats, expiring lost leases) is not served here: a
scheduler runs next to the database.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, Field, StringConstraints

from keel.exceptions import AlreadyExistsError, NotFoundError
from keel.server._auth import Guard, Principal, authenticated, reader, writer
from keel.server._receipts import check_reference
from keel.server._state import AppState, state
from keel.server._types import Id, Int64, Key, Loose, Millis, Name, Sha, Text
from keel.server.api._passthrough import Router
from keel.server.api.deployments import existing_project
from keel.store import RunStatus
from keel.store.pipelines import (
    ChildRun,
    PipelineRunInfo,
    Schedule,
    SchedulerInfo,
    StepRunInfo,
    StepStatus,
    manifest_blobs,
)
from keel.store.wire import Empty, envelope

router = Router(prefix="/api/v1", tags=["pipelines"])
PROJECT = "/projects/{project_id}"
RUN = "/pipeline-runs/{run_id}"
CACHE = f"{PROJECT}/step-cache"
SCHEDULES = f"{PROJECT}/schedules"
SCHEDULE = "/schedules/{schedule_id}"
FIRE = "/schedule-fires/{fire_id}"

#: The widths of the pipeline tables' string columns, so PostgreSQL never sees a longer value.
Str16 = Annotated[str, StringConstraints(max_length=16)]
Str32 = Annotated[str, StringConstraints(max_length=32)]
Str255 = Annotated[str, StringConstraints(max_length=255)]
Str512 = Annotated[str, StringConstraints(max_length=512)]
RunRef = Annotated[str, StringConstraints(min_length=1, max_length=32)]
CacheKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]


class StartIn(BaseModel):
    run_id: RunRef
    pipeline: Loose
    target: Loose = ""
    runner: Str32 = ""
    params: dict[Loose, Any] = {}
    n_steps: Count = 0


class StepIn(BaseModel):
    node: Name
    step: Name
    status: StepStatus
    cache_key: Annotated[str, StringConstraints(max_length=64)] = ""
    run_id: RunRef | None = None
    attempts: Count = 0
    started_at: Millis = 0
    ended_at: Millis | None = None
    duration_ms: Int64 = 0
    reason: Loose = ""
    error: Loose = ""


class ChildRunIn(BaseModel):
    """A step run created in bulk (``keel.store.runs.ChildRun``); no end while it runs."""

    id: RunRef
    experiment_id: Id
    parent_id: RunRef
    name: Loose
    status: RunStatus
    start_time: Millis
    end_time: Millis | None = None
    user: Str255 = ""
    tags: dict[Key, Loose] = {}


class StepsIn(BaseModel):
    steps: list[StepIn] = Field(default=[], max_length=100_000)
    new_runs: list[ChildRunIn] = Field(default=[], max_length=100_000)


class FinishIn(BaseModel):
    status: Str16
    n_cached: Count = 0
    n_ran: Count = 0
    n_failed: Count = 0
    error: Loose = ""


class EntryIn(BaseModel):
    """A step-cache entry, with the upload receipts of the blobs its manifest names."""

    key: CacheKey
    step: Name
    parts: dict[Loose, Any]
    manifest: dict[Loose, Any]
    size_bytes: Int64 = 0
    run_id: RunRef | None = None
    receipts: dict[Sha, Text] = {}


class KeysIn(BaseModel):
    keys: list[CacheKey] = Field(max_length=100_000)


class ClearIn(BaseModel):
    step: Loose | None = None


class ScheduleIn(BaseModel):
    name: Loose
    target: Loose
    params: dict[Loose, Any] = {}
    runner: dict[Loose, Any] = {}
    cron: Str255 | None = None
    trigger_kind: Str32 | None = None
    trigger_ref: Str512 | None = None
    trigger_baseline: Loose = ""
    catch_up: Str16 = "latest"


class EnabledIn(BaseModel):
    name: Loose
    enabled: bool


class ClaimIn(BaseModel):
    occurrence: Name
    due_at: Millis
    claimed_by: Name
    lease_ms: Millis


class FirePatch(BaseModel):
    status: Str16 | None = None
    pipeline_run_id: RunRef | None = None
    lease_expires_at: Millis | None = None
    error: Loose | None = None
    ended: bool = False


def _run_of_project(st: AppState, run_id: str, pid: int, what: str) -> None:
    if st.project_of_run(run_id) != pid:
        raise NotFoundError(f"{what} {run_id!r} is not in this project")


# -- pipeline runs -------------------------------------------------------------------------
@router.post(f"{PROJECT}/pipeline-runs")
def start_run(project_id: Id, body: StartIn, guard: Guard = Depends(writer)) -> PipelineRunInfo:
    existing_project(guard, project_id)
    try:
        guard.st.store.ownership.project_of("pipeline_run", body.run_id)
    except NotFoundError:
        pass  # the id is free
    else:
        raise AlreadyExistsError(f"pipeline run {body.run_id!r} already exists; start a new run")
    fields = body.model_dump(exclude={"run_id"})
    return guard.st.store.pipeline_runs.start(body.run_id, project_id=project_id, **fields)


router.serve(reader, "pipeline_runs.list", "list_runs", limit=Count)


@router.get(RUN)
def get_run(
    run_id: RunRef, project_id: Id | None = None, guard: Guard = Depends(reader)
) -> PipelineRunInfo:
    """One pipeline run by id or unambiguous id prefix (of ``project_id``'s runs, if given)."""
    info = guard.st.store.pipeline_runs.get(run_id, project_id=project_id)
    guard.project_id(info.project_id, f"pipeline run {run_id!r}")
    return info


@router.get(f"{RUN}/steps", response_model=envelope("steps", list[StepRunInfo]))
def list_steps(run_id: RunRef, guard: Guard = Depends(reader)) -> dict[str, Any]:
    try:
        guard.pipeline_run(run_id)
    except NotFoundError:
        if guard.who.is_admin:  # like the SQL store: an unknown run has no steps
            return {"steps": []}
        raise
    return {"steps": guard.st.store.pipeline_runs.steps(run_id)}


@router.post(f"{RUN}/steps")
def record_steps(run_id: RunRef, body: StepsIn, guard: Guard = Depends(writer)) -> Empty:
    """Step rows, and the runs of cached steps: those must be children of a run of the
    same project (normally the pipeline's own tracking run), in an experiment of it."""
    pid = guard.pipeline_run(run_id)
    st = guard.st
    for child in body.new_runs:
        if st.project_of_experiment(child.experiment_id) != pid:
            raise NotFoundError(
                f"experiment id {child.experiment_id} of step run {child.name!r} is not in "
                f"the project of pipeline run {run_id!r}"
            )
        if st.project_of_run(child.parent_id) != pid:
            raise NotFoundError(
                f"parent run {child.parent_id!r} of step run {child.name!r} is not in the "
                f"project of pipeline run {run_id!r}"
            )
    made = {c.id for c in body.new_runs}
    for rid in dict.fromkeys(s.run_id for s in body.steps if s.run_id and s.run_id not in made):
        _run_of_project(st, rid, pid, "step run id")
    new_runs = [ChildRun(**{**c.model_dump(), "status": c.status.value}) for c in body.new_runs]
    steps = [StepRunInfo(**s.model_dump()) for s in body.steps]
    st.store.pipeline_runs.record_steps(run_id, steps, new_runs=new_runs)
    return Empty()


router.serve(
    writer,
    "pipeline_runs.finish",
    "finish_run",
    body=FinishIn,
    owner=Guard.pipeline_run,
    run_id=RunRef,
)


# -- the step cache ------------------------------------------------------------------------
router.serve(reader, "step_cache.get", "get_entry", key=CacheKey)


@router.put(CACHE)
def put_entry(project_id: Id, body: EntryIn, guard: Guard = Depends(writer)) -> Empty:
    """Record an entry whose blobs this caller uploaded (or may read) and the server has."""
    existing_project(guard, project_id)
    st = guard.st
    for sha in sorted(set(manifest_blobs(body.manifest))):
        check_reference(st, guard.who, sha, body.receipts.get(sha))
        if not st.store.blobs.exists(sha):
            raise NotFoundError(
                f"blob {sha} of step {body.step!r} is not on the server; upload it first"
            )
    if body.run_id is not None:
        _run_of_project(st, body.run_id, project_id, "run id")
    st.store.step_cache.put(project_id, **body.model_dump(exclude={"receipts"}))
    return Empty()


@router.post(f"{CACHE}/delete", response_model=envelope("deleted", int))
def delete_entries(project_id: Id, body: KeysIn, guard: Guard = Depends(writer)) -> dict[str, Any]:
    return {"deleted": guard.st.store.step_cache.delete(project_id, body.keys)}


router.serve(writer, "step_cache.clear", "clear_cache", body=ClearIn)
router.serve(reader, "step_cache.latest_for_step", "latest_entry")
router.serve(
    reader,
    "step_cache.stats",
    "cache_stats",
    doc="(step, entries, bytes) of each step with cached outputs.",
)


# -- schedules -----------------------------------------------------------------------------
@router.post(SCHEDULES)
def add_schedule(project_id: Id, body: ScheduleIn, guard: Guard = Depends(writer)) -> Schedule:
    existing_project(guard, project_id)
    return guard.st.store.schedules.add(project_id, **body.model_dump())


@router.get(SCHEDULES, response_model=envelope("schedules", list[Schedule]))
def list_schedules(
    project_id: Id, enabled_only: bool = False, guard: Guard = Depends(reader)
) -> dict[str, Any]:
    return {"schedules": guard.st.store.schedules.list(project_id, enabled_only=enabled_only)}


@router.get("/schedules", response_model=envelope("schedules", list[Schedule]))
def list_visible_schedules(
    enabled_only: bool = False,
    who: Principal = Depends(authenticated),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    """The schedules of every project the caller can see."""
    found = st.store.schedules.list(None, enabled_only=enabled_only)
    return {"schedules": [s for s in found if who.role_in(s.project_id) is not None]}


router.serve(reader, "schedules.get", "get_schedule")
router.serve(writer, "schedules.remove", "remove_schedule")
router.serve(writer, "schedules.set_enabled", body=EnabledIn)
router.serve(reader, "schedules.get_by_id", "get_schedule_by_id", owner=Guard.schedule)


# -- fired occurrences ---------------------------------------------------------------------
router.serve(
    writer,
    "schedules.claim",
    body=ClaimIn,
    owner=Guard.schedule,
    doc="Take an occurrence (one insert of a unique row, so racing claimers get one winner).",
)
router.serve(reader, "schedules.fires", "list_fires", owner=Guard.schedule, limit=Count)
router.serve(reader, "schedules.last_due", owner=Guard.schedule)
router.serve(reader, "schedules.has_occurrence", owner=Guard.schedule)
router.serve(reader, "schedules.get_fire", owner=Guard.schedule_fire)
router.serve(writer, "schedules.update_fire", body=FirePatch, owner=Guard.schedule_fire)


@router.get("/schedulers", response_model=envelope("schedulers", list[SchedulerInfo]))
def schedulers(
    alive_within_ms: Millis = 60_000,
    who: Principal = Depends(authenticated),
    st: AppState = Depends(state),
) -> dict[str, Any]:
    """The live scheduler processes (what ``keel schedule status`` shows)."""
    return {"schedulers": st.store.schedules.schedulers(alive_within_ms=alive_within_ms)}
