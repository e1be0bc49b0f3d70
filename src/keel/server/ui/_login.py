"""Signing in with an API token, and out again."""

from __future__ import annotations

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from starlette.responses import Response

from keel.server._auth import Principal, access, authenticated, public
from keel.server._json import JSON
from keel.server._types import Loose
from keel.server.ui._common import ui_router
from keel.server.ui._render import page
from keel.server.ui._session import apply_cookie, csrf_ok, end_session, start_session

router = ui_router()


class LoginIn(BaseModel):
    token: Loose = ""
    next: Loose = ""


def safe_next(target: str) -> str:
    """Only a path of this UI: never another site (no open redirect)."""
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


@access("ui:sign-in")
async def sign_in(request: Request, body: LoginIn) -> None:
    """The access decision of the sign-in form: the token itself (401 when it is bad)."""
    start_session(request, body.token)


@router.get("/ui/login", dependencies=[Depends(public)])
def login_page(request: Request, next: str = Query(default="/ui/", max_length=2000)) -> Response:
    return page(request, "login.html", {"next": safe_next(next)})


@router.post("/ui/login", dependencies=[Depends(sign_in), Depends(csrf_ok)])
def login(request: Request, body: LoginIn) -> Response:
    return apply_cookie(request, JSON({"redirect": safe_next(body.next)}))


@router.post("/ui/logout")
def logout(
    request: Request,
    who: Principal = Depends(authenticated),
    _csrf: None = Depends(csrf_ok),  # after the access decision: anonymous callers get 401
) -> Response:
    end_session(request)
    return apply_cookie(request, JSON({"redirect": "/ui/login"}))


__all__ = ["router", "safe_next"]
