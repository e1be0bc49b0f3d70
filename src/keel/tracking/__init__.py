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
    using_client,
)
from keel.tracking._autolog import autolog
from keel.tracking._client import RunComparison, TrackingClient
from keel.tracking._direction import lower_is_better, metric_directions
from keel.tracking._lifecycle import display_status, is_lost

__all__ = [
    "ActiveRun",
    "RunComparison",
    "TrackingClient",
    "active_run",
    "autolog",
    "display_status",
    "end_run",
    "get_client",
    "get_run",
    "init",
    "is_lost",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "lower_is_better",
    "metric_directions",
    "metric_history",
    "search_runs",
    "set_experiment",
    "set_tag",
    "start_run",
    "using_client",
]
