"""The application factory: one Store, every router, the error mapping and the guards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import Depends, FastAPI

from keel.config import Settings
from keel.server import _errors
from keel.server._auth import project_scope
from keel.server._health import HealthProbe
from keel.server._json import JSON, WireJSON
from keel.server._options import ServerOptions
from keel.server._security import SecurityMiddleware
from keel.server._state import AppState
from keel.server.api import ROUTERS
from keel.store import Store, open_store

OPENAPI_URL = "/api/v1/openapi.json"
DOCS_URL = "/api/v1/docs"
DESCRIPTION = (
    "keel's REST API (`/api/v1`) and an MLflow-compatible API (`/api/2.0/mlflow`, "
    "`/api/2.0/mlflow-artifacts`; per project under `/projects/<name>`). Errors are "
    '`{"error_code": ..., "message": ...}`.'
)


def create_app(
    settings: Settings, options: ServerOptions | None = None, *, store: Store | None = None
) -> FastAPI:
    """Build the keel server app over the store ``settings`` point at (or ``store``).

    The app owns one :class:`~keel.store.Store` for its lifetime (closed on shutdown
    when it opened it); nothing is built per request.
    """
    from keel import __version__
    from keel.server import mlflow, ui

    options = options or ServerOptions()
    owned = store is None
    if store is None:
        store = open_store(replace(settings, server_url=None, token=None))
    default = store.projects.get_or_create(options.default_project)
    st = AppState(store, options, default.id, receipt_key=store.credentials.server_key("receipts"))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            store.close()

    app = FastAPI(
        title="keel",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=OPENAPI_URL,
        docs_url=DOCS_URL,
        redoc_url=None,
        default_response_class=JSON,
        lifespan=lifespan,
    )
    app.state.keel = st
    app.state.health = HealthProbe(store.db)
    _errors.install(app)
    mlflow.include(app)  # first: routes match in order, and its logging calls are the hot path
    for router in ROUTERS:
        app.include_router(
            router, default_response_class=WireJSON, dependencies=[Depends(project_scope)]
        )
    ui.include(app)  # the web UI: /ui pages, sign-in, static files
    app.add_middleware(SecurityMiddleware, options=options)
    return app


__all__ = ["DOCS_URL", "OPENAPI_URL", "create_app"]
