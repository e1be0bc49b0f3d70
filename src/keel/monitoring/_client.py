"""The monitoring SDK: references, monitors, runs, feedback, alerts, reports and SQL.

::

    from keel.monitoring import MonitoringClient

    mon = MonitoringClient(store, project="default")
    mon.reference_from_dataset("customers@3", subject="model:churn/3")
    mon.configure("churn", reference="model:churn/3",
                  performance={"prediction": "predictions", "score": "proba", "floor": 0.8})
    mon.record_feedback("churn", [{"request_id": "r-1", "label": 1}])
    run = mon.run("churn", window="1d")
    mon.report("churn", window="7d", every="1d", out_dir="reports/")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store.projects import ProjectByName

if TYPE_CHECKING:
    import pandas as pd

    from keel.monitoring._champion import ChampionChallenger
    from keel.monitoring._feedback import FeedbackResult
    from keel.monitoring._notify import DeliveryReport
    from keel.monitoring._profile import DatasetProfile
    from keel.monitoring._report import ReportFiles
    from keel.monitoring._runner import MonitorRun
    from keel.store import Project, Store
    from keel.store.alerts import Alert, Notifier
    from keel.store.eventlog import Window
    from keel.store.monitors import Monitor, ReferenceInfo


#: ``update`` options -> (config section, key in it).
MONITOR_OPTIONS: dict[str, tuple[str, str]] = {
    **{k: ("drift", k) for k in ("numeric_test", "categorical_test", "alpha", "correction")},
    **{
        k: ("performance", k)
        for k in (
            "task",
            "prediction",
            "score",
            "positive",
            "metric",
            "floor",
            "max_drop",
            "baseline",
            "min_labels",
        )
    },
    "cohorts": ("cohorts", "columns"),
    "max_gap": ("cohorts", "max_gap"),
    "latency_p95_ms": ("resources", "latency_p95_ms"),
    "latency_p99_ms": ("resources", "latency_p99_ms"),
    "memory": ("resources", "memory_bytes"),
    "cpu": ("resources", "cpu"),
    "metrics_url": ("resources", "metrics_url"),
    "label_project": ("label_sample", "project"),
    "label_n": ("label_sample", "n"),
    "label_strategy": ("label_sample", "strategy"),
}


class MonitoringClient(ProjectByName):
    """Monitoring for one project. Cheap to create (no I/O: the project is looked up on
    first use; only setting a reference, a monitor or a notifier creates it); safe to share
    between threads."""

    def __init__(self, store: Store, project: str = "default") -> None:
        super().__init__(store, project)

    @property
    def project_id(self) -> int:
        """The project's id for reads and changes to what is in it: it must exist."""
        return self.existing_project().id

    # -- references ------------------------------------------------------------------------
    def set_reference(
        self, subject: str, data: Any, *, columns: list[str] | None = None, source: str = ""
    ) -> ReferenceInfo:
        """Profile ``data`` (DataFrame / Arrow / dict) as the reference of ``subject``."""
        from keel.monitoring._reference import reference_from_data

        return reference_from_data(
            self.store, self.project.id, subject, data, columns=columns, source=source
        )

    def reference_from_dataset(
        self, dataset_ref: str, *, subject: str | None = None, columns: list[str] | None = None
    ) -> ReferenceInfo:
        """Profile a dataset table version (``customers@2``) as a reference."""
        from keel.monitoring._reference import reference_from_dataset

        return reference_from_dataset(
            self.store, self.existing_project(), dataset_ref, subject=subject, columns=columns
        )

    def reference_from_model(self, model_ref: str) -> ReferenceInfo:
        """Profile a model version's training dataset (from its lineage) as its reference,
        ``model:<name>/<version>``; ``model_ref`` is ``name/3``, ``name@alias`` or ``name``."""
        from keel.monitoring._reference import reference_from_model

        return reference_from_model(self.store, self.existing_project(), model_ref)

    def reference(self, subject: str) -> DatasetProfile:
        from keel.monitoring._reference import load_reference

        return load_reference(self.store, self.project_id, subject)

    def references(self) -> list[ReferenceInfo]:
        return self.store.monitors.list_references(self.project_id)

    # -- monitors --------------------------------------------------------------------------
    def configure(
        self,
        deployment: str,
        *,
        reference: str | None = None,
        window: str | None = None,
        drift: Mapping[str, Any] | None = None,
        performance: Mapping[str, Any] | None = None,
        cohorts: Mapping[str, Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        label_sample: Mapping[str, Any] | None = None,
        enabled: bool | None = None,
    ) -> Monitor:
        """Create or change the monitor of ``deployment``; sections given replace old ones.

        Without ``resources``, a new monitor takes its budget from the deployment spec.
        """
        from keel.monitoring._monitor_config import MonitorConfig
        from keel.store.eventlog import parse_duration

        # checked against the project as it is; it is made only to store the monitor, so
        # a bad input leaves no new project behind
        current = self.found_project()
        if reference is not None and (
            current is None or self.store.monitors.find_reference(current.id, reference) is None
        ):
            raise NotFoundError(
                f"no reference profile {reference!r}; create it with set_reference() or "
                f"`keel monitor reference {reference} --dataset NAME[@VERSION]`"
            )
        if window is not None:
            parse_duration(window)
        found = self._monitor_in(current, deployment)
        config = MonitorConfig.from_dict(found.config if found else None)
        if resources is None and found is None and current is not None:
            resources = self._spec_budget(current.id, deployment)
        sections = {"drift": drift, "performance": performance, "cohorts": cohorts}
        config = config.merged(**sections, resources=resources, label_sample=label_sample)
        if config.label_sample is not None:  # a missing labeling project is said now, once
            in_project = current or self.existing_project()  # a new one has none: named so
            self.store.labeling.get_project(in_project.id, config.label_sample.project)
        return self.store.monitors.upsert(
            self.project.id,
            deployment,
            reference=reference,
            config=config.to_dict(),
            window=window,
            enabled=enabled,
        )

    def update(
        self,
        deployment: str,
        *,
        reference: str | None = None,
        window: str | None = None,
        enabled: bool | None = None,
        **options: Any,
    ) -> Monitor:
        """Change only the settings given (``alpha=0.01``, ``floor=0.8``...), keeping every
        other stored one: what ``keel monitor set`` does. None means "leave as it is"."""
        unknown = sorted(set(options) - set(MONITOR_OPTIONS))
        if unknown:
            raise InvalidArgumentError(
                f"unknown monitor setting(s) {unknown}; known: {', '.join(sorted(MONITOR_OPTIONS))}"
            )
        found = self._monitor_in(self.found_project(), deployment)
        stored = found.config if found else {}
        sections: dict[str, dict[str, Any]] = {}
        for option, value in options.items():
            if value is None:
                continue
            section, key = MONITOR_OPTIONS[option]
            sections.setdefault(section, dict(stored.get(section) or {}))[key] = value
        return self.configure(
            deployment, reference=reference, window=window, enabled=enabled, **sections
        )

    def _monitor_in(self, project: Project | None, deployment: str) -> Monitor | None:
        """The stored monitor of ``deployment``; a project not made yet has none."""
        return None if project is None else self.store.monitors.find(project.id, deployment)

    def _spec_budget(self, project_id: int, deployment: str) -> dict[str, Any] | None:
        from keel.monitoring._resources import budget_from_spec

        found = self.store.deployments.find(project_id, deployment)
        if found is None:
            return None
        budget = budget_from_spec(found.spec)
        return budget.to_dict() if any(v is not None for v in budget.to_dict().values()) else None

    def monitor(self, deployment: str) -> Monitor:
        """The monitor of ``deployment`` (NotFoundError if it has none)."""
        return self.store.monitors.get(self.project_id, deployment)

    def delete_monitor(self, deployment: str) -> None:
        """Stop watching ``deployment`` (its alerts stay)."""
        self.store.monitors.delete(self.project_id, deployment)

    def calibrate(
        self,
        deployment: str,
        y_true: Sequence[Any],
        y_pred: Sequence[Any],
        scores: Sequence[float] | None = None,
    ) -> Monitor:
        """Set the performance baseline (and the CBPE calibration when ``scores`` are given)
        from labelled validation data the model has not trained on."""
        import numpy as np

        from keel.monitoring._labels import canonical_array
        from keel.monitoring._metrics import (
            classification_metrics,
            fit_calibration,
            regression_metrics,
        )
        from keel.monitoring._monitor_config import MonitorConfig, PerformanceSpec

        monitor = self.store.monitors.get(self.project_id, deployment)
        spec = MonitorConfig.from_dict(monitor.config).performance or PerformanceSpec()
        truth, pred = canonical_array(list(y_true)), canonical_array(list(y_pred))
        if spec.task == "classification":
            baseline = classification_metrics(truth, pred, spec.positive)[spec.metric]
        else:
            t = np.asarray(y_true, dtype=np.float64)
            baseline = regression_metrics(t, np.asarray(y_pred, dtype=np.float64))[spec.metric]
        changes: dict[str, Any] = {"baseline": baseline}
        if scores is not None and spec.task == "classification":
            positive = np.array([t == spec.positive for t in truth])
            calibration = fit_calibration(np.asarray(scores, dtype=np.float64), positive)
            changes["calibration"] = calibration.to_dict() if calibration else None
        from dataclasses import asdict

        return self.configure(deployment, performance={**asdict(spec), **changes})

    def monitors(self) -> list[Monitor]:
        return self.store.monitors.list(self.project_id)

    def run(
        self,
        deployment: str,
        window: str | Window | None = None,
        *,
        end_ms: int | None = None,
        every: str | None = None,
        deliver: bool = True,
    ) -> list[MonitorRun]:
        """Monitor ``window`` (default: the monitor's window, ending now), split by ``every``."""
        from keel.monitoring._runner import run_monitor
        from keel.store.eventlog import Window

        monitor = self.store.monitors.get(self.project_id, deployment)
        span = (
            window
            if isinstance(window, Window)
            else Window.ending(window or monitor.window, end_ms)
        )
        parts = span.split(every) if every else [span]
        return [
            run_monitor(self.store, self.project_id, deployment, w, deliver=deliver) for w in parts
        ]

    def run_due(self, *, now_ms: int | None = None, max_windows: int = 24) -> list[MonitorRun]:
        """Run every enabled monitor on each complete window since its last run (windows are
        aligned to their length, e.g. whole hours for ``1h``). Call it from cron or a loop;
        running it twice in a row does nothing the second time."""
        import time

        from keel.monitoring._runner import run_monitor
        from keel.store.eventlog import Window, parse_duration

        now = now_ms if now_ms is not None else int(time.time() * 1000)
        runs: list[MonitorRun] = []
        for monitor in self.store.monitors.list(self.project_id, enabled_only=True):
            length = parse_duration(monitor.window)
            last_end = (now // length) * length
            start = monitor.last_window_end or last_end - length
            first = max(start, last_end - max_windows * length)
            for begin in range(first, last_end, length):
                window = Window(begin, begin + length)
                runs.append(run_monitor(self.store, self.project_id, monitor.deployment, window))
        return runs

    # -- feedback --------------------------------------------------------------------------
    def record_feedback(self, deployment: str, labels: Any, **options: Any) -> FeedbackResult:
        from keel.monitoring._feedback import record_feedback

        return record_feedback(self.store.settings, deployment, labels, **options)

    def import_feedback(self, deployment: str, path: str | Path, **options: Any) -> FeedbackResult:
        from keel.monitoring._feedback import import_feedback

        return import_feedback(self.store.settings, deployment, path, **options)

    # -- alerts ----------------------------------------------------------------------------
    def alerts(self, **filters: Any) -> list[Alert]:
        return self.store.alerts.list(self.project_id, **filters)

    def alert(self, alert_id: int) -> Alert:
        return self.store.alerts.get(self.project_id, alert_id)

    def acknowledge(self, alert_id: int, *, by: str = "", note: str = "") -> Alert:
        return self.store.alerts.acknowledge(self.project_id, alert_id, by=by, note=note)

    def resolve(self, alert_id: int, *, by: str = "", note: str = "") -> Alert:
        alert = self.store.alerts.resolve(self.project_id, alert_id, by=by, note=note)
        self.store.alerts.enqueue(alert, "resolved")
        return alert

    def add_notifier(
        self,
        name: str,
        kind: str,
        config: Mapping[str, Any],
        *,
        min_severity: str = "warning",
        deployment: str = "",
    ) -> Notifier:
        from keel.monitoring._notify import check_config
        from keel.store.alerts import check_notifier

        checked = check_config(kind, dict(config))
        check_notifier(name, kind, min_severity)  # before the project is made
        return self.store.alerts.add_notifier(
            self.project.id, name, kind, checked, min_severity=min_severity, deployment=deployment
        )

    def deliver(self, *, timeout_s: float = 5.0, budget_s: float = 30.0) -> DeliveryReport:
        """Send every notification that is due (new, or waiting for a retry)."""
        from keel.monitoring._notify import deliver_pending

        return deliver_pending(self.store, self.project_id, timeout_s=timeout_s, budget_s=budget_s)

    # -- reports and analysis --------------------------------------------------------------
    def report(
        self,
        deployment: str,
        *,
        window: str = "7d",
        every: str = "1d",
        end_ms: int | None = None,
        out_dir: str | Path | None = None,
    ) -> ReportFiles:
        """Write ``<deployment>-monitoring.html`` and ``.json`` (self-contained) to ``out_dir``."""
        from keel.monitoring._report import write_report
        from keel.store.eventlog import Window

        span = Window.ending(window, end_ms)
        return write_report(
            self.store, self.project_id, deployment, span, every=every, out_dir=Path(out_dir or ".")
        )

    def champion_challenger(
        self,
        deployment: str,
        *,
        champion: str | None = None,
        challenger: str | None = None,
        window: str = "7d",
        end_ms: int | None = None,
    ) -> ChampionChallenger:
        from keel.monitoring._champion import compare_versions
        from keel.monitoring._monitor_config import MonitorConfig, PerformanceSpec
        from keel.store.eventlog import Window

        monitor = self.store.monitors.find(self.project_id, deployment)
        spec = (
            MonitorConfig.from_dict(monitor.config if monitor else None).performance
            or PerformanceSpec()
        )
        return compare_versions(
            self.store.settings,
            deployment,
            Window.ending(window, end_ms),
            champion=champion,
            challenger=challenger,
            spec=spec,
        )

    def sql(self, query: str) -> pd.DataFrame:
        """Run DuckDB SQL over predictions, feedback, alerts and registry metadata."""
        from keel.monitoring._sql import run_sql

        return run_sql(self.store, self.project_id, query).to_pandas()
