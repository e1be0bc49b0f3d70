"""The native REST API, ``/api/v1``: one thin router per resource."""

from __future__ import annotations

from fastapi import APIRouter

from keel.server.api import (
    artifacts,
    comments,
    datasets,
    deployments,
    experiments,
    labeling,
    logged_models,
    meta,
    monitoring,
    pipelines,
    projects,
    registry,
    runs,
    search,
    sweeps,
    users,
)

ROUTERS: tuple[APIRouter, ...] = (
    meta.router,
    projects.router,
    experiments.router,
    runs.router,
    artifacts.router,
    datasets.router,
    registry.router,
    deployments.router,
    monitoring.router,
    pipelines.router,
    users.router,
    search.router,
    sweeps.router,
    labeling.router,
    comments.router,
    logged_models.router,
)

__all__ = ["ROUTERS"]
