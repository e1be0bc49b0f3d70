"""MLflow runs: lifecycle, logging, search and metric history, onto keel's RunRepository."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.server._json import JSON
from keel.server._types import Key, RunId, Text
from keel.server.mlflow import _convert as conv
from keel.server.mlflow import _model_links as links
from keel.server.mlflow._context import Ctx, mlflow_reader, mlflow_writer
from keel.server.mlflow._logged_models import model_of_project
from keel.server.mlflow._paging import check_max, decode, encode
from keel.server.mlflow._schemas import (
    MAX_BATCH_TOTAL,
    DeleteTag,
    LogBatch,
    LogMetric,
    LogModel,
    LogParam,
    MetricIn,
    RunCreate,
    RunRef,
    RunSearch,
    RunUpdate,
    SetTag,
)
from keel.store import Lifecycle, Metric, RunStatus

router = APIRouter(tags=["mlflow runs"])
_VIEWS = {"ACTIVE_ONLY", "DELETED_ONLY", "ALL"}
LOG_MODEL_TAG = "mlflow.log-model.history"


def _run_json(ctx: Ctx, run_id: str) -> dict[str, Any]:
    store = ctx.st.store
    run = store.runs.get(run_id)
    inputs = [
        conv.dataset_input(store.datasets.get_version_by_id(vid))
        for vid, direction in store.runs.dataset_links(run_id)
        if direction == "input"
    ]
    models, _more = store.logged_models.search([run.info.experiment_id], source_run_id=run_id)
    outputs = links.run_models(run.tags, links.MODEL_OUTPUTS_TAG)
    listed = {o["model_id"] for o in outputs}
    outputs += [{"model_id": m.id, "step": 0} for m in models if m.id not in listed]
    eid = ctx.exp_str(run.info.experiment_id)
    return conv.run(run, eid, inputs=inputs, outputs=outputs)


def _status(raw: str) -> RunStatus:
    try:
        return RunStatus(raw.upper())
    except ValueError as exc:
        raise InvalidArgumentError(
            f"run status {raw[:40]!r} is not one of {', '.join(s.value for s in RunStatus)}"
        ) from exc


@router.post("/runs/log-metric")
def log_metric(body: LogMetric, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    metric = Metric(body.key, body.value, body.step, body.timestamp)
    run_id = ctx.run(body.id)
    ctx.st.store.runs.log_metric(run_id, metric)
    if body.model_id:
        _link_metric(ctx, run_id, body)
    return JSON({})


def _link_metric(ctx: Ctx, run_id: str, m: LogMetric | MetricIn) -> None:
    """A metric logged with a ``model_id`` is also one of that logged model's metrics."""
    assert m.model_id is not None
    model = model_of_project(ctx, m.model_id)
    entry = {
        "key": m.key,
        "value": m.value,
        "timestamp": m.timestamp,
        "step": m.step,
        "run_id": run_id,
        "model_id": model.id,
    }
    if m.dataset_name:
        entry["dataset_name"] = m.dataset_name
    if m.dataset_digest:
        entry["dataset_digest"] = m.dataset_digest
    links.add_model_metric(ctx, model, entry)


@router.post("/runs/log-batch")
def log_batch(body: LogBatch, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    total = len(body.metrics) + len(body.params) + len(body.tags)
    if total > MAX_BATCH_TOTAL:
        raise InvalidArgumentError(
            f"a log-batch request holds at most {MAX_BATCH_TOTAL} metrics, params and tags "
            f"together, got {total}; split it"
        )
    metrics = [Metric(m.key, m.value, m.step, m.timestamp) for m in body.metrics]
    run_id = ctx.run(body.id)
    params = {p.key: p.value for p in body.params}
    ctx.st.store.runs.log_batch(
        run_id, metrics=metrics, params=params, tags=conv.from_kv(body.tags)
    )
    for m in body.metrics:
        if m.model_id:
            _link_metric(ctx, run_id, m)
    return JSON({})


@router.post("/runs/create")
def create(body: RunCreate, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    exp_id = ctx.experiment_id(body.experiment_id or "0")
    tags = conv.from_kv(body.tags)
    # A parent keel does not know here stays a plain tag, as in MLflow (no lineage link).
    parent = ctx.known_run(tags.get(conv.PARENT_TAG))
    name = body.run_name or tags.get(conv.RUN_NAME_TAG) or None
    user = body.user_id or tags.get(conv.USER_TAG, "") or ctx.guard.who.name
    info = ctx.st.store.runs.create(
        exp_id,
        name=name,
        parent_id=parent,
        user=user,
        tags=tags,
        start_time=body.start_time,
    )
    if conv.RUN_NAME_TAG not in tags:
        ctx.st.store.runs.set_tags(info.id, {conv.RUN_NAME_TAG: info.name})
    return JSON({"run": _run_json(ctx, info.id)})


@router.get("/runs/get")
def get(
    run_id: RunId | None = None, run_uuid: RunId | None = None, ctx: Ctx = Depends(mlflow_reader)
) -> JSON:
    return JSON({"run": _run_json(ctx, ctx.run(run_id or run_uuid))})


@router.post("/runs/update")
def update(body: RunUpdate, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    run_id = ctx.run(body.id)
    status = _status(body.status) if body.status else None
    info = ctx.st.store.runs.update(
        run_id, status=status, end_time=body.end_time, name=body.run_name
    )
    if body.run_name:
        ctx.st.store.runs.set_tags(run_id, {conv.RUN_NAME_TAG: body.run_name})
    return JSON({"run_info": conv.run_info(info, ctx.exp_str(info.experiment_id))})


@router.post("/runs/delete")
def delete(body: RunRef, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    ctx.st.store.runs.delete(ctx.run(body.id))
    return JSON({})


@router.post("/runs/restore")
def restore(body: RunRef, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    ctx.st.store.runs.restore(ctx.run(body.id))
    return JSON({})


@router.post("/runs/log-parameter")
def log_param(body: LogParam, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    ctx.st.store.runs.log_params(ctx.run(body.id), {body.key: body.value})
    return JSON({})


@router.post("/runs/set-tag")
def set_tag(body: SetTag, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    run_id = ctx.run(body.id)
    ctx.st.store.runs.set_tags(run_id, {body.key: body.value})
    if body.key == conv.RUN_NAME_TAG and body.value:
        ctx.st.store.runs.update(run_id, name=body.value)
    return JSON({})


@router.post("/runs/delete-tag")
def delete_tag(body: DeleteTag, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    run_id = ctx.run(body.id)
    run = ctx.st.store.runs.get(run_id)
    if run.info.lifecycle is not Lifecycle.ACTIVE:
        raise InvalidArgumentError(
            f"The run {run_id} must be in the 'active' state. Current state is "
            f"{run.info.lifecycle.value}."
        )
    if body.key not in run.tags:
        raise NotFoundError(f"No tag with name: {body.key} in run with id {run_id}")
    ctx.st.store.runs.delete_tag(run_id, body.key)
    return JSON({})


@router.post("/runs/log-model")
def log_model(body: LogModel, ctx: Ctx = Depends(mlflow_writer)) -> JSON:
    """Append to the run's model history tag, as MLflow's own server does."""
    run_id = ctx.run(body.id)
    try:
        model = json.loads(body.model_json)
    except ValueError as exc:
        raise InvalidArgumentError("model_json is not valid JSON") from exc
    history = ctx.st.store.runs.get(run_id).tags.get(LOG_MODEL_TAG)
    entries = json.loads(history) if history else []
    entries.append(model)
    ctx.st.store.runs.set_tags(run_id, {LOG_MODEL_TAG: json.dumps(entries)})
    return JSON({})


@router.post("/runs/search")
def search(body: RunSearch, ctx: Ctx = Depends(mlflow_reader)) -> JSON:
    check_max(ctx, body.max_results)
    view = (body.run_view_type or "ACTIVE_ONLY").upper()
    if view not in _VIEWS:
        raise InvalidArgumentError(f"run_view_type {view[:40]!r} is not one of {sorted(_VIEWS)}")
    exp_ids = [ctx.experiment_id(e, create_default=False) for e in _existing(ctx, body)]
    flt = body.filter
    if view == "DELETED_ONLY":
        flt = (
            f"({flt}) and attributes.lifecycle_stage = 'deleted'"
            if flt
            else ("attributes.lifecycle_stage = 'deleted'")
        )
    if not exp_ids:
        return JSON({})
    page = ctx.st.store.runs.search(
        exp_ids,
        flt,
        order_by=body.order_by or None,
        max_results=body.max_results,
        page_token=body.page_token,
        include_deleted=view != "ACTIVE_ONLY",
    )
    out: dict[str, Any] = {
        "runs": [conv.run(r, ctx.exp_str(r.info.experiment_id)) for r in page.runs]
    }
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return JSON(out)


def _existing(ctx: Ctx, body: RunSearch) -> list[str]:
    """Experiment ids to search; the Default experiment "0" counts only if it exists."""
    out = []
    for raw in body.experiment_ids:
        is_default = str(raw).strip() == "0"
        if is_default and ctx.st.store.experiments.find(ctx.project_id, "Default") is None:
            continue
        out.append(raw)
    return out


@router.get("/metrics/get-history")
def metric_history(
    metric_key: Key,
    run_id: RunId | None = None,
    run_uuid: RunId | None = None,
    max_results: int | None = Query(default=None, ge=1),
    page_token: Text | None = None,
    ctx: Ctx = Depends(mlflow_reader),
) -> JSON:
    rid = ctx.run(run_id or run_uuid)
    cap = ctx.st.options.max_results
    limit = cap if max_results is None else max_results
    check_max(ctx, limit)
    offset = decode(page_token)
    points = ctx.st.store.runs.metric_history(rid, metric_key, offset=offset, limit=limit + 1)
    out: dict[str, Any] = {"metrics": [conv.metric(m) for m in points[:limit]]}
    if len(points) > limit:
        out["next_page_token"] = encode(offset + limit)
    return JSON(out)
