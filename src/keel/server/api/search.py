"""``/api/v1/projects/{id}/search`` and ``.../reports``: full-text search over one project's
runs, comments, reports, models and datasets, and its stored reports.

A search names its project, so the router's project scope lets only the project's readers
in: nobody finds what they cannot read. Refreshing the index writes only derived rows, so
readers may ask for it too (a search from a reader's CLI refreshes first).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, StringConstraints

from keel.server._auth import Guard, reader, writer
from keel.server._types import Id, Int64
from keel.store.reports import ReportVersion, StoredReport
from keel.store.search import SearchHit
from keel.store.wire import envelope

router = APIRouter(prefix="/api/v1", tags=["search"])
_NO_NUL = r"^[^\x00]*$"
SEARCH = "/projects/{project_id}/search"
REPORTS = "/projects/{project_id}/reports"


class Indexed(BaseModel):
    indexed: int


class ReportIn(BaseModel):
    title: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=_NO_NUL)]
    markdown: Annotated[str, StringConstraints(max_length=1 << 20, pattern=_NO_NUL)]
    base: Annotated[str, StringConstraints(max_length=255, pattern=_NO_NUL)] = ""
    head: Annotated[str, StringConstraints(max_length=255, pattern=_NO_NUL)] = ""
    author: Annotated[str, StringConstraints(max_length=255, pattern=_NO_NUL)] = ""


@router.get(SEARCH, response_model=envelope("hits", list[SearchHit]))
def search(
    project_id: Id,
    q: Annotated[str, Query(max_length=500)],
    kind: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    author: Annotated[str | None, Query(max_length=255)] = None,
    since: Int64 | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    semantic: bool = False,
    guard: Guard = Depends(reader),
) -> dict[str, Any]:
    hits = guard.st.store.search.search(
        project_id, q, kinds=kind, author=author, since=since, limit=limit, semantic=semantic
    )
    return {"hits": hits}


@router.post(f"{SEARCH}/refresh")
def refresh(project_id: Id, guard: Guard = Depends(reader)) -> Indexed:
    return Indexed(indexed=guard.st.store.search.refresh(project_id))


@router.post(f"{SEARCH}/rebuild")
def rebuild(project_id: Id, guard: Guard = Depends(writer)) -> Indexed:
    return Indexed(indexed=guard.st.store.search.rebuild(project_id))


# -- stored reports --------------------------------------------------------------------------
@router.get(REPORTS, response_model=envelope("reports", list[StoredReport]))
def list_reports(
    project_id: Id,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    guard: Guard = Depends(reader),
) -> dict[str, Any]:
    return {"reports": guard.st.store.reports.list(project_id, limit=limit)}


class RevisionIn(BaseModel):
    markdown: Annotated[str, StringConstraints(max_length=1 << 20, pattern=_NO_NUL)]
    title: Annotated[str, StringConstraints(max_length=512, pattern=_NO_NUL)] = ""
    author: Annotated[str, StringConstraints(max_length=255, pattern=_NO_NUL)] = ""


@router.get(REPORTS + "/{report_id}")
def get_report(
    project_id: Id,
    report_id: Id,
    version: Annotated[int | None, Query(ge=1, le=1 << 30)] = None,
    guard: Guard = Depends(reader),
) -> StoredReport:
    return guard.st.store.reports.get(project_id, report_id, version=version)


@router.get(
    REPORTS + "/{report_id}/versions", response_model=envelope("versions", list[ReportVersion])
)
def report_versions(
    project_id: Id, report_id: Id, guard: Guard = Depends(reader)
) -> dict[str, Any]:
    return {"versions": guard.st.store.reports.versions(project_id, report_id)}


@router.post(REPORTS + "/{report_id}/versions")
def revise_report(
    project_id: Id, report_id: Id, body: RevisionIn, guard: Guard = Depends(writer)
) -> StoredReport:
    author = guard.who.name or body.author
    return guard.st.store.reports.revise(
        project_id, report_id, body.markdown, title=body.title, author=author
    )


@router.post(REPORTS)
def save_report(project_id: Id, body: ReportIn, guard: Guard = Depends(writer)) -> StoredReport:
    author = guard.who.name or body.author
    return guard.st.store.reports.save(
        project_id, body.title, body.markdown, base=body.base, head=body.head, author=author
    )
