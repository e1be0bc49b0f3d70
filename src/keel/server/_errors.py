"""The one place where errors become HTTP responses.

Every error body is ``{"error_code": ..., "message": ...}`` with MLflow's codes (so the
official ``mlflow`` client understands keel's native API too), plus ``keel_error``: the
exception class name, which the remote backend uses to raise the same type again.
Client mistakes are always 4xx: the mlflow client retries any 5xx for minutes. A database
that cannot be reached or did not answer in time is 503 with ``Retry-After``: the request
may succeed later, and retrying it is right. So is a SQLite database whose write lock another
writer held past the statement timeout ("database is locked"): contention, not a fault.
"""

from __future__ import annotations

import logging
import sqlite3

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from keel import exceptions as exc_mod
from keel.exceptions import (
    AlreadyExistsError,
    AuthenticationError,
    ConflictError,
    DatabaseUnavailableError,
    InvalidArgumentError,
    KeelError,
    NotFoundError,
    ParamConflictError,
    PermissionDeniedError,
)
from keel.server._json import JSON
from keel.server._mlflow_wording import validation_message

log = logging.getLogger("keel.server")

#: exception type -> (HTTP status, HTTP status on the MLflow API, MLflow error code).
#: The first matching row wins, so subclasses come before their parents.
_TABLE: tuple[tuple[type[BaseException], int, int, str], ...] = (
    (DatabaseUnavailableError, 503, 503, "TEMPORARILY_UNAVAILABLE"),
    (AuthenticationError, 401, 401, "UNAUTHENTICATED"),
    (PermissionDeniedError, 403, 403, "PERMISSION_DENIED"),
    (NotFoundError, 404, 404, "RESOURCE_DOES_NOT_EXIST"),
    (AlreadyExistsError, 409, 400, "RESOURCE_ALREADY_EXISTS"),
    (ParamConflictError, 400, 400, "INVALID_PARAMETER_VALUE"),
    (ConflictError, 409, 400, "INVALID_STATE"),
    (InvalidArgumentError, 400, 400, "INVALID_PARAMETER_VALUE"),
)
#: Seconds a client should wait before retrying a 503.
RETRY_AFTER_S = 5
_MODEL_SECURITY = getattr(exc_mod, "ModelSecurityError", None)
_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    405: "BAD_REQUEST",
    413: "REQUEST_LIMIT_EXCEEDED",
    415: "BAD_REQUEST",
}


def is_mlflow_path(path: str) -> bool:
    return "/api/2.0/mlflow" in path or "/api/3.0/mlflow" in path


def _sqlite_busy(exc: BaseException) -> bool:
    """Whether ``exc`` comes from SQLite giving up on a lock (SQLITE_BUSY / SQLITE_LOCKED),
    however many layers (SQLAlchemy, the store's own errors) wrap it."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, sqlite3.OperationalError):
            text = str(e).lower()
            if (
                "database is locked" in text
                or "database is busy" in text
                or "table is locked" in text
            ):
                return True
        orig = getattr(e, "orig", None)
        todo += [e.__cause__, e.__context__, orig if isinstance(orig, BaseException) else None]
    return False


def status_and_code(exc: BaseException, *, mlflow: bool) -> tuple[int, str]:
    """The HTTP status and error code for any exception (500 for the unexpected)."""
    if _sqlite_busy(exc):
        return 503, "TEMPORARILY_UNAVAILABLE"
    for kind, status, mlflow_status, code in _TABLE:
        if isinstance(exc, kind):
            return (mlflow_status if mlflow else status), code
    if _MODEL_SECURITY is not None and isinstance(exc, _MODEL_SECURITY):
        return 400, "INVALID_PARAMETER_VALUE"
    return 500, "INTERNAL_ERROR"


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, str] = {"error_code": code, "message": message}
    if kind is not None:
        body["keel_error"] = kind
    hdrs = {"X-Content-Type-Options": "nosniff", **(headers or {})}
    return JSON(body, status_code=status, headers=hdrs)


def response_for(exc: BaseException, path: str) -> Response:
    status, code = status_and_code(exc, mlflow=is_mlflow_path(path))
    headers: dict[str, str] | None = None
    if status == 503:
        log.warning("%s: %s", path, exc)
        message = str(exc)
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        if not isinstance(exc, DatabaseUnavailableError):  # SQLite lock contention
            exc = DatabaseUnavailableError(
                "the metadata database is busy: another writer held its lock past the "
                f"statement timeout (KEEL_DB_STATEMENT_TIMEOUT); retry in {RETRY_AFTER_S} s"
            )
            message = str(exc)
    elif status >= 500:
        log.exception("unexpected error on %s", path, exc_info=exc)
        message = f"internal error ({type(exc).__name__}); see the server log"
    else:
        message = str(exc)
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="keel"'}
    kind = type(exc).__name__ if isinstance(exc, KeelError) else None
    return error_response(status, code, message, kind=kind, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def install(app: FastAPI) -> None:
    """Register the handlers: keel errors, validation errors, HTTP errors, the rest."""

    async def on_keel(request: Request, exc: Exception) -> Response:
        return response_for(exc, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if is_mlflow_path(request.url.path):  # MLflow's own wording, which its clients match
            message = validation_message(exc.errors())
        else:
            message = _validation_message(exc)
        return error_response(400, "INVALID_PARAMETER_VALUE", message)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "BAD_REQUEST")
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no endpoint {request.method} {request.url.path}"
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, detail, headers=headers)

    app.add_exception_handler(KeelError, on_keel)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_keel)


__all__ = ["error_response", "install", "is_mlflow_path", "response_for", "status_and_code"]
