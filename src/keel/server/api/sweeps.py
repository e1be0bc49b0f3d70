"""``/api/v1/projects/{id}/sweeps`` and ``.../trials``: sweeps and their trials over HTTP.

Readers see sweeps and trials; writers create sweeps, add, claim and record trials (every
worker of a distributed sweep is a writer). Sweeps and trials are addressed inside their
project, and the repository refuses an id of another project as not found.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, Field

from keel.server._auth import Guard, reader, writer
from keel.server._types import Id, Loose, Name, RunId
from keel.server.api._passthrough import Router
from keel.server.api.deployments import existing_project, finite_json
from keel.store.sweeps import Sweep, TrialState

router = Router(prefix="/api/v1", tags=["sweeps"])
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


router.serve(reader, "sweeps.list", "list_sweeps", name=Name | None)
router.serve(
    reader, "sweeps.counts", "sweep_counts", doc="Trials by state of every sweep of the project."
)
router.serve(
    reader,
    "sweeps.outline",
    "trial_outline",
    doc="Every trial of the sweep as id, number, state and first value.",
)
router.serve(
    reader,
    "sweeps.pick",
    "pick_trials",
    body=TrialPickIn,
    doc="The sweep's trials with the given ids, by number.",
)


@router.post(SWEEPS)
def create_sweep(project_id: Id, body: SweepIn, guard: Guard = Depends(writer)) -> Sweep:
    """The next generation of sweep ``body.name``."""
    existing_project(guard, project_id)
    finite_json(body.spec or {}, "a sweep spec")
    return guard.st.store.sweeps.create(project_id, **body.model_dump())


router.serve(reader, "sweeps.get", "get_sweep", name=Name, generation=Generation | None)
router.serve(reader, "sweeps.find", "find_sweep", name=Name)
router.serve(reader, "sweeps.get_by_id", "get_sweep_by_id")


@router.patch(SWEEP)
def update_sweep(
    project_id: Id, sweep_id: Id, body: SweepUpdateIn, guard: Guard = Depends(writer)
) -> Sweep:
    for attrs in (body.user_attrs, body.system_attrs):
        if attrs is not None:
            finite_json(attrs, "sweep attributes")
    return guard.st.store.sweeps.update(project_id, sweep_id, **body.model_dump())


router.serve(writer, "sweeps.mark_stale", "mark_sweep_stale", body=StaleIn)
router.serve(writer, "sweeps.delete", "delete_sweep")
router.serve(writer, "sweeps.add_trial", doc="A new trial with the sweep's next number.")
router.serve(
    reader,
    "sweeps.trials",
    "search_trials",
    body=TrialQueryIn,
    doc="The sweep's trials newer than ``after_id`` plus those in ``ids``, by number.",
)
router.serve(reader, "sweeps.get_trial")
router.serve(writer, "sweeps.update_trial")


@router.post(f"{TRIAL}/claim")
def claim_trial(project_id: Id, trial_id: Id, guard: Guard = Depends(writer)) -> Claimed:
    """Move a WAITING trial to RUNNING; ``claimed`` is false when another worker won."""
    return Claimed(claimed=guard.st.store.sweeps.claim_trial(project_id, trial_id))
