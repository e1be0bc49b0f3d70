"""``/api/v1/health`` and ``/api/v1/version``: liveness and what is running."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from keel.server._auth import public
from keel.server._json import JSON

router = APIRouter(prefix="/api/v1", tags=["meta"])


@router.get("/health", dependencies=[Depends(public)])
async def health() -> JSON:
    return JSON({"status": "ok"})


@router.get("/version", dependencies=[Depends(public)])
async def version() -> JSON:
    from keel import __version__

    return JSON({"keel": __version__, "api": "v1"})
