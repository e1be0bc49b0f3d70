"""Stored reports in the UI: the list, and a report page with its Markdown rendered, live
references, versions and a discussion.

A report's Markdown is what reviewers saw when it was saved; its references stay live:
every run id in it links to the run and the "Referenced runs" panel shows each run as it is
now (renamed, still running, deleted), and model references (``name@alias``, ``name/3``)
of the project's models link to the model. Raw HTML in a report is shown as text (the
merge-request comment's ``<details>`` folds become bold headings, its marker goes).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Query, Request
from starlette.responses import Response

from keel.server.ui._common import ProjectView, ui_router, viewing
from keel.server.ui._discussion import comments_context
from keel.server.ui._render import page
from keel.store import Lifecycle, Run

router = ui_router()
_RUN_ID = re.compile(r"(?<![\w/\[])([0-9a-f]{32})(?![\w\]])")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SUMMARY = re.compile(r"<details[^>]*>\s*<summary>(.*?)</summary>", re.S)
_TAGS = re.compile(r"</details>|</?sub>")
_ALIGN = re.compile(r"^\|?(\s*:?-+:?\s*\|)+\s*:?-*:?\s*$", re.M)  # a table's |---:| line
MAX_REFERENCED = 100


@dataclass(frozen=True)
class Referenced:
    run_id: str
    run: Run | None  # None: deleted, or not in this project (never another's data)


def _model_links(view: ProjectView, text: str) -> str:
    """``name@alias`` and ``name/N`` of the project's models as links (outside code)."""
    names = sorted(
        (m.name for m in view.store.registry.list_models(view.project.id)),
        key=len,
        reverse=True,
    )
    if not names:
        return text
    alt = "|".join(re.escape(n) for n in names)
    pattern = re.compile(rf"(?<![\w\[/-])({alt})(@[\w.-]+|/\d+)(?![\w\]])")

    def link(m: re.Match[str]) -> str:
        name, rest = m.group(1), m.group(2)
        href = f"{view.base}/models/{quote(name, safe='')}"
        if rest.startswith("/"):
            href += rest
        return f"[{name}{rest}]({href})"

    return _outside_code(text, lambda part: pattern.sub(link, part))


def _outside_code(text: str, change: Callable[[str], str]) -> str:
    """Apply ``change`` to the parts of ``text`` outside code spans and fences."""
    parts = re.split(r"(```.*?```|`[^`\n]*`)", text, flags=re.S)
    return "".join(p if i % 2 else change(p) for i, p in enumerate(parts))


def report_markdown(view: ProjectView, markdown: str) -> tuple[str, list[str]]:
    """The Markdown to render (live links, no raw HTML), and the run ids it names."""
    text = _COMMENT.sub("", markdown)
    text = _SUMMARY.sub(lambda m: f"**{m.group(1).strip()}**", text)
    text = _TAGS.sub("", text)
    text = _ALIGN.sub(lambda m: m.group(0).replace(":", "-"), text)  # no inline styles (CSP)
    ids = list(dict.fromkeys(_RUN_ID.findall(text)))[:MAX_REFERENCED]
    runs = f"{view.base}/runs/"
    text = _outside_code(text, lambda part: _RUN_ID.sub(rf"[\1]({runs}\1)", part))
    return _model_links(view, text), ids


def referenced(view: ProjectView, run_ids: list[str]) -> list[Referenced]:
    """Each run as it is now; runs of other projects show as gone (never their data)."""
    st = view.guard.st
    found = {r.id: r for r in st.store.runs.get_many(run_ids)} if run_ids else {}
    out = []
    for run_id in run_ids:
        run = found.get(run_id)
        if run is not None and (
            run.info.lifecycle != Lifecycle.ACTIVE
            or st.project_of_experiment(run.info.experiment_id) != view.project.id
        ):
            run = None
        out.append(Referenced(run_id, run))
    return out


@router.get("/ui/p/{project}/reports")
def reports_page(request: Request, view: ProjectView = viewing("reports")) -> Response:
    reports = view.store.reports.list(view.project.id, limit=200)
    return page(request, "reports.html", view.context(reports=reports))


@router.get("/ui/p/{project}/reports/{report_id}")
def report_page(
    request: Request,
    report_id: int,
    version: int | None = Query(None, ge=1, le=1 << 30),
    view: ProjectView = viewing("reports"),
) -> Response:
    store = view.store
    report = store.reports.get(view.project.id, report_id, version=version)
    versions = store.reports.versions(view.project.id, report_id)
    text, ids = report_markdown(view, report.markdown)
    here = f"{view.base}/reports/{report_id}"
    return page(
        request,
        "report.html",
        view.context(
            report=report,
            body=text,
            runs=referenced(view, ids),
            versions=versions,
            latest=versions[0].version,
            **comments_context(view, "report", str(report_id), here),
        ),
    )


__all__ = ["referenced", "report_markdown", "router"]
