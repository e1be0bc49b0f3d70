"""The run page: params, metric charts, artifacts, git, environment, note, datasets.

Metric charts read ``/series``: every metric of the run bucketed in the database
(:func:`keel.store.metric_sampling.sample_history`), never the whole history.
"""

from __future__ import annotations

import gzip
import math
from typing import Any

from fastapi import Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from keel.exceptions import NotFoundError
from keel.server._json import JSON, dumps
from keel.server._types import Loose
from keel.server.ui._artifacts import IMAGES, Preview, preview, raw_response, suffix, tree
from keel.server.ui._common import ProjectView, changing, check_runs, ui_router, viewing
from keel.server.ui._discussion import comments_context
from keel.server.ui._render import page
from keel.store import Run
from keel.store.metric_sampling import SampledSeries

router = ui_router()
SYSTEM_PREFIXES = ("keel.", "mlflow.")
DIFF_PATH = "_keel/uncommitted.diff"
REQUIREMENTS_PATH = "_keel/requirements.txt"
ENV_TAGS = (
    ("python", "keel.python.version"),
    ("platform", "keel.platform"),
    ("host", "keel.host"),
    ("entry point", "keel.source.entrypoint"),
    ("working directory", "keel.source.cwd"),
    ("interpreter", "keel.python.executable"),
)
MAX_LISTED = 5000
INLINE_IMAGES = 24
INLINE_TABLES = 3
INLINE_ROWS = 10
INLINE_TABLE_BYTES = {".csv": 1 << 20, ".tsv": 1 << 20, ".parquet": 16 << 20}
GZIP_OVER = 8192


class NoteIn(BaseModel):
    note: Loose


def _run(view: ProjectView, run_id: str) -> Run:
    check_runs(view, [run_id])
    return view.store.runs.get(run_id)


def _short(values: list[float]) -> list[float | None]:
    """Values rounded for a chart (shorter JSON), non-finite values as gaps."""
    return [round(v, 6) if math.isfinite(v) else None for v in values]


def series_json(items: list[SampledSeries], *, band: bool = True) -> dict[str, Any]:
    """Bucketed series for the charts: times as offsets from ``t0`` to keep them short;
    ``band`` adds each bucket's min and max (drawn only when few lines share a chart)."""
    out: dict[str, Any] = {}
    for s in items:
        t0 = s.timestamps[0] if s.timestamps else 0
        entry: dict[str, Any] = {
            "run": s.run_id,
            "key": s.key,
            "total": s.total,
            "steps": s.steps,
            "t0": t0,
            "ts": [t - t0 for t in s.timestamps],
            "mean": _short(s.mean),
        }
        if band:
            entry["low"], entry["high"] = _short(s.low), _short(s.high)
        out[f"{s.run_id}/{s.key}"] = entry
    return out


def _encode(payload: dict[str, Any]) -> bytes:
    """orjson when installed (the serving extra ships it; ten times faster on these lists
    of numbers), else the server's encoder. Never embedded in HTML: fetched by script."""
    try:
        import orjson
    except ImportError:
        return dumps(payload)
    return bytes(orjson.dumps(payload))


def wants_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "")


def encode_series(payload: dict[str, Any], *, gz: bool) -> bytes:
    """The response body: JSON, gzipped when the browser takes it (bucketed series of 100
    runs still make a few hundred kilobytes, and they compress about four to one)."""
    body = _encode(payload)
    return gzip.compress(body, compresslevel=1) if gz and len(body) > GZIP_OVER else body


def series_body(body: bytes) -> Response:
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if body[:2] == b"\x1f\x8b":  # gzip magic: JSON never starts with these bytes
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


def series_response(request: Request, payload: dict[str, Any]) -> Response:
    return series_body(encode_series(payload, gz=wants_gzip(request)))


@router.get("/ui/p/{project}/runs/{run_id}")
def run_page(request: Request, run_id: str, view: ProjectView = viewing("experiments")) -> Response:
    store = view.store
    run = _run(view, run_id)
    tags = run.tags
    artifacts = store.artifacts.list(run_id)
    paths = {a.path for a in artifacts}
    diff = _text_artifact(store, run_id, DIFF_PATH) if DIFF_PATH in paths else None
    context = view.context(
        run=run,
        experiment=store.experiments.get(run.info.experiment_id),
        parent=store.runs.get_info(run.info.parent_id) if run.info.parent_id else None,
        children=store.runs.children(run_id)[:MAX_LISTED],
        user_tags={k: v for k, v in tags.items() if not k.startswith(SYSTEM_PREFIXES)},
        system_tags={k: v for k, v in tags.items() if k.startswith(SYSTEM_PREFIXES)},
        env=[(label, tags[key]) for label, key in ENV_TAGS if key in tags],
        has_requirements=REQUIREMENTS_PATH in paths,
        git={k.removeprefix("keel.git."): v for k, v in tags.items() if k.startswith("keel.git.")},
        diff=diff,
        metric_keys=sorted(run.metrics),
        artifacts=tree(artifacts[:MAX_LISTED]),
        images=[a for a in artifacts if suffix(a.path) in IMAGES][:INLINE_IMAGES],
        tables=_inline_tables(store, artifacts),
        artifact_count=len(artifacts),
        datasets=_datasets(view, run_id),
        models=_models(view, run_id),
        **comments_context(view, "run", run_id, f"{view.base}/runs/{run_id}"),
    )
    return page(request, "run.html", context)


def _inline_tables(store: Any, artifacts: list[Any]) -> list[tuple[Any, Preview]]:
    """The first few small CSV/TSV/Parquet artifacts with their first rows, for the run
    page (the artifact page shows more)."""
    out = []
    for art in artifacts:
        limit = INLINE_TABLE_BYTES.get(suffix(art.path))
        if limit is None or art.size > limit:
            continue
        shown = preview(store.blobs, art)
        if shown.kind == "table":
            shown.rows = shown.rows[:INLINE_ROWS]
            out.append((art, shown))
        if len(out) == INLINE_TABLES:
            break
    return out


def _text_artifact(store: Any, run_id: str, path: str) -> str:
    from keel.server.ui._artifacts import TEXT_LIMIT, _head

    art = store.artifacts.get(run_id, path)
    data, cut = _head(store.blobs, art.blob_sha, TEXT_LIMIT)
    text = data.decode("utf-8", errors="replace")
    return text + ("\n... (truncated; download the file for the rest)" if cut else "")


def _datasets(view: ProjectView, run_id: str) -> list[tuple[str, Any]]:
    store = view.store
    out = []
    for version_id, direction in store.runs.dataset_links(run_id):
        try:
            out.append((direction, store.datasets.get_version_by_id(version_id)))
        except NotFoundError:
            continue
    return sorted(out, key=lambda d: (d[0], d[1].ref))


def _models(view: ProjectView, run_id: str) -> list[Any]:
    registry = view.store.registry
    return registry.search_versions(view.project.id, f"run_id = '{run_id}'", max_results=100)


@router.get("/ui/p/{project}/runs/{run_id}/series")
def run_series(
    request: Request,
    run_id: str,
    points: int = Query(default=400, ge=10, le=2000),
    view: ProjectView = viewing("experiments"),
) -> Response:
    run = _run(view, run_id)
    stats = view.store.run_stats
    items = [
        s for key in sorted(run.metrics) for s in stats.sample_history([run_id], key, points=points)
    ]
    return series_response(request, {"series": series_json(items)})


@router.get("/ui/p/{project}/runs/{run_id}/artifact")
def artifact_page(
    request: Request,
    run_id: str,
    path: str = Query(max_length=1024),
    view: ProjectView = viewing("experiments"),
) -> Response:
    run = _run(view, run_id)
    store = view.store
    art = store.artifacts.get(run_id, path)
    context = view.context(
        run=run,
        art=art,
        ext=suffix(art.path),
        preview=preview(store.blobs, art),
        raw=f"{view.base}/runs/{run_id}/raw/{art.path}",
    )
    return page(request, "artifact.html", context)


@router.get("/ui/p/{project}/runs/{run_id}/raw/{path:path}")
def artifact_raw(
    run_id: str, path: str, download: bool = False, view: ProjectView = viewing("experiments")
) -> Response:
    check_runs(view, [run_id])
    store = view.store
    return raw_response(store.blobs, store.artifacts.get(run_id, path), download=download)


@router.post("/ui/p/{project}/runs/{run_id}/note")
def set_note(run_id: str, body: NoteIn, view: ProjectView = changing("experiments")) -> JSON:
    check_runs(view, [run_id])
    view.store.runs.update(run_id, note=body.note)
    return JSON({"redirect": f"{view.base}/runs/{run_id}"})


@router.post("/ui/p/{project}/runs/{run_id}/delete")
def delete_run(run_id: str, view: ProjectView = changing("experiments")) -> JSON:
    run = _run(view, run_id)
    view.store.runs.delete(run_id)
    return JSON({"redirect": f"{view.base}/experiments/{run.info.experiment_id}"})


@router.post("/ui/p/{project}/runs/{run_id}/restore")
def restore_run(run_id: str, view: ProjectView = changing("experiments")) -> JSON:
    check_runs(view, [run_id])
    view.store.runs.restore(run_id)
    return JSON({"redirect": f"{view.base}/runs/{run_id}"})


__all__ = ["encode_series", "router", "series_body", "series_json", "series_response"]
