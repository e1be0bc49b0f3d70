"""The labeling pages (CR_10): the labeling projects of a keel project with their
progress, one project's status (agreement, review queue), and the annotator page, one
labeling project's queue worked with the keyboard.

The annotator page is drawn once; the next task, each answer, skip and undo are small JSON
requests (no page load between tasks). Task text is put in the page with ``textContent`` only, so
HTML or script in the data shows as text. Annotators act as themselves (the session's
user; ``local`` with authentication off); a reader cannot open the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from pydantic import BaseModel
from starlette.responses import Response

from keel import labeling
from keel.server._auth import Guard, writer
from keel.server._json import JSON
from keel.server._types import Id, Loose, Millis
from keel.server.ui._common import ProjectView, changing, ui_router, viewing
from keel.server.ui._render import page
from keel.store.users import Role

router = ui_router()
BASE = "/ui/p/{project}/label/{name}"
PROJECTS = "/ui/p/{project}/labeling"
REVIEW_SHOWN = 50


class AnswerIn(BaseModel):
    result: Any
    lead_ms: Millis | None = None


class SkipIn(BaseModel):
    reason: Loose


def _me(guard: Guard) -> str:
    return guard.who.name or "local"


@router.get(BASE)
def annotate(
    request: Request, name: str, view: ProjectView = viewing("labeling", writer)
) -> Response:
    found = view.store.labeling.get_project(view.project.id, name)
    config = labeling.parse_config(found.config)
    return page(
        request,
        "label.html",
        view.context(
            label_project=found,
            config=config,
            keys=list(enumerate(config.labels, 1)),
            annotator=_me(view.guard),
        ),
    )


@router.get(PROJECTS)
def projects(request: Request, view: ProjectView = viewing("labeling")) -> Response:
    """Every labeling project with its progress: one count query set per project."""
    repo = view.store.labeling
    found = [
        (p, repo.progress(view.project.id, p.name)) for p in repo.list_projects(view.project.id)
    ]
    return page(request, "labeling.html", view.context(label_projects=found))


@router.get(f"{PROJECTS}/{{name}}")
def status(request: Request, name: str, view: ProjectView = viewing("labeling")) -> Response:
    """Progress, agreement (Cohen per pair, Fleiss, Krippendorff overall and per label)
    and the review queue; the labels chosen for disputed tasks only for project admins,
    as an annotator must not see others' answers before giving theirs."""
    found = labeling.status(view.store, view.project.id, name, shown=REVIEW_SHOWN)
    role = view.guard.who.role_in(view.project.id)
    return page(
        request,
        "labeling_status.html",
        view.context(
            found=found,
            config=labeling.parse_config(found.project.config),
            show_labels=role is not None and role.allows(Role.ADMIN),
        ),
    )


@dataclass(frozen=True)
class _Queue:
    """The caller's queue in one labeling project, from the path: a writer's, CSRF checked."""

    guard: Guard
    project_id: int
    name: str

    @property
    def me(self) -> str:
        return _me(self.guard)

    def next(self, task_id: int | None = None) -> dict[str, Any]:
        """The next task of the caller's queue (or task ``task_id``) with their progress."""
        repo = self.guard.st.store.labeling
        if task_id is None:
            task = repo.next_task(self.project_id, self.name, self.me)
        else:
            task = repo.get_task(self.project_id, self.name, task_id)
        progress = repo.progress(self.project_id, self.name)
        return {
            "task": None if task is None else {"id": task.id, "data": task.data},
            "progress": {
                "mine": progress.by_annotator.get(self.me, 0),
                "complete": progress.complete,
                "tasks": progress.tasks,
            },
        }


def _queue(name: str, view: ProjectView = changing("labeling")) -> _Queue:
    return _Queue(view.guard, view.project.id, name)


@router.post(f"{BASE}/next")
def next_task(queue: _Queue = Depends(_queue)) -> JSON:
    return JSON(queue.next())


@router.post(f"{BASE}/tasks/{{task_id}}/answer")
def answer(task_id: Id, body: AnswerIn, queue: _Queue = Depends(_queue)) -> JSON:
    store = queue.guard.st.store
    labeling.submit(
        store, queue.project_id, queue.name, task_id, queue.me, body.result, lead_ms=body.lead_ms
    )
    return JSON(queue.next())


@router.post(f"{BASE}/tasks/{{task_id}}/skip")
def skip(task_id: Id, body: SkipIn, queue: _Queue = Depends(_queue)) -> JSON:
    queue.guard.st.store.labeling.skip(queue.project_id, queue.name, task_id, queue.me, body.reason)
    return JSON(queue.next())


@router.post(f"{BASE}/tasks/{{task_id}}/undo")
def undo(task_id: Id, queue: _Queue = Depends(_queue)) -> JSON:
    """Take back the caller's answer or skip; the page shows the task again, answer filled in."""
    taken = queue.guard.st.store.labeling.undo(queue.project_id, queue.name, task_id, queue.me)
    out = queue.next(task_id)
    return JSON({**out, "previous": None if taken is None else taken.result})


__all__ = ["router"]
