"""The public surface of keel.monitoring is deliberate, and importing it is cheap."""

from __future__ import annotations

import subprocess
import sys

import keel.monitoring


def test_monitoring_surface_is_pinned_and_resolves() -> None:
    assert set(keel.monitoring.__all__) == {
        "Calibration", "CategoricalProfile", "ChampionChallenger", "CohortReport", "CohortSpec",
        "CohortStats", "ColumnProfile", "DatasetProfile", "DeliveryReport", "DriftConfig",
        "DriftReport", "FeatureDrift", "FeedbackResult", "MonitorConfig", "MonitorRun",
        "MonitoringClient", "NumericProfile", "OtherProfile", "PerformanceResult",
        "PerformanceSpec", "ReportFiles", "ResourceBudget", "ResourceUsage", "SchemaIssue",
        "VersionStats", "Window", "alert_probe", "budget_from_spec", "classification_metrics",
        "cohort_report", "compare", "compare_profiles", "compare_versions", "deliver_pending",
        "estimate_classification", "fit_calibration", "import_feedback", "merge_profiles",
        "parse_duration", "parse_time", "profile", "profile_batches", "read_feedback",
        "read_results", "record_feedback", "regression_metrics", "report_data", "run_monitor",
        "run_sql", "send_test", "sql_tables", "write_predictions",
    }  # fmt: skip
    for name in keel.monitoring.__all__:
        assert getattr(keel.monitoring, name) is not None, name


def test_the_drift_engine_needs_neither_pandas_nor_the_store() -> None:
    code = (
        "import sys, numpy as np\n"
        "from keel.monitoring import compare\n"
        "r = compare({'x': np.arange(100.0)}, {'x': np.arange(100.0) + 50})\n"
        "print('DRIFT', [f.column for f in r.drifted])\n"
        "print('HEAVY', [m for m in ('pandas', 'sqlalchemy', 'scipy', 'sklearn', 'duckdb') "
        "if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "DRIFT ['x']" in out.stdout and "HEAVY []" in out.stdout
