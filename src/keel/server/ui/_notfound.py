"""The UI's last route: any other ``/ui/...`` address is a 404 page with the navigation."""

from __future__ import annotations

from fastapi import Depends

from keel.exceptions import NotFoundError
from keel.server._auth import Principal, authenticated
from keel.server.ui._common import ui_router

router = ui_router()


@router.get("/ui/{rest:path}")
def not_found(rest: str, who: Principal = Depends(authenticated)) -> None:
    raise NotFoundError(f"no page at /ui/{rest[:200]}; pick a project or section above")


__all__ = ["router"]
