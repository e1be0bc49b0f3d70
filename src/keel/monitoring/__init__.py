"""Monitoring: schema, drift, performance, cohorts and resources of models in production.

The drift engine works on any two tables, no store needed::

    from keel.monitoring import compare
    report = compare(train_df, today_df)          # DataFrames, Arrow tables, dicts of arrays
    report.drifted, report.schema, report.to_dict()

Monitoring a deployment's prediction log, with alerts, feedback and reports::

    from keel.monitoring import MonitoringClient
    mon = MonitoringClient(store, project="default")
    mon.reference_from_dataset("customers@3", subject="model:churn/3")
    mon.configure("churn", reference="model:churn/3", performance={"floor": 0.8})
    mon.run("churn", window="1d")

Names load on first use, so importing this package costs nothing until one is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keel._exports import lazy_exports

if TYPE_CHECKING:
    from keel.monitoring._champion import ChampionChallenger, VersionStats, compare_versions
    from keel.monitoring._checks import SchemaIssue
    from keel.monitoring._client import MonitoringClient
    from keel.monitoring._cohorts import CohortReport, CohortStats, cohort_report
    from keel.monitoring._config import DriftConfig
    from keel.monitoring._drift import DriftReport, FeatureDrift, compare, compare_profiles
    from keel.monitoring._feedback import (
        FeedbackResult,
        import_feedback,
        read_feedback,
        record_feedback,
    )
    from keel.monitoring._metrics import (
        Calibration,
        classification_metrics,
        estimate_classification,
        fit_calibration,
        regression_metrics,
    )
    from keel.monitoring._monitor_config import CohortSpec, MonitorConfig, PerformanceSpec
    from keel.monitoring._notify import DeliveryReport, deliver_pending, send_test
    from keel.monitoring._profile import (
        CategoricalProfile,
        ColumnProfile,
        DatasetProfile,
        NumericProfile,
        OtherProfile,
        merge_profiles,
        profile,
        profile_batches,
    )
    from keel.monitoring._report import ReportFiles, report_data
    from keel.monitoring._resources import ResourceBudget, ResourceUsage, budget_from_spec
    from keel.monitoring._results import read_results
    from keel.monitoring._runner import MonitorRun, PerformanceResult, run_monitor
    from keel.monitoring._sql import run_sql
    from keel.monitoring._sql import table_names as sql_tables
    from keel.monitoring._trigger import alert_probe
    from keel.store.eventlog import Window, parse_duration, parse_time
    from keel.store.predlog import write_predictions

_EXPORTS: dict[str, str] = {
    "ChampionChallenger": "keel.monitoring._champion",
    "VersionStats": "keel.monitoring._champion",
    "compare_versions": "keel.monitoring._champion",
    "SchemaIssue": "keel.monitoring._checks",
    "MonitoringClient": "keel.monitoring._client",
    "CohortReport": "keel.monitoring._cohorts",
    "CohortStats": "keel.monitoring._cohorts",
    "cohort_report": "keel.monitoring._cohorts",
    "DriftConfig": "keel.monitoring._config",
    "DriftReport": "keel.monitoring._drift",
    "FeatureDrift": "keel.monitoring._drift",
    "compare": "keel.monitoring._drift",
    "compare_profiles": "keel.monitoring._drift",
    "FeedbackResult": "keel.monitoring._feedback",
    "import_feedback": "keel.monitoring._feedback",
    "read_feedback": "keel.monitoring._feedback",
    "record_feedback": "keel.monitoring._feedback",
    "Window": "keel.store.eventlog",
    "parse_duration": "keel.store.eventlog",
    "parse_time": "keel.store.eventlog",
    "Calibration": "keel.monitoring._metrics",
    "classification_metrics": "keel.monitoring._metrics",
    "estimate_classification": "keel.monitoring._metrics",
    "fit_calibration": "keel.monitoring._metrics",
    "regression_metrics": "keel.monitoring._metrics",
    "CohortSpec": "keel.monitoring._monitor_config",
    "MonitorConfig": "keel.monitoring._monitor_config",
    "PerformanceSpec": "keel.monitoring._monitor_config",
    "DeliveryReport": "keel.monitoring._notify",
    "deliver_pending": "keel.monitoring._notify",
    "send_test": "keel.monitoring._notify",
    "CategoricalProfile": "keel.monitoring._profile",
    "ColumnProfile": "keel.monitoring._profile",
    "DatasetProfile": "keel.monitoring._profile",
    "NumericProfile": "keel.monitoring._profile",
    "OtherProfile": "keel.monitoring._profile",
    "merge_profiles": "keel.monitoring._profile",
    "profile": "keel.monitoring._profile",
    "profile_batches": "keel.monitoring._profile",
    "ReportFiles": "keel.monitoring._report",
    "report_data": "keel.monitoring._report",
    "ResourceBudget": "keel.monitoring._resources",
    "ResourceUsage": "keel.monitoring._resources",
    "budget_from_spec": "keel.monitoring._resources",
    "read_results": "keel.monitoring._results",
    "MonitorRun": "keel.monitoring._runner",
    "PerformanceResult": "keel.monitoring._runner",
    "run_monitor": "keel.monitoring._runner",
    "run_sql": "keel.monitoring._sql",
    "sql_tables": "keel.monitoring._sql",
    "alert_probe": "keel.monitoring._trigger",
    "write_predictions": "keel.store.predlog",
}
_RENAMED = {"sql_tables": "table_names"}

__all__ = [
    "Calibration",
    "CategoricalProfile",
    "ChampionChallenger",
    "CohortReport",
    "CohortSpec",
    "CohortStats",
    "ColumnProfile",
    "DatasetProfile",
    "DeliveryReport",
    "DriftConfig",
    "DriftReport",
    "FeatureDrift",
    "FeedbackResult",
    "MonitorConfig",
    "MonitorRun",
    "MonitoringClient",
    "NumericProfile",
    "OtherProfile",
    "PerformanceResult",
    "PerformanceSpec",
    "ReportFiles",
    "ResourceBudget",
    "ResourceUsage",
    "SchemaIssue",
    "VersionStats",
    "Window",
    "alert_probe",
    "budget_from_spec",
    "classification_metrics",
    "cohort_report",
    "compare",
    "compare_profiles",
    "compare_versions",
    "deliver_pending",
    "estimate_classification",
    "fit_calibration",
    "import_feedback",
    "merge_profiles",
    "parse_duration",
    "parse_time",
    "profile",
    "profile_batches",
    "read_feedback",
    "read_results",
    "record_feedback",
    "regression_metrics",
    "report_data",
    "run_monitor",
    "run_sql",
    "send_test",
    "sql_tables",
    "write_predictions",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__, _RENAMED)
