"""The UI's static files: one public route per file shipped in ``static/``.

Routes are made from the files present when the app is built, so no request path ever
reaches the file system (nothing to traverse), and every route is an ordinary FastAPI
route with its access decision (``public``) like the rest of the server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, Depends
from starlette.responses import Response

from keel.server._auth import public

STATIC = Path(__file__).with_name("static")
PREFIX = "/ui/static"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}


def _serve(body: bytes, media_type: str) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    return Response(
        body,
        media_type=media_type,
        headers={
            "Cache-Control": "public, max-age=3600",
            "ETag": etag,
            "X-Content-Type-Options": "nosniff",
        },
    )


def router() -> APIRouter:
    """A router with ``GET /ui/static/<name>`` for each shipped file."""
    out = APIRouter(include_in_schema=False)
    for path in sorted(STATIC.rglob("*")):
        media_type = _TYPES.get(path.suffix)
        if not path.is_file() or media_type is None:
            continue
        body = path.read_bytes()
        rel = path.relative_to(STATIC).as_posix()

        out.add_api_route(
            f"{PREFIX}/{rel}",
            _bind(body, media_type),
            methods=["GET"],
            dependencies=[Depends(public)],
            name=f"ui-static-{rel}",
        )
    return out


def _bind(body: bytes, media_type: str) -> Callable[[], Awaitable[Response]]:
    async def serve_file() -> Response:
        return _serve(body, media_type)

    return serve_file


__all__ = ["PREFIX", "STATIC", "router"]
