"""``/api/v1/health`` and ``/api/v1/version``: liveness (with the database) and what is running."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from keel.server._auth import public
from keel.server._json import JSON

router = APIRouter(prefix="/api/v1", tags=["meta"])


class Health(BaseModel):
    status: str
    database: str


class Version(BaseModel):
    keel: str
    api: str


@router.get(
    "/health",
    dependencies=[Depends(public)],
    response_model=Health,
    responses={503: {"model": Health, "description": "the database does not answer"}},
)
async def health(request: Request) -> JSON:
    problem = await request.app.state.health.database_problem()
    if problem is None:
        return JSON({"status": "ok", "database": "ok"})
    return JSON({"status": "unavailable", "database": problem}, status_code=503)


@router.get("/version", dependencies=[Depends(public)])
async def version() -> Version:
    from keel import __version__

    return Version(keel=__version__, api="v1")
