"""``/api/v1/experiments``: create, read, rename, tag, delete and restore experiments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from keel.server._auth import Guard, reader, writer
from keel.server._types import Id, Loose, Name
from keel.store import Experiment
from keel.store.wire import Empty, envelope

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])


class ExperimentIn(BaseModel):
    project_id: Id
    name: Name
    description: Loose = ""
    tags: dict[Loose, Loose] = {}


class ExperimentRef(BaseModel):
    project_id: Id
    name: Name


class ExperimentPatch(BaseModel):
    name: Loose | None = None
    description: Loose | None = None


class TagIn(BaseModel):
    key: Loose
    value: Loose


@router.post("")
def create_experiment(body: ExperimentIn, guard: Guard = Depends(writer)) -> Experiment:
    guard.project_id(body.project_id)
    return guard.st.store.experiments.create(
        body.project_id, body.name, description=body.description, tags=body.tags
    )


@router.post("/get-or-create")
def get_or_create_experiment(body: ExperimentRef, guard: Guard = Depends(writer)) -> Experiment:
    guard.project_id(body.project_id)
    return guard.st.store.experiments.get_or_create(body.project_id, body.name)


@router.get("", response_model=envelope("experiments", list[Experiment]))
def list_experiments(
    project_id: Id, include_deleted: bool = False, guard: Guard = Depends(reader)
) -> dict[str, Any]:
    return {
        "experiments": guard.st.store.experiments.list(project_id, include_deleted=include_deleted)
    }


@router.get("/lookup")
def find_experiment(project_id: Id, name: Name, guard: Guard = Depends(reader)) -> Experiment:
    return guard.st.store.experiments.get_by_name(project_id, name)


@router.get("/{experiment_id}")
def get_experiment(experiment_id: Id, guard: Guard = Depends(reader)) -> Experiment:
    guard.experiment(experiment_id)
    return guard.st.store.experiments.get(experiment_id)


@router.patch("/{experiment_id}")
def update_experiment(
    experiment_id: Id, body: ExperimentPatch, guard: Guard = Depends(writer)
) -> Experiment:
    guard.experiment(experiment_id)
    repo = guard.st.store.experiments
    if body.name is not None:
        repo.rename(experiment_id, body.name)
    if body.description is not None:
        repo.set_description(experiment_id, body.description)
    return repo.get(experiment_id)


@router.delete("/{experiment_id}")
def delete_experiment(experiment_id: Id, guard: Guard = Depends(writer)) -> Empty:
    guard.experiment(experiment_id)
    guard.st.store.experiments.delete(experiment_id)
    return Empty()


@router.post("/{experiment_id}/restore")
def restore_experiment(experiment_id: Id, guard: Guard = Depends(writer)) -> Empty:
    guard.experiment(experiment_id)
    guard.st.store.experiments.restore(experiment_id)
    return Empty()


@router.post("/{experiment_id}/tags")
def set_experiment_tag(experiment_id: Id, body: TagIn, guard: Guard = Depends(writer)) -> Empty:
    guard.experiment(experiment_id)
    guard.st.store.experiments.set_tag(experiment_id, body.key, body.value)
    return Empty()


@router.delete("/{experiment_id}/tags")
def delete_experiment_tag(experiment_id: Id, key: Loose, guard: Guard = Depends(writer)) -> Empty:
    guard.experiment(experiment_id)
    guard.st.store.experiments.delete_tag(experiment_id, key)
    return Empty()
