"""``/api/v1/health`` and ``/api/v1/version``: liveness and what is running."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from keel.server._auth import public

router = APIRouter(prefix="/api/v1", tags=["meta"])


class Health(BaseModel):
    status: str


class Version(BaseModel):
    keel: str
    api: str


@router.get("/health", dependencies=[Depends(public)])
async def health() -> Health:
    return Health(status="ok")


@router.get("/version", dependencies=[Depends(public)])
async def version() -> Version:
    from keel import __version__

    return Version(keel=__version__, api="v1")
