"""Tuning: hyper-parameter sweeps on Optuna, AutoML, baselines and the ROI estimate.

Jobs CR_3, CR_4, VR_2 and PL_1.
"""

from __future__ import annotations

from keel.tuning._automl import AutoMLResult, LeaderboardRow, automl, parse_budget
from keel.tuning._roi import CurvePoint, Option, ROIReport, roi
from keel.tuning._roi_report import report_format
from keel.tuning._space import Space, load_space
from keel.tuning._sweep import SweepResult, best_trial, report, sweep
from keel.tuning._sweep_ops import (
    SweepReport,
    SweepSummary,
    TrialQuery,
    describe_sweep,
    list_sweeps,
    load_objective,
    promote_sweep,
    run_sweep,
    trial_query,
)
from keel.tuning._sweep_step import SweepFailedError, sweep_step

__all__ = [
    "AutoMLResult",
    "CurvePoint",
    "LeaderboardRow",
    "Option",
    "ROIReport",
    "Space",
    "SweepFailedError",
    "SweepReport",
    "SweepResult",
    "SweepSummary",
    "TrialQuery",
    "automl",
    "best_trial",
    "describe_sweep",
    "list_sweeps",
    "load_objective",
    "load_space",
    "parse_budget",
    "promote_sweep",
    "report",
    "report_format",
    "roi",
    "run_sweep",
    "sweep",
    "sweep_step",
    "trial_query",
]
