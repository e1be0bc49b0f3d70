"""Experiment tracking: runs, params, metrics, tags, notes, artifacts and search.

Names load on first use (PEP 562): a command that only reads runs imports the client and
the run-state helpers, not the active-run machinery (autolog, capture, system metrics).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel._exports import lazy_exports

if TYPE_CHECKING:
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

#: public name -> the module defining it (the active-run module unless named here)
_EXPORTS: dict[str, str] = dict.fromkeys(__all__, "keel.tracking._active") | {
    "autolog": "keel.tracking._autolog",
    "RunComparison": "keel.tracking._client",
    "TrackingClient": "keel.tracking._client",
    "lower_is_better": "keel.tracking._direction",
    "metric_directions": "keel.tracking._direction",
    "display_status": "keel.tracking._lifecycle",
    "is_lost": "keel.tracking._lifecycle",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
