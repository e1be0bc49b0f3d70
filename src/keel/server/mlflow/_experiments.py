"""MLflow experiments: create, get, get-by-name, search, update, delete, restore, tags."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.server._json import JSON
from keel.server._types import Name, Text
from keel.server.mlflow import _convert as conv
from keel.server.mlflow._context import DEFAULT_EXPERIMENT, Ctx, mlflow_reader, mlflow_writer
from keel.server.mlflow._paging import check_max, page
from keel.server.mlflow._pyfilter import matches
from keel.server.mlflow._schemas import (
    ExperimentCreate,
    ExperimentRef,
    ExperimentSearch,
    ExperimentTag,
    ExperimentTagDelete,
    ExperimentUpdate,
)
from keel.store import Experiment, Lifecycle
from keel.store.filters import Expr, Vocabulary, parse_filter

router = APIRouter(prefix="/experiments", tags=["mlflow experiments"])


@router.post("/create")
def create(body: ExperimentCreate, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    """``artifact_location`` is kept as metadata and shown back, never used as a path: keel
    stores every artifact in its own blob store (runs' artifact_uri is mlflow-artifacts:/)."""
    tags = conv.from_kv(body.tags)
    tags.pop(conv.ARTIFACT_LOCATION_TAG, None)
    if body.artifact_location:
        tags[conv.ARTIFACT_LOCATION_TAG] = body.artifact_location
    exp = ctx.st.store.experiments.create(ctx.project_id, body.name, tags=tags)
    return JSON({"experiment_id": ctx.exp_str(exp.id)})


@router.get("/get")
def get(experiment_id: Text, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    exp = ctx.experiment(experiment_id)
    return JSON({"experiment": conv.experiment(exp, ctx.exp_str(exp.id))})


@router.get("/get-by-name")
def get_by_name(experiment_name: Name, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    if experiment_name == DEFAULT_EXPERIMENT:
        ctx.default_experiment_id(create=True)
    exp = ctx.st.store.experiments.find(ctx.project_id, experiment_name)
    if exp is None:
        raise NotFoundError(f"Could not find experiment with name '{experiment_name}'")
    return JSON({"experiment": conv.experiment(exp, ctx.exp_str(exp.id))})


@router.post("/search")
def search(body: ExperimentSearch, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    return JSON(_search(ctx, body))


@router.get("/search")
def search_get(
    max_results: int = Query(default=1000, ge=1),
    page_token: Text | None = None,
    filter: Text | None = None,
    view_type: Text | None = None,
    ctx: Ctx = Depends(mlflow_reader),
) -> JSON:
    body = ExperimentSearch(
        max_results=max_results, page_token=page_token, filter=filter, view_type=view_type
    )
    return JSON(_search(ctx, body))


@router.post("/update")
def update(body: ExperimentUpdate, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    exp_id = ctx.experiment_id(body.experiment_id)
    if body.new_name:
        ctx.st.store.experiments.rename(exp_id, body.new_name)
    return JSON({})


@router.post("/delete")
def delete(body: ExperimentRef, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    ctx.st.store.experiments.delete(ctx.experiment_id(body.experiment_id))
    return JSON({})


@router.post("/restore")
def restore(body: ExperimentRef, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    ctx.st.store.experiments.restore(ctx.experiment_id(body.experiment_id))
    return JSON({})


@router.post("/set-experiment-tag")
def set_tag(body: ExperimentTag, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    ctx.st.store.experiments.set_tag(ctx.experiment_id(body.experiment_id), body.key, body.value)
    return JSON({})


@router.post("/delete-experiment-tag")
def delete_tag(body: ExperimentTagDelete, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    ctx.st.store.experiments.delete_tag(ctx.experiment_id(body.experiment_id), body.key)
    return JSON({})


def _search(ctx: Ctx, body: ExperimentSearch) -> dict[str, Any]:
    check_max(ctx, body.max_results)
    view = (body.view_type or "ACTIVE_ONLY").upper()
    ctx.default_experiment_id(create=True)  # a fresh MLflow store lists "Default" already
    exps = ctx.st.store.experiments.list(ctx.project_id, include_deleted=view != "ACTIVE_ONLY")
    if view == "DELETED_ONLY":
        exps = [e for e in exps if e.lifecycle is Lifecycle.DELETED]
    expr = parse_filter(body.filter, _VOCABULARY)
    if expr is not None:
        exps = [e for e in exps if _matches(expr, e)]
    exps = _ordered(exps, body.order_by)
    return page(
        exps,
        "experiments",
        body.page_token,
        body.max_results,
        lambda e: conv.experiment(e, ctx.exp_str(e.id)),
    )


_VOCABULARY = Vocabulary(
    "experiment",
    {
        "name": "name",
        "experiment_id": "experiment_id",
        "creation_time": "creation_time",
        "last_update_time": "last_update_time",
    },
    frozenset({"experiment_id", "creation_time", "last_update_time"}),
)


def _matches(expr: Expr, exp: Experiment) -> bool:
    attrs = {
        "name": exp.name,
        "experiment_id": exp.id,
        "creation_time": exp.created_at,
        "last_update_time": exp.updated_at,
    }
    return matches(expr, attrs, exp.tags, missing_ne=False)


_ORDER_KEYS = {
    "name": lambda e: e.name,
    "experiment_id": lambda e: e.id,
    "creation_time": lambda e: e.created_at,
    "last_update_time": lambda e: e.updated_at,
}


def _ordered(exps: list[Experiment], order_by: list[str]) -> list[Experiment]:
    if not order_by:
        return sorted(exps, key=lambda e: (-e.created_at, -e.id))
    for clause in reversed(order_by):
        parts = clause.strip().split()
        field = parts[0].removeprefix("attributes.").removeprefix("attribute.") if parts else ""
        desc = len(parts) > 1 and parts[1].lower() == "desc"
        key = _ORDER_KEYS.get(field)
        if key is None or len(parts) > 2:
            raise InvalidArgumentError(
                f"cannot order experiments by {clause[:100]!r}; use name, experiment_id, "
                "creation_time or last_update_time, optionally with ASC or DESC"
            )
        exps = sorted(exps, key=key, reverse=desc)
    return exps
