"""What every project page shares: the checked project, its URL prefix and the nav."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends

from keel.exceptions import InvalidArgumentError
from keel.server._auth import Guard, reader, writer
from keel.server.ui._nav import NAV, project_base
from keel.server.ui._render import UIRoute
from keel.server.ui._session import csrf_ok
from keel.store import Project, Run, Store
from keel.store.users import Role

#: Compare and chart requests name at most this many runs (URL length, chart legibility).
MAX_COMPARE = 200


def ui_router() -> APIRouter:
    return APIRouter(route_class=UIRoute, include_in_schema=False)


@dataclass(frozen=True)
class ProjectView:
    """A project the caller may see, with what templates need to draw the frame."""

    project: Project
    guard: Guard
    section: str

    @property
    def store(self) -> Store:
        return self.guard.st.store

    @property
    def base(self) -> str:
        return project_base(self.project.name)

    @property
    def can_write(self) -> bool:
        role = self.guard.who.role_in(self.project.id)
        return role is not None and role.allows(Role.WRITER)

    def context(self, **extra: Any) -> dict[str, Any]:
        return {
            "project": self.project,
            "base": self.base,
            "section": self.section,
            "nav": NAV,
            "role": str(self.guard.who.role_in(self.project.id) or ""),
            "can_write": self.can_write,
            **extra,
        }


def open_project(guard: Guard, name: str, section: str) -> ProjectView:
    """The project ``name`` if the caller has the guard's role in it (404/403 otherwise)."""
    return ProjectView(guard.project(name), guard, section)


def viewing(section: str, access: Callable[..., Any] = reader) -> Any:
    """``view: ProjectView = viewing("models")``: the path's project, for callers with
    ``access`` (its readers by default; a page that only writers may open passes ``writer``)."""

    def project_view(project: str, guard: Guard = Depends(access)) -> ProjectView:
        return open_project(guard, project, section)

    return Depends(project_view)


def changing(section: str, access: Callable[..., Any] = writer) -> Any:
    """Like :func:`viewing` for a state change: the caller needs ``access`` (a writer by
    default), then this session's CSRF token (after the access decision: an anonymous
    caller gets 401, not 403)."""

    def project_change(
        project: str, guard: Guard = Depends(access), _csrf: None = Depends(csrf_ok)
    ) -> ProjectView:
        return open_project(guard, project, section)

    return Depends(project_change)


def run_ids_param(text: str) -> list[str]:
    """Run ids from a comma-separated query value, deduplicated, order kept."""
    ids = list(dict.fromkeys(i.strip() for i in text.split(",") if i.strip()))
    if not ids:
        raise InvalidArgumentError("name at least one run id (runs=<id>,<id>...)")
    if len(ids) > MAX_COMPARE:
        raise InvalidArgumentError(
            f"{len(ids)} runs is more than the {MAX_COMPARE} one view compares; narrow the "
            "filter or pick fewer runs"
        )
    for run_id in ids:
        if len(run_id) > 64 or not run_id.isalnum():
            raise InvalidArgumentError(f"{run_id[:70]!r} is not a run id")
    return ids


def compare_subject(run_ids: Sequence[str]) -> str:
    """The discussion subject of a comparison: the same whatever order the runs are in."""
    return hashlib.sha256(",".join(sorted(run_ids)).encode()).hexdigest()[:40]


def check_found_runs(view: ProjectView, runs: Sequence[Run]) -> None:
    """Runs already read must belong to this project: one cached lookup per experiment."""
    st = view.guard.st
    for exp_id in {r.info.experiment_id for r in runs}:
        if st.project_of_experiment(exp_id) != view.project.id:
            other = next(r.id for r in runs if r.info.experiment_id == exp_id)
            raise_not_found(other)


def check_runs(view: ProjectView, run_ids: Sequence[str]) -> None:
    """Every run must exist and belong to this project (404 otherwise, never another's)."""
    st = view.guard.st
    for run_id in run_ids:
        if st.project_of_run(run_id) != view.project.id:
            raise_not_found(run_id)


def raise_not_found(run_id: str) -> None:
    from keel.exceptions import NotFoundError

    raise NotFoundError(f"run id {run_id!r} does not exist in this project")


__all__ = [
    "MAX_COMPARE",
    "NAV",
    "ProjectView",
    "changing",
    "check_found_runs",
    "check_runs",
    "compare_subject",
    "open_project",
    "project_base",
    "run_ids_param",
    "ui_router",
    "viewing",
]
