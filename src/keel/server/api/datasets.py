"""``/api/v1/datasets``: dataset versions, their files and the runs that used them."""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from pydantic import BaseModel, Field

from keel.server._auth import Guard, reader, writer
from keel.server._types import Id, Int64, Loose, Millis, Name, RunId, Sha, Text
from keel.server.api._passthrough import Router
from keel.server.api.artifacts import refs
from keel.store import Dataset, DatasetFile, DatasetVersion
from keel.store.wire import envelope

router = Router(prefix="/api/v1", tags=["datasets"])


class DatasetIn(BaseModel):
    project_id: Id
    name: Name
    description: Loose = ""


class FileIn(BaseModel):
    """A file of a version; its size is the one of its blob on the server."""

    path: Text
    blob_sha: Sha
    size: Int64 = 0


class VersionIn(BaseModel):
    content_hash: Text
    kind: Text
    source: dict[str, Any] = {}
    schema_: list[dict[str, Any]] = Field(default=[], alias="schema")
    profile: dict[str, Any] = {}
    num_rows: Millis | None = None
    files: list[FileIn] = Field(default=[], max_length=1_000_000)
    run_id: RunId | None = None
    receipts: dict[Sha, Text] = {}


class DatasetOut(BaseModel):
    dataset: Dataset
    latest: DatasetVersion | None


class VersionOut(BaseModel):
    version: DatasetVersion
    created: bool


class RunLink(BaseModel):
    run_id: str
    direction: str


@router.get("/datasets", response_model=envelope("datasets", list[DatasetOut]))
def list_datasets(project_id: Id, guard: Guard = Depends(reader)) -> dict[str, Any]:
    pairs = guard.st.store.datasets.list_with_latest(project_id)
    return {"datasets": [DatasetOut(dataset=d, latest=v) for d, v in pairs]}


@router.post("/datasets")
def get_or_create_dataset(body: DatasetIn, guard: Guard = Depends(writer)) -> Dataset:
    guard.project_id(body.project_id)
    return guard.st.store.datasets.get_or_create(body.project_id, body.name, body.description)


router.serve(reader, "datasets.get", "get_dataset", name=Name)
router.serve(reader, "datasets.versions", "list_versions", name=Name)
router.serve(reader, "datasets.get_version", name=Name)


@router.post("/datasets/{dataset_id}/versions")
def add_version(dataset_id: Id, body: VersionIn, guard: Guard = Depends(writer)) -> VersionOut:
    guard.dataset(dataset_id)
    if body.run_id is not None:
        guard.run(body.run_id)
    st = guard.st
    project_id = st.store.ownership.project_of("dataset", dataset_id)
    pairs = st.store.datasets.list_with_latest(project_id)
    dataset = next(d for d, _ in pairs if d.id == dataset_id)
    named = refs(st, guard.who, [(f.path, f.blob_sha) for f in body.files], body.receipts)
    files = [DatasetFile(path, ref.sha, ref.size) for path, ref in named]
    fields = body.model_dump(by_alias=True, exclude={"files", "receipts"})
    version, created = st.store.datasets.add_version(dataset, files=files, **fields)
    return VersionOut(version=version, created=created)


router.serve(reader, "datasets.get_version_by_id", owner=Guard.dataset_version)
router.serve(reader, "datasets.files", "version_files", owner=Guard.dataset_version)


@router.get("/dataset-versions/{version_id}/runs", response_model=envelope("runs", list[RunLink]))
def version_runs(version_id: Id, guard: Guard = Depends(reader)) -> dict[str, Any]:
    guard.dataset_version(version_id)
    runs = guard.st.store.datasets.runs_of(version_id)
    return {"runs": [RunLink(run_id=r, direction=d) for r, d in runs]}
