"""``keel server``: the REST API, the MLflow-compatible API, users, tokens and roles.

``create_app(settings, options)`` builds a FastAPI app over one Store; ``serve`` runs it
under uvicorn. Nothing here is imported by lower layers.
"""

from __future__ import annotations

from keel.server._app import DOCS_URL, OPENAPI_URL, create_app
from keel.server._options import ServerOptions, is_loopback
from keel.server._serve import check_bind, serve

__all__ = [
    "DOCS_URL",
    "OPENAPI_URL",
    "ServerOptions",
    "check_bind",
    "create_app",
    "is_loopback",
    "serve",
]
