"""``/api/v1/projects/{id}/deployments``: deployment specs and their revision history.

Deployment names travel in the query string or the body (never as path segments), so any
string reaches the repository, which validates it and names the value. Readers read
specs and history; writers apply, roll back and delete.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, Field, StringConstraints

from keel.exceptions import InvalidArgumentError
from keel.server._auth import Guard, reader, writer
from keel.server._types import Id, Loose
from keel.server.api._passthrough import Router
from keel.store.deployments import Deployment, DeploymentTarget
from keel.store.wire import envelope

router = Router(prefix="/api/v1", tags=["deployments"])
DEPLOYMENTS = "/projects/{project_id}/deployments"


class Applied(BaseModel):
    deployment: Deployment
    changed: bool


class TargetRow(BaseModel):
    deployment: str
    revision: int
    target: DeploymentTarget


#: The widths of the target columns; no NUL, which PostgreSQL cannot store in text.
Str255 = Annotated[str, StringConstraints(max_length=255, pattern=r"^[^\x00]*$")]
Str512 = Annotated[str, StringConstraints(max_length=512, pattern=r"^[^\x00]*$")]
Weight = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]


class TargetIn(BaseModel):
    endpoint: Str255
    model_ref: Str512
    model_name: Str255
    weight: Weight = 0.0
    shadow: bool = False


class ApplyIn(BaseModel):
    name: Loose
    spec: dict[str, Any]
    targets: list[TargetIn] = Field(default=[], max_length=10_000)
    note: Loose = ""


class RollbackIn(BaseModel):
    name: Loose
    revision: Id


def finite_json(value: dict[str, Any], what: str) -> None:
    """Refuse NaN and infinity in a free-form JSON body: no JSON answer could carry them."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise InvalidArgumentError(f"{what} must not hold NaN or infinity: {exc}") from exc


def existing_project(guard: Guard, project_id: int) -> None:
    """That the project exists, for admins, who pass the project scope for any id: a
    write to a missing project is a 404, not a foreign-key error."""
    if guard.who.is_admin:
        guard.st.store.projects.get_by_id(project_id)


def _targets(body: ApplyIn) -> list[DeploymentTarget]:
    seen: set[tuple[str, str]] = set()
    for t in body.targets:
        if (t.endpoint, t.model_ref) in seen:
            raise InvalidArgumentError(
                f"endpoint {t.endpoint!r} lists model {t.model_ref!r} twice; list it once"
            )
        seen.add((t.endpoint, t.model_ref))
    return [DeploymentTarget(**t.model_dump()) for t in body.targets]


router.serve(reader, "deployments.list", "list_deployments")


@router.post(DEPLOYMENTS)
def apply_deployment(project_id: Id, body: ApplyIn, guard: Guard = Depends(writer)) -> Applied:
    """Store a spec as the deployment's next revision (a no-op when it is unchanged)."""
    return _store_spec(guard, project_id, body, applied=True)


def _store_spec(guard: Guard, project_id: int, body: ApplyIn, *, applied: bool) -> Applied:
    existing_project(guard, project_id)
    finite_json(body.spec, "a deployment spec")
    repo = guard.st.store.deployments
    store_it = repo.apply if applied else repo.register
    dep, changed = store_it(project_id, body.name, body.spec, _targets(body), note=body.note)
    return Applied(deployment=dep, changed=changed)


class NameIn(BaseModel):
    name: Loose


class Seen(BaseModel):
    seen: bool


@router.post(f"{DEPLOYMENTS}/register")
def register_deployment(project_id: Id, body: ApplyIn, guard: Guard = Depends(writer)) -> Applied:
    """A server serving a spec that was never applied records it (ad hoc)."""
    return _store_spec(guard, project_id, body, applied=False)


@router.post(f"{DEPLOYMENTS}/heartbeat")
def heartbeat_deployment(project_id: Id, body: NameIn, guard: Guard = Depends(writer)) -> Seen:
    """A serving process of this deployment is alive (False: no such deployment)."""
    return Seen(seen=guard.st.store.deployments.heartbeat(project_id, body.name))


@router.post(f"{DEPLOYMENTS}/stop")
def stop_deployment(project_id: Id, body: NameIn, guard: Guard = Depends(writer)) -> Seen:
    """The last serving process of an ad-hoc deployment stopped."""
    guard.st.store.deployments.stop(project_id, body.name)
    return Seen(seen=True)


router.serve(reader, "deployments.get", "get_deployment")
router.serve(
    reader,
    "deployments.find",
    "find_deployment",
    doc='The deployment, deleted ones too; ``{"deployment": null}`` when there is none.',
)
router.serve(reader, "deployments.current_revision")
router.serve(reader, "deployments.revisions", "list_revisions")
router.serve(reader, "deployments.revision", "get_revision")
router.serve(writer, "deployments.rollback", "rollback_deployment", body=RollbackIn)
router.serve(writer, "deployments.delete", "delete_deployment")


@router.get(
    "/projects/{project_id}/deployment-targets", response_model=envelope("targets", list[TargetRow])
)
def all_targets(project_id: Id, guard: Guard = Depends(reader)) -> dict[str, Any]:
    """(deployment, revision, target) of every revision: the lineage table."""
    rows = guard.st.store.deployments.all_targets(project_id)
    return {"targets": [TargetRow(deployment=n, revision=r, target=t) for n, r, t in rows]}


__all__ = ["existing_project", "finite_json", "router"]
