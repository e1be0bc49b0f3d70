"""``/api/v1/health`` and ``/api/v1/version``: liveness (with the database) and what is running."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from keel.server._auth import public
from keel.server._json import JSON

router = APIRouter(prefix="/api/v1", tags=["meta"])


@router.get("/health", dependencies=[Depends(public)])
async def health(request: Request) -> JSON:
    problem = await request.app.state.health.database_problem()
    if problem is None:
        return JSON({"status": "ok", "database": "ok"})
    return JSON({"status": "unavailable", "database": problem}, status_code=503)


@router.get("/version", dependencies=[Depends(public)])
async def version() -> JSON:
    from keel import __version__

    return JSON({"keel": __version__, "api": "v1"})
