"""Datasets: versions, schema, profile, the runs that used a version, and diffs.

Everything here reads stored metadata (schema and profile JSON), except the sample rows:
the first rows of a table version's Parquet blob, read only when the blob is at most
:data:`SAMPLE_LIMIT` bytes, so a billion-row table costs no more than a small one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from fastapi import Query, Request
from starlette.responses import Response

from keel.server.ui._common import ProjectView, ui_router, viewing
from keel.server.ui._render import page, quote_path

router = ui_router()
MAX_FILES = 500
MAX_SAMPLE_ROWS = 20
SAMPLE_LIMIT = 32 << 20
MAX_VERSION_RUNS = 50
#: Quantile edges a profile stores, and the share of values between neighbouring edges.
EDGES = ("min", "p5", "p25", "p50", "p75", "p95", "max")
MASS = (0.05, 0.20, 0.25, 0.25, 0.20, 0.05)
W, H = 160.0, 36.0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    title: str


def histogram(profile: dict[str, Any]) -> list[Bar]:
    """Bars for a column's distribution from what its stored profile holds: one bar per
    value where the profile lists every value (categories, numbers with few values, in
    value order), else the share of values between stored quantiles drawn as density
    (area = share). Empty when the profile has neither."""
    if profile.get("top"):
        top = profile["top"][:10]
        if "quantiles" in profile:  # every value of a numeric column: draw them in order
            top = sorted(top, key=lambda t: t["value"])
        return _top_bars(top, profile.get("count") or 0)
    quantiles = profile.get("quantiles") or {}
    edges = [profile.get("min"), *(quantiles.get(k) for k in EDGES[1:-1]), profile.get("max")]
    if not all(isinstance(e, int | float) and math.isfinite(e) for e in edges):
        return []
    lo, hi = float(edges[0]), float(edges[-1])  # type: ignore[arg-type]
    if hi <= lo:
        return [Bar(0, 0, W, H, f"every value is {lo:g}")]
    span, min_w = hi - lo, (hi - lo) / 60
    parts = _intervals([float(e) for e in edges])  # type: ignore[arg-type]
    top = max(m / max(b - a, min_w) for a, b, m, _names in parts)
    out = []
    for a, b, m, (first, last) in parts:
        w = max(b - a, min_w)
        x = min(a, hi - w)  # a zero-width interval at the max is drawn just inside
        h = H * (m / w) / top
        edges_text = f"{a:.4g}" if a == b else f"{a:.4g} to {b:.4g}"
        title = f"{first} to {last}: {edges_text} ({m:.0%} of values)"
        out.append(Bar((x - lo) / span * W, H - h, max(w / span * W, 1.0), h, title))
    return out


def _intervals(edges: list[float]) -> list[tuple[float, float, float, tuple[str, str]]]:
    """(start, end, share, (first edge name, last edge name)) between neighbouring quantile
    edges; neighbouring zero-width intervals at one value are merged into one."""
    out: list[tuple[float, float, float, tuple[str, str]]] = []
    for (a, b), m, (first, last) in zip(pairwise(edges), MASS, pairwise(EDGES), strict=True):
        if out and a == b and out[-1][0] == out[-1][1] == a:
            pa, pb, pm, (pfirst, _) = out.pop()
            a, b, m, first = pa, pb, pm + m, pfirst
        out.append((a, b, m, (first, last)))
    return out


def _top_bars(top: list[dict[str, Any]], count: int) -> list[Bar]:
    most = max(int(t["count"]) for t in top) or 1
    width = W / len(top)
    out = []
    for i, t in enumerate(top):
        h = H * int(t["count"]) / most
        share = f" ({int(t['count']) / count:.0%})" if count else ""
        out.append(Bar(i * width, H - h, width * 0.85, h, f"{t['value']}: {t['count']}{share}"))
    return out


def sample_rows(store: Any, version: Any) -> tuple[list[str], list[list[Any]], str]:
    """(columns, rows, note) of a version's sample: the one its profile stores, else the
    first rows of a table version's data (when it is small enough to read on a page view)."""
    columns, rows = _profile_sample(version.profile or {})
    if rows or version.kind != "table":
        return columns, rows, ""
    from keel.server.ui._artifacts import parquet_head

    files = store.datasets.files(version.id)
    if len(files) != 1:
        return [], [], ""
    head = parquet_head(
        store.blobs, files[0].blob_sha, files[0].size, MAX_SAMPLE_ROWS, SAMPLE_LIMIT
    )
    if head.kind != "table":
        return (
            [],
            [],
            (
                f"No sample rows: v{version.version} is {files[0].size:,} bytes, more than the "
                f"{SAMPLE_LIMIT >> 20} MB a page view reads; load it with "
                f"keel.load_dataset({version.ref!r})."
            ),
        )
    return head.columns, head.rows, f"the first {len(head.rows)} rows of v{version.version}"


def _profile_sample(profile: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """(columns, rows) of the sample a profile stores, if it stores one."""
    sample = profile.get("sample")
    if isinstance(sample, dict) and isinstance(sample.get("rows"), list):
        return list(sample.get("columns") or []), sample["rows"][:MAX_SAMPLE_ROWS]
    if isinstance(sample, list) and sample and isinstance(sample[0], dict):
        columns = list(sample[0])
        return columns, [[r.get(c) for c in columns] for r in sample[:MAX_SAMPLE_ROWS]]
    return [], []


@router.get("/ui/p/{project}/datasets")
def datasets(request: Request, view: ProjectView = viewing("datasets")) -> Response:
    rows = view.store.datasets.list_with_latest(view.project.id)
    return page(request, "datasets.html", view.context(datasets=rows))


@router.get("/ui/p/{project}/datasets/{name}")
def dataset_page(
    request: Request,
    name: str,
    version: int | None = Query(default=None, ge=1, le=2**31 - 1),
    view: ProjectView = viewing("datasets"),
) -> Response:
    store = view.store
    dataset = store.datasets.get(view.project.id, name)
    versions = store.datasets.versions(view.project.id, name)
    current = store.datasets.get_version(view.project.id, name, version)
    files = store.datasets.files(current.id)[:MAX_FILES] if current.kind == "files" else []
    runs = []
    for run_id, direction in store.datasets.runs_of(current.id):
        runs.append((direction, store.runs.get_info(run_id)))
    ordered = sorted(versions, key=lambda v: v.version, reverse=True)
    profile = current.profile or {}
    columns = profile.get("columns", {})
    sample_columns, sample, sample_note = sample_rows(store, current)
    context = view.context(
        dataset=dataset,
        versions=ordered,
        by_run={v.version: _run_of(store, v) for v in ordered[:MAX_VERSION_RUNS]},
        current=current,
        columns=columns,
        histograms={name: histogram(p) for name, p in columns.items()},
        hist_size=(W, H),
        sample_columns=sample_columns,
        sample=sample,
        sample_note=sample_note,
        files=files,
        runs=runs,
    )
    return page(request, "dataset.html", context)


def _run_of(store: Any, version: Any) -> str | None:
    """The run that made a version: the one recorded with it, else a run that logged it
    as an output, else one that read it."""
    if version.run_id:
        return str(version.run_id)
    links = sorted(store.datasets.runs_of(version.id), key=lambda r: r[1] != "output")
    return links[0][0] if links else None


@router.get("/ui/p/{project}/datasets/{name}/diff")
def dataset_diff(
    request: Request,
    name: str,
    a: int = Query(ge=1, le=2**31 - 1),
    b: int = Query(ge=1, le=2**31 - 1),
    view: ProjectView = viewing("datasets"),
) -> Response:
    from keel.data import DatasetClient

    client = DatasetClient(view.store, view.project)
    diff = client.diff(f"{name}@{a}", f"{name}@{b}")
    return page(request, "dataset_diff.html", view.context(name=name, a=a, b=b, diff=diff))


#: The exploration report is a whole page of its own (inline CSS and SVG, no script): served
#: sandboxed, like raw artifacts, so nothing in it can run or reach the UI's session.
EXPLORE_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@router.get("/ui/p/{project}/datasets/{name}/explore")
def dataset_explore(
    name: str,
    version: int | None = Query(default=None, ge=1, le=2**31 - 1),
    target: str | None = Query(default=None, max_length=500),
    compare: int | None = Query(default=None, ge=1, le=2**31 - 1),
    view: ProjectView = viewing("datasets"),
) -> Response:
    """The exploration report of a table version, optionally against a target and another
    version (computed on request; correlations on a sample for large tables)."""
    from keel.data import DatasetClient, explore

    client = DatasetClient(view.store, view.project)
    current = client.get(name, version)
    other = client.get(name, compare).ref if compare else None
    report = explore(current.ref, target=target or None, compare=other, datasets=client)
    headers = {"Content-Security-Policy": EXPLORE_CSP, "X-Content-Type-Options": "nosniff"}
    back = (f"{view.base}/datasets/{quote_path(name)}", f"dataset {name}")
    html = report.html(back)
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


__all__ = ["router"]
