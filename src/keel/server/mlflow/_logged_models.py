"""MLflow 3 logged models: create, get, finalize, tags, params, search, delete."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends

from keel.exceptions import FilterSyntaxError, InvalidArgumentError, NotFoundError
from keel.server._json import JSON
from keel.server._types import Key, Text
from keel.server.mlflow import _convert as conv
from keel.server.mlflow import _model_links as links
from keel.server.mlflow._context import Ctx, mlflow_reader, mlflow_writer
from keel.server.mlflow._paging import check_max, page
from keel.server.mlflow._schemas import (
    DatasetFilter,
    LoggedModelCreate,
    LoggedModelFinalize,
    LoggedModelParams,
    LoggedModelSearch,
    LoggedModelTags,
    OrderBy,
)
from keel.store._names import random_run_name
from keel.store.logged_models import LoggedModel

router = APIRouter(prefix="/logged-models", tags=["mlflow logged models"])
_CLAUSE = re.compile(
    r"^\s*(?:attributes\.)?(name|source_run_id|model_id|status)\s*=\s*'((?:[^'\\]|\\.)*)'\s*$",
    re.IGNORECASE,
)


def model_of_project(ctx: Ctx, model_id: str) -> LoggedModel:
    """A logged model of this project (another project's is "not found", like a bad id)."""
    try:
        model = ctx.st.store.logged_models.get(model_id)
    except NotFoundError:
        model = None
    if model is None or ctx.st.project_of_experiment(model.experiment_id) != ctx.project_id:
        raise NotFoundError(f"Logged model with ID '{model_id[:100]}' not found.")
    return model


def _parse(filter_string: str | None) -> dict[str, str]:
    """``name = 'x' AND source_run_id = 'y'``: the equality filters the client sends."""
    if not filter_string or not filter_string.strip():
        return {}
    out: dict[str, str] = {}
    for clause in re.split(r"\s+and\s+", filter_string.strip(), flags=re.IGNORECASE):
        m = _CLAUSE.match(clause)
        if m is None:
            raise FilterSyntaxError(
                f"logged models can be filtered by name, source_run_id, model_id and status "
                f"with = and AND; cannot read {clause[:100]!r}"
            )
        out[m.group(1).lower()] = m.group(2).replace("\\'", "'")
    return out


@router.post("")
def create(body: LoggedModelCreate, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    """An unnamed model gets a random name, as in MLflow; a source run keel does not know
    here is kept as a reference (not linked), whatever project it may belong to."""
    exp_id = ctx.experiment_id(body.experiment_id)
    tags = conv.from_kv(body.tags)
    source = ctx.known_run(body.source_run_id)
    if body.source_run_id and source is None:
        tags[links.SOURCE_RUN_TAG] = body.source_run_id
    model = ctx.st.store.logged_models.create(
        exp_id,
        body.name or random_run_name(),
        source_run_id=source,
        model_type=body.model_type or "",
        params=conv.from_kv(body.params),
        tags=tags,
    )
    return JSON({"model": conv.logged_model(model, ctx.exp_str(model.experiment_id))})


@router.post("/search")
def search(body: LoggedModelSearch, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    check_max(ctx, body.max_results)
    exp_ids = [ctx.experiment_id(e) for e in body.experiment_ids]
    filters = _parse(body.filter)
    models, _more = ctx.st.store.logged_models.search(
        exp_ids, name=filters.get("name"), max_results=_SEARCH_CAP
    )
    models = [m for m in models if _wanted(m, filters, body.datasets)]
    models = _ordered(models, body.order_by)
    return JSON(
        page(
            models,
            "models",
            body.page_token,
            body.max_results,
            lambda m: conv.logged_model(m, ctx.exp_str(m.experiment_id)),
        )
    )


_SEARCH_CAP = 50_000


def _wanted(m: LoggedModel, filters: dict[str, str], datasets: list[DatasetFilter]) -> bool:
    attrs = {"model_id": m.id, "status": m.status, "source_run_id": links.source_run_id(m)}
    if any(filters.get(k, v) != v for k, v in attrs.items()):
        return False
    if not datasets:
        return True
    metrics = links.model_metrics(m)
    return any(
        x.get("dataset_name") == d.dataset_name
        and (d.dataset_digest is None or x.get("dataset_digest") == d.dataset_digest)
        for d in datasets
        for x in metrics
    )


_ORDER = {
    "name": lambda m: m.name,
    "model_id": lambda m: m.id,
    "creation_timestamp": lambda m: m.created_at,
    "creation_time": lambda m: m.created_at,
    "last_updated_timestamp": lambda m: m.updated_at,
}


def _ordered(models: list[LoggedModel], order_by: list[OrderBy]) -> list[LoggedModel]:
    """Newest first unless told; later clauses break ties of earlier ones."""
    for clause in reversed(order_by):
        field = clause.field_name.removeprefix("attributes.")
        key = _ORDER.get(field)
        if key is None:
            raise InvalidArgumentError(
                f"cannot order logged models by {clause.field_name[:100]!r}; use "
                f"{', '.join(sorted(_ORDER))}"
            )
        models = sorted(models, key=key, reverse=not clause.ascending)
    return models


@router.get("/{model_id}")
def get(model_id: Text, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    model = model_of_project(ctx, model_id)
    return JSON({"model": conv.logged_model(model, ctx.exp_str(model.experiment_id))})


@router.patch("/{model_id}")
def finalize(model_id: Text, body: LoggedModelFinalize, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    model_of_project(ctx, model_id)
    model = ctx.st.store.logged_models.finalize(model_id, body.status)
    return JSON({"model": conv.logged_model(model, ctx.exp_str(model.experiment_id))})


@router.delete("/{model_id}")
def delete(model_id: Text, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    model_of_project(ctx, model_id)
    ctx.st.store.logged_models.delete(model_id)
    return JSON({})


@router.patch("/{model_id}/tags")
def set_tags(model_id: Text, body: LoggedModelTags, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    model_of_project(ctx, model_id)
    ctx.st.store.logged_models.set_tags(model_id, conv.from_kv(body.tags))
    return JSON({})


@router.delete("/{model_id}/tags/{tag_key}")
def delete_tag(model_id: Text, tag_key: Key, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    if tag_key not in links.visible(model_of_project(ctx, model_id).tags):
        raise NotFoundError(f"No tag with key '{tag_key}' found for model with ID '{model_id}'.")
    ctx.st.store.logged_models.delete_tag(model_id, tag_key)
    return JSON({})


@router.post("/{model_id}/params")
def log_params(model_id: Text, body: LoggedModelParams, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    model_of_project(ctx, model_id)
    ctx.st.store.logged_models.log_params(model_id, conv.from_kv(body.params))
    return JSON({})
