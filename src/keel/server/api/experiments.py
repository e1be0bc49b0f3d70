"""``/api/v1/experiments``: create, read, rename, tag, delete and restore experiments."""

from __future__ import annotations

from functools import partial

from fastapi import Depends
from pydantic import BaseModel

from keel.server._auth import Guard, reader, writer
from keel.server._types import Id, Loose, Name
from keel.server.api._passthrough import Router
from keel.store import Experiment

router = Router(prefix="/api/v1/experiments", tags=["experiments"])
#: An experiment addressed by id is checked against the caller's projects first.
serve_experiment = partial(router.serve, owner=Guard.experiment)


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


router.serve(reader, "experiments.list", "list_experiments")
router.serve(reader, "experiments.get_by_name", "find_experiment", name=Name)
serve_experiment(reader, "experiments.get", "get_experiment")


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


serve_experiment(writer, "experiments.delete", "delete_experiment")
serve_experiment(writer, "experiments.restore", "restore_experiment")
serve_experiment(writer, "experiments.set_tag", "set_experiment_tag", body=TagIn)
serve_experiment(writer, "experiments.delete_tag", "delete_experiment_tag")
