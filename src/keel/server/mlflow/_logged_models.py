"""MLflow 3 logged models: create, get, finalize, tags, params, search, delete."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends

from keel.exceptions import FilterSyntaxError, NotFoundError
from keel.server._json import JSON
from keel.server._types import Key, Text
from keel.server.mlflow import _convert as conv
from keel.server.mlflow._context import Ctx, mlflow_reader, mlflow_writer
from keel.server.mlflow._paging import check_max, decode, encode
from keel.server.mlflow._schemas import (
    LoggedModelCreate,
    LoggedModelFinalize,
    LoggedModelParams,
    LoggedModelSearch,
    LoggedModelTags,
)
from keel.store.logged_models import LoggedModel

router = APIRouter(prefix="/logged-models", tags=["mlflow logged models"])
_CLAUSE = re.compile(
    r"^\s*(?:attributes\.)?(name|source_run_id|model_id|status)\s*=\s*'((?:[^'\\]|\\.)*)'\s*$",
    re.IGNORECASE,
)


def _model(ctx: Ctx, model_id: str) -> LoggedModel:
    model = ctx.st.store.logged_models.get(model_id)
    if ctx.st.project_of_experiment(model.experiment_id) != ctx.project_id:
        raise NotFoundError(f"logged model {model_id!r} does not exist")
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
    exp_id = ctx.experiment_id(body.experiment_id)
    if body.source_run_id:
        ctx.run(body.source_run_id)
    model = ctx.st.store.logged_models.create(
        exp_id,
        body.name or "model",
        source_run_id=body.source_run_id,
        model_type=body.model_type or "",
        params=conv.from_kv(body.params),
        tags=conv.from_kv(body.tags),
    )
    return JSON({"model": conv.logged_model(model)})


@router.post("/search")
def search(body: LoggedModelSearch, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    check_max(ctx, body.max_results)
    exp_ids = [ctx.experiment_id(e) for e in body.experiment_ids]
    filters = _parse(body.filter)
    offset = decode(body.page_token)
    models, more = ctx.st.store.logged_models.search(
        exp_ids,
        name=filters.get("name"),
        source_run_id=filters.get("source_run_id"),
        max_results=body.max_results,
        offset=offset,
    )
    models = [
        m
        for m in models
        if filters.get("model_id", m.id) == m.id and filters.get("status", m.status) == m.status
    ]
    out: dict[str, Any] = {"models": [conv.logged_model(m) for m in models]}
    if more:
        out["next_page_token"] = encode(offset + body.max_results)
    return JSON(out)


@router.get("/{model_id}")
def get(model_id: Text, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    return JSON({"model": conv.logged_model(_model(ctx, model_id))})


@router.patch("/{model_id}")
def finalize(model_id: Text, body: LoggedModelFinalize, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    _model(ctx, model_id)
    model = ctx.st.store.logged_models.finalize(model_id, body.status)
    return JSON({"model": conv.logged_model(model)})


@router.delete("/{model_id}")
def delete(model_id: Text, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    _model(ctx, model_id)
    ctx.st.store.logged_models.delete(model_id)
    return JSON({})


@router.patch("/{model_id}/tags")
def set_tags(model_id: Text, body: LoggedModelTags, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    _model(ctx, model_id)
    ctx.st.store.logged_models.set_tags(model_id, conv.from_kv(body.tags))
    return JSON({})


@router.delete("/{model_id}/tags/{tag_key}")
def delete_tag(model_id: Text, tag_key: Key, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    _model(ctx, model_id)
    ctx.st.store.logged_models.delete_tag(model_id, tag_key)
    return JSON({})


@router.post("/{model_id}/params")
def log_params(model_id: Text, body: LoggedModelParams, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    _model(ctx, model_id)
    ctx.st.store.logged_models.log_params(model_id, conv.from_kv(body.params))
    return JSON({})
