"""``/api/v1/projects``: projects and their members (roles)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from pydantic import BaseModel

from keel.exceptions import AlreadyExistsError, NotFoundError
from keel.server._auth import Guard, Principal, authenticated, project_admin, reader
from keel.server._state import AppState, state
from keel.server._types import Id, Loose, Name
from keel.server.api._passthrough import Router
from keel.store import Project
from keel.store.users import Membership, Role
from keel.store.wire import Empty, envelope

router = Router(prefix="/api/v1/projects", tags=["projects"])


class ProjectIn(BaseModel):
    name: Name
    description: Loose = ""


class MemberIn(BaseModel):
    role: Role


class MemberOut(BaseModel):
    user: str
    user_id: int
    role: Role


def _member(m: Membership) -> MemberOut:
    return MemberOut(user=m.user_name, user_id=m.user_id, role=m.role)


@router.get("", response_model=envelope("projects", list[Project]))
def list_projects(
    who: Principal = Depends(authenticated), st: AppState = Depends(state)
) -> dict[str, Any]:
    projects = st.store.projects.list()
    return {"projects": [p for p in projects if who.role_in(p.id) is not None]}


@router.post("")
def get_or_create_project(
    body: ProjectIn, who: Principal = Depends(authenticated), st: AppState = Depends(state)
) -> Project:
    """Create a project (the caller becomes its admin) or return the existing one."""
    try:
        existing = st.store.projects.get(body.name)
    except NotFoundError:
        existing = None
    if existing is not None:
        if who.role_in(existing.id) is None:
            raise AlreadyExistsError(f"project name {body.name!r} is taken; pick another")
        return existing
    project = st.store.projects.get_or_create(body.name, body.description)
    if who.user is not None and not who.is_admin:
        st.store.users.set_role(project.id, who.user.id, Role.ADMIN)
    return project


@router.get("/lookup")
def get_project_by_name(name: Name, guard: Guard = Depends(reader)) -> Project:
    return guard.project(name)


router.serve(reader, "projects.get_by_id", "get_project")


@router.get("/{project_id}/members", response_model=envelope("members", list[MemberOut]))
def list_members(project_id: Id, guard: Guard = Depends(reader)) -> dict[str, Any]:
    return {"members": [_member(m) for m in guard.st.store.users.members(project_id)]}


@router.put("/{project_id}/members/{user}")
def set_member(
    project_id: Id, user: Name, body: MemberIn, guard: Guard = Depends(project_admin)
) -> MemberOut:
    users = guard.st.store.users
    return _member(users.set_role(project_id, users.get_user(user).id, body.role))


@router.delete("/{project_id}/members/{user}")
def remove_member(project_id: Id, user: Name, guard: Guard = Depends(project_admin)) -> Empty:
    users = guard.st.store.users
    users.remove_member(project_id, users.get_user(user).id)
    return Empty()
