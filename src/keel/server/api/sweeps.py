"""``/api/v1/projects/{id}/sweeps`` and ``.../trials``: sweeps and their trials over HTTP.

Readers see sweeps and trials; writers create sweeps, add, claim and record trials (every
worker of a distributed sweep is a writer). Sweeps and trials are addressed inside their
project, and the repository refuses an id of another project as not found.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from keel.server._auth import Guard, reader, writer
from keel.server._types import Id, Loose, Name, RunId
from keel.server.api.deployments import existing_project, finite_json
from keel.store.sweeps import Sweep, Trial, TrialPatch, TrialPoint, TrialState
from keel.store.wire import Empty, envelope

router = APIRouter(prefix="/api/v1", tags=["sweeps"])
SWEEPS = "/projects/{project_id}/sweeps"
SWEEP = f"{SWEEPS}/{{sweep_id}}"
TRIAL = "/projects/{project_id}/trials/{trial_id}"
Generation = Annotated[int, Field(ge=1, le=2**31 - 1)]


class SweepIn(BaseModel):
    name: Name
    directions: list[Loose] = Field(max_length=16)
    spec: dict[str, Any] | None = None
    fingerprint: Annotated[str, Field(max_length=128)] = ""
    run_id: RunId | None = None


class SweepUpdateIn(BaseModel):
    status: Loose | None = None
    reason: Loose | None = None
    run_id: RunId | None = None
    user_attrs: dict[str, Any] | None = None
    system_attrs: dict[str, Any] | None = None


class StaleIn(BaseModel):
    reason: Loose


class TrialQueryIn(BaseModel):
    states: list[TrialState] | None = None
    after_id: Annotated[int, Field(ge=-1, le=2**31 - 1)] = -1
    ids: list[Id] = Field(default=[], max_length=100_000)


class TrialPickIn(BaseModel):
    ids: list[Id] = Field(default=[], max_length=5000)


class Claimed(BaseModel):
    claimed: bool


@router.get(SWEEPS, response_model=envelope("sweeps", list[Sweep]))
def list_sweeps(
    project_id: Id, name: Name | None = None, guard: Guard = Depends(reader)
) -> dict[str, Any]:
    return {"sweeps": guard.st.store.sweeps.list(project_id, name=name)}


@router.get(f"{SWEEPS}/counts", response_model=envelope("counts", dict[int, dict[str, int]]))
def sweep_counts(project_id: Id, guard: Guard = Depends(reader)) -> dict[str, Any]:
    """Trials by state of every sweep of the project."""
    return {"counts": guard.st.store.sweeps.counts(project_id)}


@router.get(f"{SWEEP}/outline", response_model=envelope("trials", list[TrialPoint]))
def trial_outline(project_id: Id, sweep_id: Id, guard: Guard = Depends(reader)) -> dict[str, Any]:
    """Every trial of the sweep as id, number, state and first value."""
    return {"trials": guard.st.store.sweeps.outline(project_id, sweep_id)}


@router.post(f"{SWEEP}/trials/pick", response_model=envelope("trials", list[Trial]))
def pick_trials(
    project_id: Id, sweep_id: Id, body: TrialPickIn, guard: Guard = Depends(reader)
) -> dict[str, Any]:
    """The sweep's trials with the given ids, by number."""
    return {"trials": guard.st.store.sweeps.pick(project_id, sweep_id, body.ids)}


@router.post(SWEEPS)
def create_sweep(project_id: Id, body: SweepIn, guard: Guard = Depends(writer)) -> Sweep:
    """The next generation of sweep ``body.name``."""
    existing_project(guard, project_id)
    finite_json(body.spec or {}, "a sweep spec")
    return guard.st.store.sweeps.create(
        project_id,
        body.name,
        directions=body.directions,
        spec=body.spec,
        fingerprint=body.fingerprint,
        run_id=body.run_id,
    )


@router.get(f"{SWEEPS}/lookup")
def get_sweep(
    project_id: Id,
    name: Name,
    generation: Generation | None = None,
    guard: Guard = Depends(reader),
) -> Sweep:
    return guard.st.store.sweeps.get(project_id, name, generation=generation)


@router.get(f"{SWEEPS}/find", response_model=envelope("sweep", Sweep | None))
def find_sweep(project_id: Id, name: Name, guard: Guard = Depends(reader)) -> dict[str, Any]:
    return {"sweep": guard.st.store.sweeps.find(project_id, name)}


@router.get(SWEEP)
def get_sweep_by_id(project_id: Id, sweep_id: Id, guard: Guard = Depends(reader)) -> Sweep:
    return guard.st.store.sweeps.get_by_id(project_id, sweep_id)


@router.patch(SWEEP)
def update_sweep(
    project_id: Id, sweep_id: Id, body: SweepUpdateIn, guard: Guard = Depends(writer)
) -> Sweep:
    for attrs in (body.user_attrs, body.system_attrs):
        if attrs is not None:
            finite_json(attrs, "sweep attributes")
    return guard.st.store.sweeps.update(project_id, sweep_id, **body.model_dump())


@router.post(f"{SWEEP}/stale")
def mark_sweep_stale(
    project_id: Id, sweep_id: Id, body: StaleIn, guard: Guard = Depends(writer)
) -> Sweep:
    return guard.st.store.sweeps.mark_stale(project_id, sweep_id, reason=body.reason)


@router.delete(SWEEP)
def delete_sweep(project_id: Id, sweep_id: Id, guard: Guard = Depends(writer)) -> Empty:
    guard.st.store.sweeps.delete(project_id, sweep_id)
    return Empty()


@router.post(f"{SWEEP}/trials")
def add_trial(
    project_id: Id, sweep_id: Id, body: TrialPatch | None = None, guard: Guard = Depends(writer)
) -> Trial:
    """A new trial with the sweep's next number."""
    return guard.st.store.sweeps.add_trial(project_id, sweep_id, body)


@router.post(f"{SWEEP}/trials/search", response_model=envelope("trials", list[Trial]))
def search_trials(
    project_id: Id, sweep_id: Id, body: TrialQueryIn, guard: Guard = Depends(reader)
) -> dict[str, Any]:
    """The sweep's trials newer than ``after_id`` plus those in ``ids``, by number."""
    found = guard.st.store.sweeps.trials(
        project_id, sweep_id, states=body.states, after_id=body.after_id, ids=body.ids
    )
    return {"trials": found}


@router.get(TRIAL)
def get_trial(project_id: Id, trial_id: Id, guard: Guard = Depends(reader)) -> Trial:
    return guard.st.store.sweeps.get_trial(project_id, trial_id)


@router.patch(TRIAL)
def update_trial(
    project_id: Id, trial_id: Id, body: TrialPatch, guard: Guard = Depends(writer)
) -> Trial:
    return guard.st.store.sweeps.update_trial(project_id, trial_id, body)


@router.post(f"{TRIAL}/claim")
def claim_trial(project_id: Id, trial_id: Id, guard: Guard = Depends(writer)) -> Claimed:
    """Move a WAITING trial to RUNNING; ``claimed`` is false when another worker won."""
    return Claimed(claimed=guard.st.store.sweeps.claim_trial(project_id, trial_id))
