"""The annotator page (CR_10): one labeling project's queue, worked with the keyboard.

The page is drawn once; the next task, each answer and each skip are small JSON requests
(no page load between tasks). Task text is put in the page with ``textContent`` only, so
HTML or script in the data shows as text. Annotators act as themselves (the session's
user; ``local`` with authentication off); a reader cannot open the page.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from pydantic import BaseModel
from starlette.responses import Response

from keel import labeling
from keel.server._auth import Guard, writer
from keel.server._json import JSON
from keel.server._types import Id, Loose, Millis
from keel.server.ui._common import open_project, ui_router
from keel.server.ui._render import page
from keel.server.ui._session import csrf_ok

router = ui_router()
BASE = "/ui/p/{project}/label/{name}"


class AnswerIn(BaseModel):
    result: Any
    lead_ms: Millis | None = None


class SkipIn(BaseModel):
    reason: Loose


def _me(guard: Guard) -> str:
    return guard.who.name or "local"


@router.get(BASE)
def annotate(request: Request, project: str, name: str, guard: Guard = Depends(writer)) -> Response:
    view = open_project(guard, project, "labeling")
    found = guard.st.store.labeling.get_project(view.project.id, name)
    config = labeling.parse_config(found.config)
    return page(
        request,
        "label.html",
        view.context(
            label_project=found,
            config=config,
            keys=list(enumerate(config.labels, 1)),
            annotator=_me(guard),
        ),
    )


def _next(guard: Guard, project: str, name: str) -> JSON:
    view = open_project(guard, project, "labeling")
    repo = guard.st.store.labeling
    task = repo.next_task(view.project.id, name, _me(guard))
    progress = repo.progress(view.project.id, name)
    return JSON(
        {
            "task": None if task is None else {"id": task.id, "data": task.data},
            "progress": {
                "mine": progress.by_annotator.get(_me(guard), 0),
                "complete": progress.complete,
                "tasks": progress.tasks,
            },
        }
    )


@router.post(f"{BASE}/next")
def next_task(
    project: str, name: str, guard: Guard = Depends(writer), _csrf: None = Depends(csrf_ok)
) -> JSON:
    return _next(guard, project, name)


@router.post(f"{BASE}/tasks/{{task_id}}/answer")
def answer(
    project: str,
    name: str,
    task_id: Id,
    body: AnswerIn,
    guard: Guard = Depends(writer),
    _csrf: None = Depends(csrf_ok),
) -> JSON:
    view = open_project(guard, project, "labeling")
    store = guard.st.store
    labeling.submit(
        store, view.project.id, name, task_id, _me(guard), body.result, lead_ms=body.lead_ms
    )
    return _next(guard, project, name)


@router.post(f"{BASE}/tasks/{{task_id}}/skip")
def skip(
    project: str,
    name: str,
    task_id: Id,
    body: SkipIn,
    guard: Guard = Depends(writer),
    _csrf: None = Depends(csrf_ok),
) -> JSON:
    view = open_project(guard, project, "labeling")
    guard.st.store.labeling.skip(view.project.id, name, task_id, _me(guard), body.reason)
    return _next(guard, project, name)


__all__ = ["router"]
