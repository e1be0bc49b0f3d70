"""Experiment tracking: runs, params, metrics, tags, notes, artifacts and search."""

from __future__ import annotations

from keel.tracking._active import (
    ActiveRun,
    active_run,
    end_run,
    get_client,
    get_run,
    init,
    log_artifact,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    metric_history,
    search_runs,
    set_experiment,
    set_tag,
    start_run,
)
from keel.tracking._autolog import autolog
from keel.tracking._client import RunComparison, TrackingClient

__all__ = [
    "ActiveRun",
    "RunComparison",
    "TrackingClient",
    "active_run",
    "autolog",
    "end_run",
    "get_client",
    "get_run",
    "init",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "metric_history",
    "search_runs",
    "set_experiment",
    "set_tag",
    "start_run",
]
