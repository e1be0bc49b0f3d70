"""The serving ASGI app: Open Inference Protocol v2, MLflow ``/invocations``, plain records.

:class:`ServingASGI` is the outermost app. It refuses, on every path and before routing,
any body whose content type is not JSON (or CSV on ``/invocations``) with 415, so pickles
and other executable formats never reach a parser, and bodies over the size limit with
413. It answers the inference routes itself, without a framework layer (no Request or
Response objects, no middleware stack: that is most of a small model's latency), and
hands everything else (metadata, health, metrics, ``/docs``) to a FastAPI app whose
OpenAPI document comes from :mod:`keel.serving._openapi`. Every refusal is a JSON
``{"error": ...}`` (MLflow's ``{"error_code", "message"}`` on ``/invocations``) that
names the problem.

Compressed bodies (``Content-Encoding: gzip`` or ``deflate``, as Triton's and KServe's
clients send them) are inflated in bounded steps: the size limit applies to the bytes
after decompression too, so a small "zip bomb" gets 413 after at most the limit's worth
of work.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from keel.serving._codec import HttpError, dumps
from keel.serving._handlers import ServingApp
from keel.serving._runtime import DeploymentRuntime
from keel.store.predlog import PredictionLog

log = logging.getLogger("keel.serving")
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

_WANTED = {
    b"content-type": "content-type",
    b"content-length": "content-length",
    b"x-request-id": "x-request-id",
    b"x-keel-route-key": "x-keel-route-key",
    b"x-keel-model": "x-keel-model",
    b"inference-header-content-length": "inference-header-content-length",
    b"content-encoding": "content-encoding",
}
#: Content-Encoding -> zlib's ``wbits`` for it (``identity``: no decoding).
_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_FAST_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/v2/models/(?P<name>[^/]+)/infer$"), "v2"),
    (re.compile(r"^/v2/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/infer$"), "v2"),
    (re.compile(r"^/invocations$"), "invocations"),
    (re.compile(r"^/models/(?P<name>[^/]+)/predict$"), "records"),
    (re.compile(r"^/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/predict$"), "records"),
]


_V2_INFER = re.compile(r"^/v2/models/[^/]+(/versions/[^/]+)?/infer$")


def content_type_allowed(value: str, path: str = "", method: str = "POST") -> bool:
    """JSON (``application/json``, ``application/*+json``) or CSV; nothing executable. On
    the v2 inference routes also ``application/octet-stream``, which Triton's clients send with JSON
    (the body is still parsed as JSON, never unpickled)."""
    media = value.split(";", 1)[0].strip().lower()
    return (
        media == "application/json"
        or (media.startswith("application/") and media.endswith("+json"))
        or media == "text/csv"
        or (
            media == "application/octet-stream"
            and method == "POST"
            and _V2_INFER.match(path) is not None
        )
    )


class ServingASGI:
    """Guards every request and answers the inference routes directly."""

    def __init__(self, app: ASGIApp, handlers: ServingApp, max_body_bytes: int) -> None:
        self.app = app
        self.handlers = handlers
        self.max_body = max_body_bytes
        self.startup_error: BaseException | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            name = _WANTED.get(key)
            if name is not None:
                headers[name] = value.decode("latin-1")
        refusal = self._refuse(headers, scope.get("path", ""), scope.get("method", ""))
        if refusal is not None:
            self.handlers.refused(HttpError(*refusal))
            await _send(send, refusal[0], dumps({"error": refusal[1]}), close=True)
            return
        if scope["method"] == "POST":
            path = scope["path"]
            for pattern, kind in _FAST_ROUTES:
                match = pattern.match(path)
                if match is not None:
                    await self._fast(kind, match.groupdict(), scope, headers, receive, send)
                    return
        await self.app(scope, receive, send)

    def _refuse(self, headers: dict[str, str], path: str, method: str) -> tuple[int, str] | None:
        ctype = headers.get("content-type")
        if ctype is not None and not content_type_allowed(ctype, path, method):
            return 415, (
                f"content type {ctype[:80]!r} is not accepted: keel serving reads only JSON "
                "(application/json; application/octet-stream on /v2) and, on /invocations, "
                "CSV (text/csv); executable formats such as pickle are refused"
            )
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in _ENCODINGS and encoding != "identity":
            return 415, (
                f"content encoding {encoding[:40]!r} is not accepted; send the body as is "
                "(identity), gzip or deflate"
            )
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return 413, (
                f"request body is {int(length):,} bytes; the limit is {self.max_body:,} bytes "
                "(server.max_body_mb); send fewer rows per request"
            )
        return None

    async def _fast(
        self,
        kind: str,
        params: dict[str, Any],
        scope: Scope,
        headers: dict[str, str],
        receive: Any,
        send: Any,
    ) -> None:
        try:
            body = await self._body(receive)
            encoding = headers.get("content-encoding", "identity").strip().lower()
            if encoding != "identity":
                body = inflate(body, _ENCODINGS[encoding], self.max_body, encoding)
        except HttpError as exc:
            self.handlers.refused(exc)
            await _send(send, exc.status, dumps({"error": exc.message}), close=True)
            return
        try:
            status, out, extra = await self._answer(kind, params, scope, headers, body)
        except Exception as exc:  # a bug must still answer JSON, never uvicorn's plain text
            log.exception("serving %s failed", scope.get("path"))
            status, extra = 500, {}
            out = dumps({"error": f"internal error: {type(exc).__name__}: {str(exc)[:300]}"})
        await _send(send, status, out, extra)

    async def _answer(
        self, kind: str, params: dict[str, Any], scope: Scope, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        h = self.handlers
        if kind == "v2":
            status, out, extra = await h.v2_infer(params, headers, body)
        elif kind == "records":
            status, out, extra = await h.predict_records(params, headers, body)
        else:
            query = scope.get("query_string") or b""
            if query:
                model = parse_qs(query.decode("latin-1")).get("model")
                if model:
                    headers["x-keel-model"] = model[0]
            status, out, extra = await h.invocations(headers, body)
        return status, out, extra

    async def _body(self, receive: Any) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise HttpError(400, "the client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > self.max_body:
                    raise HttpError(
                        413, f"request body is over the limit of {self.max_body:,} bytes"
                    )
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def inflate(body: bytes, wbits: int, limit: int, encoding: str = "gzip") -> bytes:
    """``body`` decompressed, refusing (413) as soon as the output passes ``limit`` bytes,
    so the work done is bounded by the limit whatever the compression ratio; a damaged or
    truncated stream is a 400. Concatenated gzip members are read one after the other."""
    out: list[bytes] = []
    size = 0
    data = body
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            chunk = inflater.decompress(data, limit - size + 1)
        except zlib.error as exc:
            raise HttpError(400, f"the {encoding} request body is damaged: {exc}") from None
        size += len(chunk)
        if size > limit or inflater.unconsumed_tail:
            raise HttpError(
                413, f"request body is over the limit of {limit:,} bytes once decompressed"
            )
        out.append(chunk)
        if not inflater.eof:
            raise HttpError(400, f"the {encoding} request body is truncated")
        data = inflater.unused_data
        if not data:
            return b"".join(out)


async def _send(
    send: Any,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    close: bool = False,
) -> None:
    raw = [(b"content-length", str(len(body)).encode())]
    if not headers or "content-type" not in headers:
        raw.append((b"content-type", b"application/json"))
    if headers:
        raw.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _json_http_error(request: Any, exc: Any) -> Any:
    """404 and 405 as the protocol's ``{"error": ...}`` (tritonclient reads only that)."""
    from starlette.responses import Response

    message = f"{exc.detail}: {request.method} {request.url.path}"
    headers = getattr(exc, "headers", None)
    return Response(dumps({"error": message}), exc.status_code, headers, "application/json")


def create_app(
    runtime: DeploymentRuntime,
    *,
    prediction_log: PredictionLog | None = None,
    max_body_bytes: int = 16 * 2**20,
    log_sample: float = 1.0,
) -> ServingASGI:
    """The ASGI app serving ``runtime``; starting it loads the models, stopping it drains
    the queues and flushes the prediction log."""
    from fastapi import FastAPI
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from keel.serving._openapi import openapi_document

    handlers = ServingApp(runtime, prediction_log=prediction_log, log_sample=log_sample)

    @asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        if prediction_log is not None:
            prediction_log.start()
        try:
            await runtime.start()
        except Exception as exc:
            outer.startup_error = exc  # the caller re-raises it once uvicorn has stopped
            raise
        # Move everything loaded so far (libraries, models) out of the collector's reach:
        # a full collection over that heap stalls every request for tens of milliseconds.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await runtime.stop()
            await handlers.drain()
            if prediction_log is not None:
                await asyncio.to_thread(prediction_log.close)

    app = FastAPI(title=f"keel serving: {runtime.name}", lifespan=lifespan)
    app.add_exception_handler(StarletteHTTPException, _json_http_error)
    app.router.routes[:0] = _read_routes(handlers)
    document = openapi_document(runtime.name)
    app.openapi = lambda: document  # type: ignore[method-assign]
    app.state.handlers = handlers
    outer = ServingASGI(app, handlers, max_body_bytes)
    return outer


def _read_routes(h: ServingApp) -> list[Any]:
    """The metadata, health and metrics routes (plain Starlette routes, no validation)."""
    from starlette.routing import Route

    get = ["GET"]
    return [
        Route("/v2", h.server_metadata, methods=get),
        Route("/v2/health/live", h.live, methods=get),
        Route("/v2/health/ready", h.ready, methods=get),
        Route("/v2/models/{name}", h.model_metadata, methods=get),
        Route("/v2/models/{name}/ready", h.model_ready, methods=get),
        Route("/v2/models/{name}/versions/{version}", h.model_metadata, methods=get),
        Route("/v2/models/{name}/versions/{version}/ready", h.model_ready, methods=get),
        Route("/models", h.models, methods=get),
        Route("/metrics", h.metrics, methods=get),
        Route("/ping", h.ping, methods=get),
        Route("/health", h.ping, methods=get),
    ]


__all__ = ["ServingASGI", "content_type_allowed", "create_app"]
