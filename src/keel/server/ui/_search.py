"""The search page: one box over a project's runs, notes, comments, reports, models, datasets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from fastapi import Query, Request
from markupsafe import Markup
from starlette.responses import Response

from keel.exceptions import InvalidArgumentError
from keel.server.ui._common import ProjectView, ui_router, viewing
from keel.server.ui._render import page
from keel.store.search import KINDS, SearchHit

router = ui_router()
_MATCH = re.compile(r"\*\*(.+?)\*\*")


@dataclass(frozen=True)
class Row:
    hit: SearchHit
    href: str
    snippet: Markup


def _href(base: str, hit: SearchHit) -> str:
    from urllib.parse import quote

    if hit.kind == "run":
        return f"{base}/runs/{quote(hit.ref, safe='')}"
    if hit.kind == "model":
        return f"{base}/models/{quote(hit.ref, safe='/')}"
    if hit.kind == "dataset":
        return f"{base}/datasets/{quote(hit.ref, safe='')}"
    if hit.kind == "report":
        return f"{base}/reports/{quote(hit.ref, safe='')}"
    return ""


def highlight(snippet: str) -> Markup:
    """The snippet escaped, with the search's ``**match**`` marks as ``<mark>``."""
    return Markup(_MATCH.sub(r"<mark>\1</mark>", escape(snippet)))


@router.get("/ui/p/{project}/search")
def search_page(
    request: Request,
    q: str = Query("", max_length=500),
    kind: str = Query(""),
    semantic: bool = Query(False),
    view: ProjectView = viewing("search"),
) -> Response:
    rows: list[Row] = []
    error = ""
    if q.strip():
        index = view.store.search
        try:
            index.refresh(view.project.id)
            kinds = [kind] if kind else []
            hits = index.search(view.project.id, q, kinds=kinds, limit=50, semantic=semantic)
        except InvalidArgumentError as exc:
            hits, error = [], str(exc)
        rows = [Row(h, _href(view.base, h), highlight(h.snippet)) for h in hits]
    return page(
        request,
        "search.html",
        view.context(q=q, kind=kind, kinds=KINDS, rows=rows, error=error, semantic=semantic),
    )
