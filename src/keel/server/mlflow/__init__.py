"""The MLflow-compatible REST API, so teams keep their ``mlflow`` code.

Mounted at the server root (the default project) and at ``/projects/<name>`` (every
other project), as GitLab gives each project its own MLflow base URL. Runs, artifacts
and datasets logged through the mlflow client are ordinary keel objects.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from keel.server.mlflow import _artifacts, _experiments, _info, _inputs, _logged_models, _runs

PROJECT_PREFIX = "/projects/{project}"


def _routers() -> list[tuple[str, APIRouter]]:
    routers = [  # the hot logging calls first: routes are matched in order
        ("/api/2.0/mlflow", _runs.router),
        ("/api/2.0/mlflow", _experiments.router),
        ("/api/2.0/mlflow", _inputs.router),
        ("/api/2.0/mlflow", _logged_models.router),
        ("/api/2.0/mlflow", _artifacts.tracking_router),
        ("/api/2.0", _artifacts.router),
    ]
    registry = _registry_router()
    if registry is not None:
        routers.append(("/api/2.0/mlflow", registry))
    return routers


def _registry_router() -> APIRouter | None:
    import importlib

    try:
        module = importlib.import_module("keel.server.mlflow._registry")
    except ImportError:  # the model registry is not part of this build
        return None
    router: APIRouter = module.router
    return router


def include(app: FastAPI) -> None:
    """Mount the API at the root (in the OpenAPI document) and per project (not listed)."""
    routers = _routers()
    for prefix, router in routers:
        app.include_router(router, prefix=prefix)
    app.include_router(_info.router)
    for prefix, router in routers:
        app.include_router(router, prefix=PROJECT_PREFIX + prefix, include_in_schema=False)
    app.include_router(_info.router, prefix=PROJECT_PREFIX, include_in_schema=False)


__all__ = ["PROJECT_PREFIX", "include"]
