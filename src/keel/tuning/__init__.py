"""Tuning: hyper-parameter sweeps on Optuna, AutoML, baselines and the ROI estimate.

Jobs CR_3, CR_4, VR_2 and PL_1.

Names load on first use: ``keel sweep show`` imports neither Optuna nor AutoML's stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel._exports import lazy_exports

if TYPE_CHECKING:
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

_EXPORTS = {
    "AutoMLResult": "keel.tuning._automl",
    "CurvePoint": "keel.tuning._roi",
    "LeaderboardRow": "keel.tuning._automl",
    "Option": "keel.tuning._roi",
    "ROIReport": "keel.tuning._roi",
    "Space": "keel.tuning._space",
    "SweepFailedError": "keel.tuning._sweep_step",
    "SweepReport": "keel.tuning._sweep_ops",
    "SweepResult": "keel.tuning._sweep",
    "SweepSummary": "keel.tuning._sweep_ops",
    "TrialQuery": "keel.tuning._sweep_ops",
    "automl": "keel.tuning._automl",
    "best_trial": "keel.tuning._sweep",
    "describe_sweep": "keel.tuning._sweep_ops",
    "list_sweeps": "keel.tuning._sweep_ops",
    "load_objective": "keel.tuning._sweep_ops",
    "load_space": "keel.tuning._space",
    "parse_budget": "keel.tuning._automl",
    "promote_sweep": "keel.tuning._sweep_ops",
    "report": "keel.tuning._sweep",
    "report_format": "keel.tuning._roi_report",
    "roi": "keel.tuning._roi",
    "run_sweep": "keel.tuning._sweep_ops",
    "sweep": "keel.tuning._sweep",
    "sweep_step": "keel.tuning._sweep_step",
    "trial_query": "keel.tuning._sweep_ops",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
