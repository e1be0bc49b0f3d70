"""One monitor run over one window of a deployment's prediction log.

One streaming pass over the window: every batch updates a profile binned like the
reference (for schema and drift) and keeps the few columns performance, cohorts and
latency need. Then labels are joined by request id, every check runs, findings become
alerts (deduplicated; cleared conditions resolve), notifications are delivered (a slow
or dead notifier costs its timeout, never the run), and the results are appended to the
monitoring log that reports chart over time. Memory is one batch plus the small columns
of one window, whatever the number of windows monitored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from keel.monitoring._cohorts import CohortReport, cohort_report
from keel.monitoring._drift import DriftReport, compare_profiles
from keel.monitoring._feedback import read_feedback
from keel.monitoring._findings import (
    ALERT_KINDS,
    Findings,
    cohort_findings,
    drift_findings,
    performance_findings,
    resource_findings,
)
from keel.monitoring._label_sample import sample_for_labels
from keel.monitoring._labels import canonical_array
from keel.monitoring._metrics import (
    Calibration,
    classification_metrics,
    estimate_classification,
    regression_metrics,
)
from keel.monitoring._monitor_config import MonitorConfig, PerformanceSpec
from keel.monitoring._notify import DeliveryReport, deliver_pending
from keel.monitoring._profile import DatasetProfile, merge_profiles, profile
from keel.monitoring._reference import load_reference
from keel.monitoring._resources import (
    ResourceFinding,
    ResourceUsage,
    check_budget,
    latency_percentiles,
    process_usage,
)
from keel.monitoring._results import write_results
from keel.store import Store
from keel.store.alerts import Alert
from keel.store.eventlog import EventLog, Window
from keel.store.predlog import PREDICTIONS, column_roles, iter_window

if TYPE_CHECKING:
    import pyarrow as pa

_KEEP = ("request_id", "row", "ts", "latency_ms", "version")


@dataclass(frozen=True)
class PerformanceResult:
    n_predictions: int
    n_labelled: int
    metrics: dict[str, float | None] = field(default_factory=dict)
    estimated: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class MonitorRun:
    """What one run found and did."""

    deployment: str
    window: Window
    rows: int
    drift: DriftReport | None = None
    performance: PerformanceResult | None = None
    cohorts: CohortReport | None = None
    resources: ResourceUsage | None = None
    resource_findings: list[ResourceFinding] = field(default_factory=list)
    alerts: list[tuple[Alert, str]] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    deliveries: DeliveryReport = field(default_factory=DeliveryReport)
    notes: list[str] = field(default_factory=list)
    label_tasks: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "window": {
                "start_ms": self.window.start_ms,
                "end_ms": self.window.end_ms,
                "label": self.window.label,
            },
            "rows": self.rows,
            "drift": self.drift.to_dict() if self.drift else None,
            "performance": asdict(self.performance) if self.performance else None,
            "cohorts": asdict(self.cohorts) if self.cohorts else None,
            "resources": asdict(self.resources) if self.resources else None,
            "resource_findings": [asdict(f) for f in self.resource_findings],
            "alerts": [
                {"id": a.id, "event": e, "kind": a.kind, "severity": a.severity, "title": a.title}
                for a, e in self.alerts
            ],
            "resolved": [a.id for a in self.resolved],
            "deliveries": asdict(self.deliveries),
            "notes": self.notes,
            "label_tasks": self.label_tasks,
        }


@dataclass
class _Scan:
    profile: DatasetProfile | None = None
    small: list[pa.RecordBatch] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    rows: int = 0


def run_monitor(
    store: Store,
    project_id: int,
    deployment: str,
    window: Window,
    *,
    deliver: bool = True,
    record: bool = True,
    scrape_interval_s: float = 1.0,
) -> MonitorRun:
    """Check one window of ``deployment`` against its monitor's reference and settings.

    With ``record=False`` (reports filling in history) nothing is alerted or delivered and
    the monitor's last run is left alone; the results are still written.
    """
    monitor = store.monitors.get(project_id, deployment)
    config = MonitorConfig.from_dict(monitor.config)
    reference = load_reference(store, project_id, monitor.reference) if monitor.reference else None
    log = EventLog(store.settings.artifacts_uri, PREDICTIONS)
    scan = _scan(log, deployment, window, reference, config)
    notes: list[str] = []
    findings = Findings(deployment, window, monitor.id)
    drift = _drift(deployment, reference, scan, config, findings, notes)
    small = _small_table(scan)
    perf, cohorts = _quality(store, deployment, small, config, findings, notes)
    usage, over = _resources(small, config, findings, notes, scrape_interval_s)
    tasks = (
        sample_for_labels(store, project_id, deployment, window, config.label_sample, drift,
                          scan.outputs, notes)
        if record and config.label_sample and scan.rows
        else []
    )  # fmt: skip
    raised, resolved = _raise(store, project_id, monitor.id, findings) if record else ([], [])
    delivered = deliver_pending(store, project_id) if deliver and record else DeliveryReport()
    result = MonitorRun(deployment, window, scan.rows, drift, perf, cohorts, usage, over,
                        raised, resolved, delivered, notes, tasks)  # fmt: skip
    write_results(store.settings, result)
    if record:
        store.monitors.mark_run(monitor.id, window.end_ms)
    return result


def _drift(
    deployment: str,
    reference: DatasetProfile | None,
    scan: _Scan,
    config: MonitorConfig,
    findings: Findings,
    notes: list[str],
) -> DriftReport | None:
    """The window's profile compared with the reference (None, with a note, when either
    is missing); drifted columns become findings."""
    if reference is None:
        notes.append(
            "no reference profile: schema and drift checks skipped "
            f"(set one with `keel monitor set {deployment} --reference ...`)"
        )
        return None
    if scan.profile is None:
        notes.append("no predictions in this window: nothing to compare")
        return None
    drift = compare_profiles(reference, scan.profile, config.drift)
    drift_findings(findings, drift, scan.outputs)
    return drift


def _scan(
    log: EventLog,
    deployment: str,
    window: Window,
    reference: DatasetProfile | None,
    config: MonitorConfig,
) -> _Scan:
    spec = config.performance
    extra = {spec.prediction, spec.score} if spec else set()
    if config.cohorts:
        extra.update(c for combo in config.cohorts.columns for c in combo)
    scan = _Scan()
    for batch in iter_window(log, deployment, window):
        inputs, outputs = column_roles(batch.schema)
        scan.outputs = outputs
        scan.rows += batch.num_rows
        watched = inputs + [
            o for o in outputs if config.prediction_drift and reference and o in reference.columns
        ]
        part = profile(batch, like=reference, columns=watched)
        scan.profile = part if scan.profile is None else merge_profiles(scan.profile, part)
        keep = [c for c in batch.schema.names if c in _KEEP or c in extra]
        scan.small.append(batch.select(keep))
    return scan


def _small_table(scan: _Scan) -> pa.Table | None:
    import pyarrow as pa

    return pa.Table.from_batches(scan.small) if scan.small else None


def _quality(
    store: Store,
    deployment: str,
    small: pa.Table | None,
    config: MonitorConfig,
    findings: Findings,
    notes: list[str],
) -> tuple[PerformanceResult | None, CohortReport | None]:
    spec = config.performance
    if spec is None or small is None:
        return None, None
    if spec.prediction not in small.column_names:
        notes.append(
            f"output {spec.prediction!r} is not in the log; performance skipped "
            f"(outputs are set with --prediction)"
        )
        return None, None
    labels = read_feedback(
        store.settings, deployment, columns=("request_id", "row", "label", "value")
    )
    joined = small.join(labels, keys=["request_id", "row"], join_type="left outer")
    y_pred = canonical_array(joined.column(spec.prediction))
    y_true = joined.column("label").to_pylist()
    n_labelled = sum(t is not None for t in y_true)
    realized = _realized(spec, joined, y_true, y_pred) if n_labelled else {}
    estimated = _estimated(spec, joined, y_pred)
    perf = PerformanceResult(joined.num_rows, n_labelled, realized, estimated)
    performance_findings(findings, spec, realized, estimated, n_labelled)
    if n_labelled < spec.min_labels:
        notes.append(
            f"{n_labelled} labelled predictions (need {spec.min_labels}): no performance alert"
        )
    cohorts = None
    if config.cohorts and config.cohorts.columns and spec.task == "classification" and n_labelled:
        present = {c for combo in config.cohorts.columns for c in combo if c in joined.column_names}
        sets = [combo for combo in config.cohorts.columns if set(combo) <= present]
        if sets:
            cols = {c: _cohort_values(joined.column(c)) for c in present}
            cohorts = cohort_report(
                y_true,
                y_pred,
                cols,
                sets=sets,
                positive=spec.positive,
                max_gap=config.cohorts.max_gap,
                min_size=config.cohorts.min_size,
            )
            cohort_findings(findings, cohorts, config.cohorts)
    return perf, cohorts


def _cohort_values(col: Any) -> Any:
    import numpy as np
    import pyarrow as pa

    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return np.asarray(
            col.cast(pa.float64()).fill_null(float("nan")).to_numpy(zero_copy_only=False)
        )
    return col.cast(pa.string()).to_pylist()


def _realized(
    spec: PerformanceSpec, joined: pa.Table, y_true: list[Any], y_pred: list[str | None]
) -> dict[str, float | None]:
    import numpy as np

    if spec.task == "classification":
        return classification_metrics(y_true, y_pred, spec.positive)
    value = joined.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    pred = np.array([float(p) if p is not None else np.nan for p in y_pred], dtype=np.float64)
    return regression_metrics(value, pred)


def _estimated(
    spec: PerformanceSpec, joined: pa.Table, y_pred: list[str | None]
) -> dict[str, float | None]:
    import numpy as np

    if spec.task != "classification" or not spec.score or spec.score not in joined.column_names:
        return {}
    scores = joined.column(spec.score).to_numpy(zero_copy_only=False).astype(np.float64)
    if spec.calibration:
        scores = Calibration(**spec.calibration).apply(scores)
    predicted = np.array([p == spec.positive for p in y_pred])
    return estimate_classification(predicted, scores)


def _resources(
    small: pa.Table | None,
    config: MonitorConfig,
    findings: Findings,
    notes: list[str],
    interval_s: float,
) -> tuple[ResourceUsage | None, list[ResourceFinding]]:
    import numpy as np
    import pyarrow.compute as pc

    budget = config.resources
    if small is None and budget is None:
        return None, []
    latency = {}
    requests = 0
    if small is not None and "latency_ms" in small.column_names:
        first_rows = (
            small.filter(pc.equal(small.column("row"), 0)) if "row" in small.column_names else small
        )
        requests = first_rows.num_rows
        lat = first_rows.column("latency_ms").to_numpy(zero_copy_only=False).astype(np.float64)
        latency = latency_percentiles(lat)
    process: dict[str, float | None] = {}
    error = ""
    if budget is not None and budget.metrics_url:
        try:
            process = process_usage(budget.metrics_url, interval_s=interval_s)
        except Exception as exc:  # the serving process may be down; the run goes on
            error = f"{type(exc).__name__}: {exc}"
            notes.append(f"could not scrape {budget.metrics_url}: {error}")
    usage = ResourceUsage(
        requests,
        latency,
        process.get("memory_bytes"),
        process.get("model_memory_bytes"),
        process.get("cpu"),
        error,
    )
    over = check_budget(usage, budget) if budget is not None else []
    resource_findings(
        findings, over, checked=budget is not None and (requests > 0 or bool(process))
    )
    return usage, over


def _raise(
    store: Store, project_id: int, monitor_id: int, findings: Findings
) -> tuple[list[tuple[Alert, str]], list[Alert]]:
    raised = []
    for new in findings.alerts:
        alert, event = store.alerts.record(project_id, new)
        raised.append((alert, event))
        if event in ("opened", "escalated"):
            store.alerts.enqueue(alert, event)
    kinds = [k for k in ALERT_KINDS if k in findings.checked]
    resolved = store.alerts.resolve_absent(
        project_id, monitor_id, kinds, findings.keys, by="monitor"
    )
    for alert in resolved:
        store.alerts.enqueue(alert, "resolved")
    return raised, resolved
