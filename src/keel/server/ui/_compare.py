"""Compare runs (CR_3): overlaid metric curves, parallel coordinates, a diff table.

The page carries the runs' params and latest metrics; each metric's curves come from
``/compare/series`` (one request per metric, so the browser draws each chart as soon as
its data lands), bucketed in the database to ``points`` per run.
"""

from __future__ import annotations

import math
from collections import Counter
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import Query, Request
from starlette.responses import Response

from keel.server.ui._common import (
    ProjectView,
    check_found_runs,
    check_runs,
    compare_subject,
    run_ids_param,
    ui_router,
    viewing,
)
from keel.server.ui._direction import cell_class, directions, extremes
from keel.server.ui._discussion import comments_context
from keel.server.ui._grouping import group_runs, groupable
from keel.server.ui._render import page
from keel.server.ui._run import encode_series, series_body, series_json, wants_gzip
from keel.server.ui._series_cache import SeriesCache
from keel.store import Run

router = ui_router()
MAX_KEY = 250
EXACT_UP_TO = 10
DEFAULT_POINTS = 100
PREFETCH_KEYS = 50
GALLERY_RUNS = 12
GALLERY_PATHS = 12


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def labels(runs: list[Run]) -> dict[str, str]:
    """A label per run: its name, with a short id after it when two runs share a name."""
    counts = Counter(r.name for r in runs)
    return {r.id: f"{r.name} · {r.id[:6]}" if counts[r.name] > 1 else r.name for r in runs}


def _table(runs: list[Run], exp_tags: list[dict[str, str]]) -> dict[str, Any]:
    """Params (the differing ones) and latest metrics side by side, best and worst marked
    by each metric's direction (see :mod:`keel.server.ui._direction`)."""
    param_keys = sorted({k for r in runs for k in r.params})
    metric_keys = sorted({k for r in runs for k in r.metrics})
    differing = [k for k in param_keys if len({r.params.get(k) for r in runs}) > 1]
    same = [k for k in param_keys if k not in differing]
    lower = directions(metric_keys, [r.tags for r in runs] + exp_tags)
    ext = extremes({k: [r.metrics.get(k) for r in runs] for k in metric_keys}, lower)
    return {
        "differing": differing,
        "same": same,
        "metric_keys": metric_keys,
        "lower": lower,
        "mark": lambda key, value: cell_class(ext.get(key), value),
    }


def _parallel(
    runs: list[Run], differing: list[str], metric_keys: list[str], names: dict[str, str]
) -> dict[str, Any]:
    """Data for the parallel-coordinates chart: numeric axes where every value parses;
    a run without a param keeps its line, drawn through the axis's "missing" mark."""
    axes = []
    for key in differing:
        values = [r.params.get(key) for r in runs]
        numeric = all(v is None or _number(v) is not None for v in values)
        axes.append({"key": key, "numeric": numeric})
    rows = [
        {
            "id": r.id,
            "name": names[r.id],
            "params": {key: r.params.get(key) for key in differing},
            "metrics": {
                k: (v if math.isfinite(v) else None)
                for k in metric_keys
                if (v := r.metrics.get(k)) is not None
            },
        }
        for r in runs
    ]
    return {"axes": axes, "metrics": metric_keys, "runs": rows}


def gallery(view: ProjectView, runs: list[Run]) -> list[tuple[str, dict[str, str]]]:
    """Images the compared runs logged, by path: ``[(path, {run id: raw URL})]``, the paths
    most runs share first (the same plot from each run, side by side)."""
    from keel.server.ui._artifacts import IMAGES, suffix

    by_path: dict[str, dict[str, str]] = {}
    for run in runs[:GALLERY_RUNS]:
        for art in view.store.artifacts.list(run.id):
            if suffix(art.path) in IMAGES:
                url = f"{view.base}/runs/{run.id}/raw/{quote(art.path)}"
                by_path.setdefault(art.path, {})[run.id] = url
    ordered = sorted(by_path.items(), key=lambda item: (-len(item[1]), item[0]))
    return ordered[:GALLERY_PATHS]


@router.get("/ui/p/{project}/compare")
def compare_page(
    request: Request,
    runs: str = Query(max_length=20_000),
    group: str = Query(default="", max_length=MAX_KEY),
    view: ProjectView = viewing("experiments"),
) -> Response:
    ids = run_ids_param(runs)
    found = view.store.runs.get_many(ids)  # NotFoundError names a missing run
    check_found_runs(view, found)
    choices = groupable(found)
    groups = group_runs(found, group, choices)
    exps = {r.info.experiment_id for r in found}
    exp_tags = [view.store.experiments.get(e).tags for e in sorted(exps)]
    table = _table(found, exp_tags)
    names = labels(found)
    chart_keys = [k for k in table["metric_keys"] if not k.startswith("system.")]
    subject = compare_subject(ids)
    context = view.context(
        runs=found,
        names=names,
        gallery=gallery(view, found),
        gallery_runs=found[:GALLERY_RUNS],
        run_ids=",".join(ids),
        chart_keys=chart_keys,
        group_choices=choices,
        group_key=group,
        groups=groups,
        data={
            "runs": [{"id": r.id, "name": names[r.id]} for r in found],
            "keys": chart_keys,
            "lower": {k: table["lower"][k] for k in table["metric_keys"]},
            "src": f"{view.base}/compare/series?runs={','.join(ids)}",
            "parallel": _parallel(found, table["differing"], table["metric_keys"], names),
            "groups": [{"label": g.label, "runs": list(g.runs)} for g in groups],
        },
        comment_runs=",".join(ids),
        **table,
        **comments_context(view, "compare", subject, f"{view.base}/compare?runs={runs}"),
    )
    _prefetch(view, request.app.state.keel_ui.series_cache, ids, chart_keys)
    return page(request, "compare.html", context)


@router.get("/ui/p/{project}/compare/series")
def compare_series(
    request: Request,
    runs: str = Query(max_length=20_000),
    key: str = Query(max_length=MAX_KEY),
    points: int = Query(default=DEFAULT_POINTS, ge=10, le=2000),
    view: ProjectView = viewing("experiments"),
) -> Response:
    ids = run_ids_param(runs)
    check_runs(view, ids)
    cache: SeriesCache = request.app.state.keel_ui.series_cache
    body = _series(view, cache, ids, key, points, gz=wants_gzip(request))
    return series_body(body)


def _series(
    view: ProjectView, cache: SeriesCache, ids: list[str], key: str, points: int, *, gz: bool
) -> bytes:
    """One metric of the compared runs, from the cache while their newest points hold."""
    stats = view.store.run_stats

    def make() -> bytes:
        # min/max buckets read every stored point; past a few runs a stride keeps it fast
        items = stats.sample_history(ids, key, points=points, exact=len(ids) <= EXACT_UP_TO)
        payload = {"key": key, "series": series_json(items, band=len(items) <= 3)}
        return encode_series(payload, gz=gz)

    entry = (view.project.id, key, tuple(ids), points, gz)
    return cache.compute(entry, tuple(stats.latest_points(ids, key)), make)


def _prefetch(view: ProjectView, cache: SeriesCache, ids: list[str], keys: list[str]) -> None:
    """Start sampling what the page will ask for while the browser is still loading it."""

    if len(ids) < 2:
        return
    for key in keys[:PREFETCH_KEYS]:  # in page order: the first charts come first
        cache.prefetch(partial(_series, view, cache, ids, key, DEFAULT_POINTS, gz=True))


__all__ = ["router"]
