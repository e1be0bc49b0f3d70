"""The public surface is deliberate: these lists change only on purpose."""

from __future__ import annotations

import subprocess
import sys

import keel
import keel.store
import keel.tracking


def test_keel_exports_resolve() -> None:
    for name in keel.__all__:
        assert getattr(keel, name) is not None, name


def test_tracking_surface_is_pinned() -> None:
    assert set(keel.tracking.__all__) == {
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
        "metric_history",
        "metric_directions",
        "search_runs",
        "set_experiment",
        "set_tag",
        "start_run",
        "using_client",
    }


def test_cli_help_is_fast_and_light() -> None:
    code = (
        "import sys; from keel.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'sklearn', 'pyarrow', 'sqlalchemy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
    assert "quickstart" in out.stdout
