"""Pipelines: recent pipeline runs, and one run's DAG with each step's status, cache,
duration and resources.

The DAG comes from what the run recorded (each step run's ``keel.step.inputs`` tag names
the nodes it consumed), so the page needs neither the pipeline's code nor its process.
"""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request
from starlette.responses import Response

from keel.server.ui._common import ProjectView, ui_router, viewing
from keel.server.ui._graph import Layout, Node, layout
from keel.server.ui._render import fmt_duration, page
from keel.store.pipelines import StepRunInfo

router = ui_router()


@router.get("/ui/p/{project}/pipelines")
def pipelines(
    request: Request,
    pipeline: str | None = Query(default=None, max_length=255),
    view: ProjectView = viewing("pipelines"),
) -> Response:
    runs = view.store.pipeline_runs.list(view.project.id, pipeline=pipeline, limit=200)
    return page(request, "pipelines.html", view.context(runs=runs, pipeline=pipeline or ""))


def dag(view: ProjectView, steps: list[StepRunInfo]) -> tuple[Layout, dict[str, dict[str, str]]]:
    """The DAG of one pipeline run and each step run's tags (inputs, resources ...)."""
    store = view.store
    run_ids = [s.run_id for s in steps if s.run_id]
    tags = {r.id: r.tags for r in store.runs.get_many(run_ids)} if run_ids else {}
    nodes, edges = [], []
    by_node: dict[str, dict[str, str]] = {}
    for s in steps:
        t = tags.get(s.run_id or "", {})
        by_node[s.node] = t
        sub = f"{s.status.value} · {fmt_duration(s.duration_ms)}"
        href = f"{view.base}/runs/{s.run_id}" if s.run_id else ""
        title = f"{s.node}: {s.status.value}" + (f" ({s.reason})" if s.reason else "")
        nodes.append(Node(s.node, s.node, s.status.value, href, sub, title))
        for dep in filter(None, t.get("keel.step.inputs", "").split(",")):
            edges.append((dep, s.node))
    return layout(nodes, edges), by_node


@router.get("/ui/p/{project}/pipelines/runs/{run_id}")
def pipeline_run(
    request: Request, run_id: str, view: ProjectView = viewing("pipelines")
) -> Response:
    info = view.store.pipeline_runs.get(run_id, project_id=view.project.id)
    steps = view.store.pipeline_runs.steps(info.id)
    graph, tags = dag(view, steps)
    rows: list[dict[str, Any]] = [
        {
            "step": s,
            "resources": tags.get(s.node, {}).get("keel.step.resources", ""),
            "cached_from": tags.get(s.node, {}).get("keel.step.cached_from", ""),
        }
        for s in steps
    ]
    return page(request, "pipeline_run.html", view.context(info=info, graph=graph, rows=rows))


__all__ = ["dag", "router"]
