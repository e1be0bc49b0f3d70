"""Request guards that run before routing: Host allowlist, JSON-only POST, body caps.

A pure ASGI middleware (no per-request objects beyond what Starlette makes anyway):

* a Host header not in the allowlist is refused (DNS rebinding);
* a POST or PATCH with a body must be ``application/json`` (415 otherwise), which closes
  the "simple request" CSRF hole a ``text/plain`` form post would open;
* bodies larger than the cap are refused with 413, by Content-Length up front and by
  counting chunks for streamed uploads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from keel.server._errors import error_response
from keel.server._options import ServerOptions

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON_TYPES = (b"application/json",)
_BODY_METHODS = ("POST", "PATCH")
#: OTLP span export (MLflow's ``/v1/traces``): protobuf bodies; the route stores nothing, so
#: the JSON-only rule (a CSRF guard for routes that change state) does not apply to it.
_OTLP_PATH = "/v1/traces"


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, options: ServerOptions) -> None:
        self.app = app
        self.any_host = "*" in options.allowed_hosts
        self.hosts = frozenset(h.lower() for h in options.allowed_hosts)
        self.max_body = options.max_body_bytes
        self.max_upload = options.max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = dict(scope["headers"])
        refusal = self._refuse(scope, headers)
        if refusal is not None:
            status, code, message = refusal
            await error_response(status, code, message)(scope, receive, send)
            return
        limit = self.max_upload if scope["method"] == "PUT" else self.max_body
        await self.app(scope, _capped(receive, limit), send)

    def _refuse(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[int, str, str] | None:
        if not self.any_host:
            host = _hostname(headers.get(b"host", b"").decode("latin-1"))
            if host not in self.hosts:
                return (
                    400,
                    "BAD_REQUEST",
                    f"host {host[:100]!r} is not allowed; start the server with "
                    "--allowed-host for the name clients use",
                )
        method = scope["method"]
        length_text = headers.get(b"content-length")
        try:
            length = int(length_text) if length_text is not None else None
        except ValueError:
            return 400, "BAD_REQUEST", "Content-Length is not a number"
        limit = self.max_upload if method == "PUT" else self.max_body
        if length is not None and length > limit:
            return (
                413,
                "REQUEST_LIMIT_EXCEEDED",
                f"request body of {length} bytes is over the {limit}-byte limit",
            )
        otlp = scope["path"].endswith(_OTLP_PATH)  # answers without reading or storing
        if method in _BODY_METHODS and (length is None or length > 0) and not otlp:
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
            if ctype not in _JSON_TYPES and (length or chunked or ctype):
                return (
                    415,
                    "BAD_REQUEST",
                    f"{method} bodies must be application/json, "
                    f"got {ctype.decode('latin-1')[:60]!r}",
                )
        return None


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1].strip("[]") if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _capped(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, f"request body is over the {limit}-byte limit")
        return message

    return wrapped


__all__ = ["SecurityMiddleware"]
