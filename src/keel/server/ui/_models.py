"""The model registry (PG_3, PG_4): models, versions, aliases, model cards, signatures,
signing status, lineage and performance across versions; promote with the writer role.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from fastapi import Request
from pydantic import BaseModel
from starlette.responses import Response

from keel.server._json import JSON
from keel.server._types import Id, Loose
from keel.server.ui._common import ProjectView, changing, ui_router, viewing
from keel.server.ui._discussion import comments_context
from keel.server.ui._render import page
from keel.store import ModelVersion

router = ui_router()
TEXT_CARD_KEYS = ("description", "intended_use", "limitations", "notes", "ethics", "caveats")


class PromoteIn(BaseModel):
    version: Id
    alias: Loose


def _registry(view: ProjectView) -> Any:
    from keel.models import Registry

    return Registry(view.store, view.project.name)


def model_url(view: ProjectView, name: str) -> str:
    return f"{view.base}/models/{quote(name, safe='')}"


def history_chart(name: str, versions: list[ModelVersion]) -> dict[str, Any]:
    """Every metric across versions (PG_4), as chart data: x = version number."""
    ordered = sorted(versions, key=lambda v: v.version)
    keys = sorted({k for v in ordered for k in v.metrics})
    series = []
    for key in keys:
        points = [
            (v.version, v.metrics[key])
            for v in ordered
            if key in v.metrics and math.isfinite(v.metrics[key])
        ]
        if points:
            series.append(
                {"label": key, "xs": [p[0] for p in points], "ys": [p[1] for p in points]}
            )
    return {"target": "history-chart", "title": f"{name}: metrics by version", "series": series}


@router.get("/ui/p/{project}/models")
def models(request: Request, view: ProjectView = viewing("models")) -> Response:
    found = view.store.registry.list_models(view.project.id)
    return page(request, "models.html", view.context(models=found))


@router.get("/ui/p/{project}/models/{name}")
def model_page(request: Request, name: str, view: ProjectView = viewing("models")) -> Response:
    store = view.store
    model = store.registry.get_model(view.project.id, name)
    versions = sorted(store.registry.versions(view.project.id, name), key=lambda v: -v.version)
    metric_keys = sorted({k for v in versions for k in v.metrics})[:8]
    context = view.context(
        model=model,
        versions=versions,
        metric_keys=metric_keys,
        chart=history_chart(name, versions),
        url=model_url(view, name),
    )
    return page(request, "model.html", context)


@router.get("/ui/p/{project}/models/{name}/{version}")
def version_page(
    request: Request, name: str, version: int, view: ProjectView = viewing("models")
) -> Response:
    store = view.store
    mv = store.registry.get_version(view.project.id, name, version)
    trusted = _registry(view).keyring.trusted()
    card = dict(mv.card)
    context = view.context(
        mv=mv,
        model=store.registry.get_model(view.project.id, name),
        url=model_url(view, name),
        card_text={k: card.pop(k) for k in TEXT_CARD_KEYS if isinstance(card.get(k), str)},
        card_rest=card,
        signer_trusted=mv.signer is not None and mv.signer in trusted,
        signer_name=trusted[mv.signer].name if mv.signer in trusted else "",
        run=store.runs.get_info(mv.run_id) if mv.run_id and _run_here(view, mv.run_id) else None,
        **comments_context(view, "model_version", str(mv.id), f"{model_url(view, name)}/{version}"),
    )
    return page(request, "model_version.html", context)


def _run_here(view: ProjectView, run_id: str) -> bool:
    from keel.exceptions import NotFoundError

    try:
        return view.guard.st.project_of_run(run_id) == view.project.id
    except NotFoundError:
        return False


@router.post("/ui/p/{project}/models/{name}/promote")
def promote(name: str, body: PromoteIn, view: ProjectView = changing("models")) -> JSON:
    mv = _registry(view).promote(f"{name}@{body.version}", body.alias.strip())
    return JSON({"redirect": f"{model_url(view, name)}/{mv.version}"})


@router.post("/ui/p/{project}/models/{name}/aliases/{alias}/delete")
def remove_alias(name: str, alias: str, view: ProjectView = changing("models")) -> JSON:
    _registry(view).remove_alias(name, alias)
    return JSON({"redirect": model_url(view, name)})


__all__ = ["history_chart", "router"]
