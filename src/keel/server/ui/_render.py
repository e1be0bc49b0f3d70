"""Rendering pages: the Jinja environment, markdown, security headers and HTML errors.

Templates autoescape everything; markdown is rendered by markdown-it with raw HTML off
(it shows as text) and unsafe link schemes refused. Every page carries a strict Content
Security Policy: scripts only from ``/ui/static``, no inline script, nothing framed from
elsewhere. Errors on page requests become an HTML page with the status the server's one
error table (:func:`keel.server._errors.status_and_code`) gives; API-style callers still
get the JSON error.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Coroutine, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import Request
from fastapi.routing import APIRoute
from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from keel.exceptions import AuthenticationError, KeelError
from keel.server._errors import status_and_code
from keel.server.ui._nav import NAV, project_base
from keel.server.ui._session import apply_cookie, codec, session_of

TEMPLATES = Path(__file__).with_name("templates")
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=fmt_time,
        duration=fmt_duration,
        num=fmt_num,
        value=fmt_value,
        size=fmt_size,
        markdown=markdown,
        q=quote_path,
        pretty=pretty_json,
    )
    env.globals["qs"] = query_string
    env.filters["run_status"] = _run_status
    return env


def _run_status(run: Any) -> str:
    """``lost`` for a RUNNING run whose process died without ending it, else its status."""
    from keel.tracking import display_status

    return display_status(run).lower()


@cache
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def markdown(text: str) -> Markup:
    """Markdown to HTML with raw HTML shown as text and ``javascript:`` links refused."""
    return Markup(_markdown().render(text or ""))


def fmt_time(ms: int | None) -> str:
    if not ms:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(ms: float | None) -> str:
    if ms is None or ms < 0:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    s = ms / 1000
    if s < 120:
        return f"{s:.1f} s"
    return f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def round_num(value: Any) -> str:
    """A number as people read it: floats to 4 significant digits, integers with
    thousands separators; anything else as text."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    text = f"{value:.4g}"
    return text.replace("e+0", "e+").replace("e-0", "e-")


def fmt_num(value: Any) -> Markup:
    """:func:`round_num` with the full value on hover when rounding dropped digits."""
    short = round_num(value)
    full = repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, float) and math.isfinite(value) and float(short.replace(",", "")) != value:
        return Markup('<span title="{}">{}</span>').format(full, short)
    return Markup("{}").format(short)


def fmt_value(value: Any) -> Markup:
    """A param or tag: numeric text rounded like :func:`fmt_num` (full text on hover),
    anything else as it is."""
    if value is None:
        return Markup("-")
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return Markup("{}").format(text)
    if not math.isfinite(number) or len(text) <= 8 or "." not in text:
        return Markup("{}").format(text)
    return Markup('<span title="{}">{}</span>').format(text, round_num(number))


def fmt_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"  # pragma: no cover - the loop returns at GB


def quote_path(value: Any) -> str:
    return quote(str(value), safe="")


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def query_string(params: Mapping[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged, doseq=True) if merged else ""


def page(
    request: Request, template: str, context: Mapping[str, Any], *, status: int = 200
) -> Response:
    """Render ``template`` with the request's session and caller in the context."""
    who = getattr(request.state, "principal", None)
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            user=who.name if who is not None and who.user is not None else "",
            auth=request.app.state.keel.options.auth,
            csrf=codec(request).csrf(session_of(request)),
            switch=visible_projects(request),
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
    return apply_cookie(request, response)


def visible_projects(request: Request) -> list[str]:
    """Names of the projects the caller may open (the nav's project switcher)."""
    who = getattr(request.state, "principal", None)
    if who is None:
        return []
    projects = request.app.state.keel.store.projects.list()
    return sorted(p.name for p in projects if who.role_in(p.id) is not None)


def _project_frame(request: Request) -> dict[str, Any]:
    """The project nav for an error inside a project the caller may see (else nothing)."""
    name = request.path_params.get("project")
    if name is None and request.url.path.startswith("/ui/p/"):
        name = unquote(request.url.path.removeprefix("/ui/p/").split("/", 1)[0])
    if not isinstance(name, str) or name not in visible_projects(request):
        return {}
    who = request.state.principal
    project = request.app.state.keel.store.projects.get(name)
    return {
        "project": project,
        "base": project_base(name),
        "section": "",
        "nav": NAV,
        "role": str(who.role_in(project.id) or ""),
        "can_write": False,
    }


def wants_html(request: Request) -> bool:
    return request.method in ("GET", "HEAD") and "text/html" in request.headers.get("accept", "")


def error_page(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
    else:
        status, _code = status_and_code(exc, mlflow=False)
        message = str(exc) if status < 500 else "internal error; see the server log"
    if isinstance(exc, AuthenticationError) and request.url.path != "/ui/login":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return apply_cookie(
            request, RedirectResponse(f"/ui/login?next={quote(target, safe='')}", 303)
        )
    if not hasattr(request.state, "ui_session"):
        return HTMLResponse(message, status_code=status, headers=PAGE_HEADERS)
    context = {"status": status, "message": message, **_project_frame(request)}
    return page(request, "error.html", context, status=status)


class UIRoute(APIRoute):
    """A route whose errors render as pages for browsers (JSON for everyone else)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except (KeelError, HTTPException) as exc:
                if not wants_html(request):
                    raise
                if isinstance(exc, KeelError) and status_and_code(exc, mlflow=False)[0] >= 500:
                    raise
                return error_page(request, exc)

        return route


__all__ = [
    "PAGE_HEADERS",
    "UIRoute",
    "environment",
    "error_page",
    "fmt_duration",
    "fmt_num",
    "fmt_size",
    "fmt_time",
    "fmt_value",
    "markdown",
    "page",
    "query_string",
    "round_num",
    "visible_projects",
    "wants_html",
]
