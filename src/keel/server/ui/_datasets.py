"""Datasets: versions, schema, profile, the runs that used a version, and diffs.

Everything here reads stored metadata (schema and profile JSON); no data file is opened,
so a page costs the same for a 10-row CSV as for a billion-row table.
"""

from __future__ import annotations

from fastapi import Depends, Query, Request
from starlette.responses import Response

from keel.server._auth import Guard, reader
from keel.server.ui._common import open_project, ui_router
from keel.server.ui._render import page

router = ui_router()
MAX_FILES = 500


@router.get("/ui/p/{project}/datasets")
def datasets(request: Request, project: str, guard: Guard = Depends(reader)) -> Response:
    view = open_project(guard, project, "datasets")
    rows = guard.st.store.datasets.list_with_latest(view.project.id)
    return page(request, "datasets.html", view.context(datasets=rows))


@router.get("/ui/p/{project}/datasets/{name}")
def dataset_page(
    request: Request,
    project: str,
    name: str,
    version: int | None = Query(default=None, ge=1, le=2**31 - 1),
    guard: Guard = Depends(reader),
) -> Response:
    view = open_project(guard, project, "datasets")
    store = guard.st.store
    dataset = store.datasets.get(view.project.id, name)
    versions = store.datasets.versions(view.project.id, name)
    current = store.datasets.get_version(view.project.id, name, version)
    files = store.datasets.files(current.id)[:MAX_FILES] if current.kind == "files" else []
    runs = []
    for run_id, direction in store.datasets.runs_of(current.id):
        runs.append((direction, store.runs.get_info(run_id)))
    context = view.context(
        dataset=dataset,
        versions=sorted(versions, key=lambda v: v.version, reverse=True),
        current=current,
        columns=(current.profile or {}).get("columns", {}),
        files=files,
        runs=runs,
    )
    return page(request, "dataset.html", context)


@router.get("/ui/p/{project}/datasets/{name}/diff")
def dataset_diff(
    request: Request,
    project: str,
    name: str,
    a: int = Query(ge=1, le=2**31 - 1),
    b: int = Query(ge=1, le=2**31 - 1),
    guard: Guard = Depends(reader),
) -> Response:
    from keel.data import DatasetClient

    view = open_project(guard, project, "datasets")
    client = DatasetClient(guard.st.store, view.project)
    diff = client.diff(f"{name}@{a}", f"{name}@{b}")
    return page(request, "dataset_diff.html", view.context(name=name, a=a, b=b, diff=diff))


__all__ = ["router"]
