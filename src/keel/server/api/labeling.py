"""``/api/v1/projects/{id}/labeling``: labeling projects, tasks, queues and annotations.

Roles: a reader sees labeling projects, tasks and progress but cannot label; a writer is
an annotator: they take tasks from their own queue, answer and skip as themselves, and
see another annotator's answer to a task only after answering it themselves; a project
admin acts for any annotator and reads every answer (export, agreement). Answers are
checked against the project's label config here too, so a client cannot store one that
does not match.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from keel.exceptions import PermissionDeniedError
from keel.labeling import check_answer, parse_config
from keel.server._auth import Guard, reader, writer
from keel.server._types import Id, Loose, Millis, Name, Text
from keel.server.api.deployments import existing_project, finite_json
from keel.store.labeling import Annotation, LabelProgress, LabelProject, LabelTask, NewTask
from keel.store.users import Role
from keel.store.wire import Empty, envelope

router = APIRouter(prefix="/api/v1", tags=["labeling"])
LABELING = "/projects/{project_id}/labeling"
ONE = f"{LABELING}/{{name}}"
TASK = f"{ONE}/tasks/{{task_id}}"
Limit = Annotated[int, Field(ge=1, le=10_000)]


class ProjectIn(BaseModel):
    name: Name
    config: dict[str, Any]
    instructions: Text = ""
    overlap: Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] = 1
    double_share: float | None = None


class TaskIn(BaseModel):
    data: dict[str, Any]
    source_ref: Annotated[str, Field(max_length=512)] = ""
    request_id: Annotated[str, Field(max_length=255)] = ""


class TasksIn(BaseModel):
    tasks: list[TaskIn] = Field(max_length=100_000)


class Ids(BaseModel):
    ids: list[int]


class AnnotatorIn(BaseModel):
    annotator: Name


class AnswerIn(BaseModel):
    annotator: Name
    result: Any
    lead_ms: Millis | None = None


class SkipIn(BaseModel):
    annotator: Name
    reason: Loose


class Answered(BaseModel):
    answered: bool


def _is_admin(guard: Guard, project_id: int) -> bool:
    role = guard.who.role_in(project_id)
    return role is not None and role.allows(Role.ADMIN)


def _as(guard: Guard, project_id: int, annotator: str) -> str:
    """The annotator a request acts for: yourself, unless you are a project admin."""
    if annotator != guard.who.name and not _is_admin(guard, project_id):
        raise PermissionDeniedError(
            f"you label as {guard.who.name!r}, not as {annotator!r}; only a project admin "
            "acts for other annotators"
        )
    return annotator


@router.get(LABELING, response_model=envelope("projects", list[LabelProject]))
def list_projects(project_id: Id, guard: Guard = Depends(reader)) -> dict[str, Any]:
    return {"projects": guard.st.store.labeling.list_projects(project_id)}


@router.post(LABELING)
def create_project(project_id: Id, body: ProjectIn, guard: Guard = Depends(writer)) -> LabelProject:
    existing_project(guard, project_id)
    finite_json(body.config, "a label config")
    config = parse_config(body.config).as_json()
    return guard.st.store.labeling.create_project(
        project_id,
        body.name,
        config,
        instructions=body.instructions,
        overlap=body.overlap,
        double_share=body.double_share,
    )


@router.get(ONE)
def get_project(project_id: Id, name: Name, guard: Guard = Depends(reader)) -> LabelProject:
    return guard.st.store.labeling.get_project(project_id, name)


@router.post(f"{ONE}/tasks")
def add_tasks(project_id: Id, name: Name, body: TasksIn, guard: Guard = Depends(writer)) -> Ids:
    for task in body.tasks:
        finite_json(task.data, "task data")
    tasks = [NewTask(t.data, t.source_ref, t.request_id) for t in body.tasks]
    return Ids(ids=guard.st.store.labeling.add_tasks(project_id, name, tasks))


@router.get(f"{ONE}/tasks", response_model=envelope("tasks", list[LabelTask]))
def list_tasks(
    project_id: Id,
    name: Name,
    after: Id = 0,
    limit: Limit = 1000,
    guard: Guard = Depends(reader),
) -> dict[str, Any]:
    tasks = guard.st.store.labeling.list_tasks(project_id, name, after=after, limit=limit)
    return {"tasks": tasks}


@router.get(TASK)
def get_task(project_id: Id, name: Name, task_id: Id, guard: Guard = Depends(reader)) -> LabelTask:
    return guard.st.store.labeling.get_task(project_id, name, task_id)


@router.post(f"{ONE}/next", response_model=envelope("task", LabelTask | None))
def next_task(
    project_id: Id, name: Name, body: AnnotatorIn, guard: Guard = Depends(writer)
) -> dict[str, Any]:
    annotator = _as(guard, project_id, body.annotator)
    return {"task": guard.st.store.labeling.next_task(project_id, name, annotator)}


@router.post(f"{TASK}/annotations")
def submit(
    project_id: Id, name: Name, task_id: Id, body: AnswerIn, guard: Guard = Depends(writer)
) -> Annotation:
    annotator = _as(guard, project_id, body.annotator)
    repo = guard.st.store.labeling
    project = repo.get_project(project_id, name)
    task = repo.get_task(project_id, name, task_id)
    result = check_answer(project.config, task.data, body.result)
    return repo.submit(project_id, name, task_id, annotator, result, lead_ms=body.lead_ms)


@router.post(f"{TASK}/skip")
def skip(
    project_id: Id, name: Name, task_id: Id, body: SkipIn, guard: Guard = Depends(writer)
) -> Empty:
    annotator = _as(guard, project_id, body.annotator)
    guard.st.store.labeling.skip(project_id, name, task_id, annotator, body.reason)
    return Empty()


@router.post(f"{TASK}/undo", response_model=envelope("annotation", Annotation | None))
def undo(
    project_id: Id, name: Name, task_id: Id, body: AnnotatorIn, guard: Guard = Depends(writer)
) -> dict[str, Any]:
    """Take back an answer or a skip: the task goes back to the top of that queue."""
    annotator = _as(guard, project_id, body.annotator)
    return {"annotation": guard.st.store.labeling.undo(project_id, name, task_id, annotator)}


@router.get(f"{TASK}/answered")
def answered(
    project_id: Id, name: Name, task_id: Id, annotator: Name, guard: Guard = Depends(writer)
) -> Answered:
    who = _as(guard, project_id, annotator)
    return Answered(answered=guard.st.store.labeling.has_answered(project_id, name, task_id, who))


@router.get(f"{ONE}/annotations", response_model=envelope("annotations", list[Annotation]))
def list_annotations(
    project_id: Id,
    name: Name,
    task_id: Id | None = None,
    annotator: Name | None = None,
    after: Id = 0,
    limit: Limit = 1000,
    guard: Guard = Depends(writer),
) -> dict[str, Any]:
    """Every answer for a project admin; an annotator's own answers, or the answers to a
    task they have answered themselves, for anyone else."""
    repo = guard.st.store.labeling
    if not _is_admin(guard, project_id):
        me = guard.who.name
        own = annotator == me
        seen = task_id is not None and repo.has_answered(project_id, name, task_id, me)
        if not (own or seen):
            raise PermissionDeniedError(
                "annotators see other annotators' answers to a task only after answering it; "
                "ask with annotator=<you>, or task_id=<a task you answered>"
            )
    found = repo.annotations(
        project_id, name, task_id=task_id, annotator=annotator, after=after, limit=limit
    )
    return {"annotations": found}


@router.get(f"{ONE}/progress")
def progress(project_id: Id, name: Name, guard: Guard = Depends(reader)) -> LabelProgress:
    return guard.st.store.labeling.progress(project_id, name)
