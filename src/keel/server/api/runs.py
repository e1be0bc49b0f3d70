"""``/api/v1/runs``: runs, what they log (params, metrics, tags, notes), lineage, search."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from keel.exceptions import InvalidArgumentError
from keel.server._auth import Guard, reader, writer
from keel.server._types import Id, Int64, Loose, Millis, RunId
from keel.server.api._passthrough import Router
from keel.store import Metric, Run, RunInfo, RunPage, RunStatus
from keel.store.users import Role
from keel.store.wire import Empty, envelope

router = Router(prefix="/api/v1/runs", tags=["runs"])


class RunIn(BaseModel):
    experiment_id: Id
    name: Loose | None = None
    parent_id: RunId | None = None
    user: Loose = ""
    tags: dict[Loose, Loose] = {}
    start_time: Millis | None = None
    status: RunStatus = RunStatus.RUNNING


class RunPatch(BaseModel):
    status: RunStatus | None = None
    end_time: Millis | None = None
    name: Loose | None = None
    note: Loose | None = None


class MetricIn(BaseModel):
    key: Loose
    value: float
    step: Int64 = 0
    timestamp: Millis = 0


class BatchIn(BaseModel):
    metrics: list[MetricIn] = Field(default=[], max_length=100_000)
    params: dict[Loose, Loose] = {}
    tags: dict[Loose, Loose] = {}


class TagIn(BaseModel):
    key: Loose
    value: Loose


class RunIds(BaseModel):
    run_ids: list[RunId] = Field(max_length=10_000)


class LinkIn(BaseModel):
    version_id: Id
    direction: str


class DatasetLinkOut(BaseModel):
    version_id: int
    direction: str


class SearchIn(BaseModel):
    experiment_ids: list[Id] = Field(max_length=1000)
    filter: Loose | None = None
    order_by: list[Loose] = Field(default=[], max_length=20)
    max_results: int = Field(default=1000, ge=1)
    page_token: Loose | None = None
    include_deleted: bool = False


serve_run = partial(router.serve, owner=Guard.run, run_id=RunId)


@router.post("")
def create_run(body: RunIn, guard: Guard = Depends(writer)) -> RunInfo:
    guard.experiment(body.experiment_id)
    if body.parent_id is not None:
        guard.run(body.parent_id)
    return guard.st.store.runs.create(
        body.experiment_id,
        name=body.name,
        parent_id=body.parent_id,
        user=body.user or guard.who.name,
        tags=body.tags,
        start_time=body.start_time,
        status=body.status,
    )


@router.get("/{run_id}")
def get_run(
    run_id: RunId, info_only: bool = False, guard: Guard = Depends(reader)
) -> Run | RunInfo:
    guard.run(run_id)
    runs = guard.st.store.runs
    return runs.get_info(run_id) if info_only else runs.get(run_id)


@router.post("/get-many", response_model=envelope("runs", list[Run]))
def get_many(body: RunIds, guard: Guard = Depends(reader)) -> dict[str, Any]:
    for run_id in body.run_ids:
        guard.run(run_id)
    return {"runs": guard.st.store.runs.get_many(body.run_ids)}


@router.patch("/{run_id}")
def update_run(run_id: RunId, body: RunPatch, guard: Guard = Depends(writer)) -> RunInfo:
    guard.run(run_id)
    return guard.st.store.runs.update(
        run_id, status=body.status, end_time=body.end_time, name=body.name, note=body.note
    )


serve_run(writer, "runs.delete", "delete_run")
serve_run(writer, "runs.restore", "restore_run")
serve_run(reader, "runs.children")


@router.post("/{run_id}/batch")
def log_batch(run_id: RunId, body: BatchIn, guard: Guard = Depends(writer)) -> Empty:
    guard.run(run_id)
    metrics = [Metric(m.key, m.value, m.step, m.timestamp) for m in body.metrics]
    guard.st.store.runs.log_batch(run_id, metrics=metrics, params=body.params, tags=body.tags)
    return Empty()


@router.post("/{run_id}/tags")
def set_tag(run_id: RunId, body: TagIn, guard: Guard = Depends(writer)) -> Empty:
    guard.run(run_id)
    guard.st.store.runs.set_tags(run_id, {body.key: body.value})
    return Empty()


serve_run(writer, "runs.delete_tag")


@router.get("/{run_id}/metric-history", response_model=envelope("metrics", list[Metric]))
def metric_history(
    run_id: RunId,
    key: Loose,
    offset: int = Query(default=0, ge=0, le=2**53),
    limit: int | None = Query(default=None, ge=1),
    guard: Guard = Depends(reader),
) -> dict[str, Any]:
    guard.run(run_id)
    cap = guard.st.options.max_results
    if limit is not None and limit > cap:
        raise InvalidArgumentError(f"limit {limit} is over this server's cap of {cap}; page")
    return {"metrics": guard.st.store.runs.metric_history(run_id, key, offset=offset, limit=limit)}


serve_run(reader, "runs.metric_keys")


@router.post("/{run_id}/datasets")
def link_dataset(run_id: RunId, body: LinkIn, guard: Guard = Depends(writer)) -> Empty:
    guard.run(run_id)
    guard.dataset_version(body.version_id, Role.READER)
    guard.st.store.runs.link_dataset(run_id, body.version_id, body.direction)
    return Empty()


@router.get("/{run_id}/datasets", response_model=envelope("links", list[DatasetLinkOut]))
def dataset_links(run_id: RunId, guard: Guard = Depends(reader)) -> dict[str, Any]:
    guard.run(run_id)
    links = guard.st.store.runs.dataset_links(run_id)
    return {"links": [DatasetLinkOut(version_id=v, direction=d) for v, d in links]}


@router.post("/search")
def search_runs(body: SearchIn, guard: Guard = Depends(reader)) -> RunPage:
    for exp_id in body.experiment_ids:
        guard.experiment(exp_id)
    cap = guard.st.options.max_results
    if body.max_results > cap:
        raise InvalidArgumentError(
            f"max_results {body.max_results} is over this server's cap of {cap}; page with "
            "page_token"
        )
    return guard.st.store.runs.search(
        body.experiment_ids,
        body.filter,
        order_by=body.order_by or None,
        max_results=body.max_results,
        page_token=body.page_token,
        include_deleted=body.include_deleted,
    )
