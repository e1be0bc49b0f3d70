"""``/api/v1/logged-models``: MLflow 3 logged models for keel's own HTTP client.

A logged model belongs to the project of its experiment; another project's model does not
exist for the caller. Files reference blobs already uploaded (``PUT /api/v1/blobs``) with
their receipts, like run artifacts.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, Field, StringConstraints

from keel.server._auth import Guard, reader, writer
from keel.server._types import Id, Key, Loose, Name, RunId, Text
from keel.server.api._passthrough import Router
from keel.server.api.artifacts import ItemsIn, item_refs
from keel.store import ArtifactInfo
from keel.store.logged_models import LoggedModel
from keel.store.wire import envelope

router = Router(prefix="/api/v1/logged-models", tags=["logged models"])
ModelId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Values = Annotated[dict[Key, Text], Field(max_length=10_000)]


class LoggedModelIn(BaseModel):
    experiment_id: Id
    name: Name
    source_run_id: RunId | None = None
    model_type: Loose = ""
    params: Values = {}
    tags: Values = {}


class StatusIn(BaseModel):
    status: Name


class ValuesIn(BaseModel):
    items: Values


class SearchIn(BaseModel):
    experiment_ids: list[Id] = Field(max_length=1000)
    name: Name | None = None
    source_run_id: RunId | None = None
    max_results: int = Field(100, ge=1, le=10_000)
    offset: int = Field(0, ge=0, le=2**31 - 1)


class Found(BaseModel):
    models: list[LoggedModel]
    has_more: bool


def _model(guard: Guard, model_id: str) -> LoggedModel:
    """The model, if the caller may see its project (else it does not exist for them)."""
    model = guard.st.store.logged_models.get(model_id)
    if not guard.who.is_admin:
        pid = guard.st.project_of_experiment(model.experiment_id)
        guard.project_id(pid, f"logged model {model_id!r}")
    return model


serve_model = partial(router.serve, owner=_model, model_id=ModelId)


@router.post("")
def create_logged_model(body: LoggedModelIn, guard: Guard = Depends(writer)) -> LoggedModel:
    guard.experiment(body.experiment_id)
    return guard.st.store.logged_models.create(**body.model_dump())


@router.post("/search")
def search_logged_models(body: SearchIn, guard: Guard = Depends(reader)) -> Found:
    for experiment_id in body.experiment_ids:
        guard.experiment(experiment_id)
    models, more = guard.st.store.logged_models.search(
        body.experiment_ids,
        name=body.name,
        source_run_id=body.source_run_id,
        max_results=body.max_results,
        offset=body.offset,
    )
    return Found(models=models, has_more=more)


@router.get("/{model_id}")
def get_logged_model(model_id: ModelId, guard: Guard = Depends(reader)) -> LoggedModel:
    return _model(guard, model_id)


serve_model(writer, "logged_models.delete", "delete_logged_model")
serve_model(writer, "logged_models.finalize", "finalize_logged_model", body=StatusIn)
serve_model(writer, "logged_models.set_tags", "set_logged_model_tags", body=ValuesIn)
serve_model(writer, "logged_models.delete_tag", "delete_logged_model_tag", key=Key)
serve_model(writer, "logged_models.log_params", "log_logged_model_params", body=ValuesIn)


@router.post("/{model_id}/files", response_model=envelope("files", list[ArtifactInfo]))
def add_logged_model_files(
    model_id: ModelId, body: ItemsIn, guard: Guard = Depends(writer)
) -> dict[str, Any]:
    _model(guard, model_id)
    items = item_refs(guard.st, guard.who, body)
    return {"files": guard.st.store.logged_models.add_files(model_id, items)}


@router.get("/{model_id}/files", response_model=envelope("files", list[ArtifactInfo]))
def list_logged_model_files(
    model_id: ModelId, prefix: Text | None = None, guard: Guard = Depends(reader)
) -> dict[str, Any]:
    _model(guard, model_id)
    return {"files": guard.st.store.logged_models.list_files(model_id, prefix or None)}


serve_model(writer, "logged_models.delete_files", "delete_logged_model_files", path=Text)


__all__ = ["router"]
