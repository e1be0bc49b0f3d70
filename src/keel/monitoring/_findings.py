"""From check results to alerts: one dedup key per condition, evidence attached.

Keys are ``<deployment>/<kind>/<what>``, so the same condition seen in the next window
bumps the live alert instead of opening another, and a condition that clears (checked
with enough data and not found) resolves its alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from keel.monitoring._cohorts import CohortReport
from keel.monitoring._drift import DriftReport
from keel.monitoring._metrics import higher_is_better
from keel.monitoring._monitor_config import CohortSpec, PerformanceSpec
from keel.monitoring._resources import ResourceFinding
from keel.store.alerts import NewAlert
from keel.store.eventlog import Window

ALERT_KINDS = (
    "schema",
    "drift",
    "prediction_drift",
    "performance",
    "estimated_performance",
    "cohort",
    "bias",
    "resource",
)


@dataclass
class Findings:
    """Alerts to raise, and the kinds checked with enough data (eligible to auto-resolve)."""

    deployment: str
    window: Window
    monitor_id: int | None = None
    alerts: list[NewAlert] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)

    def add(
        self,
        kind: str,
        what: str,
        severity: str,
        title: str,
        message: str,
        evidence: dict[str, Any],
    ) -> None:
        self.alerts.append(
            NewAlert(
                kind=kind,
                severity=severity,
                dedup_key=f"{self.deployment}/{kind}/{what}"[:512],
                title=title,
                message=message,
                evidence={"window": self.window.label, **evidence},
                deployment=self.deployment,
                monitor_id=self.monitor_id,
                window_start=self.window.start_ms,
                window_end=self.window.end_ms,
            )
        )

    @property
    def keys(self) -> set[str]:
        return {a.dedup_key for a in self.alerts}


def drift_findings(out: Findings, report: DriftReport, outputs: Iterable[str]) -> None:
    out.checked.add("schema")
    for issue in report.schema:
        severity = "critical" if issue.severity == "error" else "warning"
        out.add(
            "schema",
            f"{issue.kind}/{issue.column}",
            severity,
            f"{issue.kind.replace('_', ' ')}: {issue.column}",
            issue.message,
            {"column": issue.column, **issue.evidence},
        )
    if not report.tested:
        return
    out.checked.update(("drift", "prediction_drift"))
    output_set = set(outputs)
    inputs = [f for f in report.drifted if f.column not in output_set]
    preds = [f for f in report.drifted if f.column in output_set]
    if inputs:
        names = ", ".join(f.column for f in inputs[:8]) + ("..." if len(inputs) > 8 else "")
        severity = "critical" if report.dataset_drift else "warning"
        share = report.drift_share
        out.add(
            "drift",
            "inputs",
            severity,
            f"input drift in {len(inputs)} column(s): {names}",
            f"{len(inputs)} of {len(report.tested)} tested columns drifted ({share:.0%}).",
            {
                "drift_share": share,
                "columns": [_feature(f) for f in inputs],
                "n_reference": report.n_reference,
                "n_current": report.n_current,
            },
        )
    for f in preds:
        out.add(
            "prediction_drift",
            f.column,
            "warning",
            f"prediction drift in {f.column}",
            f"the distribution of output {f.column!r} moved ({f.test}={f.statistic:.4g}).",
            {"feature": _feature(f)},
        )


def _feature(f: Any) -> dict[str, Any]:
    data = asdict(f)
    return {
        k: data[k] for k in ("column", "test", "statistic", "p_adjusted", "effect", "n_current")
    }


def performance_findings(
    out: Findings,
    spec: PerformanceSpec,
    realized: dict[str, float | None],
    estimated: dict[str, float | None],
    n_labelled: int,
) -> None:
    metric = spec.metric
    if n_labelled >= spec.min_labels:
        out.checked.add("performance")
        _quality(out, "performance", spec, realized.get(metric), n_labelled, "")
    if estimated.get(metric) is not None:
        out.checked.add("estimated_performance")
        _quality(out, "estimated_performance", spec, estimated.get(metric), None, "estimated ")


def _quality(
    out: Findings,
    kind: str,
    spec: PerformanceSpec,
    value: float | None,
    n_labelled: int | None,
    prefix: str,
) -> None:
    if value is None:
        return
    up = higher_is_better(spec.metric)
    evidence = {
        "metric": spec.metric,
        "value": value,
        "floor": spec.floor,
        "baseline": spec.baseline,
        "max_drop": spec.max_drop,
        "labelled": n_labelled,
    }
    if spec.floor is not None and (value < spec.floor if up else value > spec.floor):
        severity = "critical" if kind == "performance" else "warning"
        out.add(
            kind,
            spec.metric,
            severity,
            f"{prefix}{spec.metric} {value:.4g} past the floor {spec.floor:.4g}",
            f"{prefix}{spec.metric} is {value:.4g}; the floor is {spec.floor:.4g}.",
            evidence,
        )
        return
    if spec.baseline is None or spec.max_drop is None or spec.baseline == 0:
        return
    change = (
        (spec.baseline - value) / abs(spec.baseline)
        if up
        else (value - spec.baseline) / abs(spec.baseline)
    )
    if change > spec.max_drop:
        out.add(
            kind,
            spec.metric,
            "warning",
            f"{prefix}{spec.metric} dropped {change:.0%} from {spec.baseline:.4g} to {value:.4g}",
            f"the allowed drop is {spec.max_drop:.0%}.",
            {**evidence, "relative_drop": change},
        )


def cohort_findings(out: Findings, report: CohortReport, spec: CohortSpec) -> None:
    if report.n < spec.min_size:
        return
    out.checked.update(("cohort", "bias"))
    for c in report.flagged:
        out.add(
            "cohort",
            c.name,
            "warning",
            f"cohort {c.name}: accuracy {c.accuracy:.3g}",
            f"accuracy in cohort {c.name} is {c.accuracy:.3g} "
            f"against {report.overall_accuracy:.3g} "
            f"overall ({c.n} labelled rows, p={c.p_value:.2g}).",
            {
                "cohort": c.name,
                "n": c.n,
                "accuracy": c.accuracy,
                "overall": report.overall_accuracy,
                "p_value": c.p_value,
            },
        )
    for gap in report.gaps:
        cols = "+".join(gap.columns)
        checks = [
            ("parity", gap.parity_difference, spec.parity_gap, "demographic parity difference"),
            ("odds", gap.equalized_odds_difference, spec.odds_gap, "equalized-odds difference"),
        ]
        for what, value, limit, label in checks:
            if value is not None and limit is not None and value > limit:
                out.add(
                    "bias",
                    f"{cols}/{what}",
                    "warning",
                    f"{label} {value:.3g} across {cols}",
                    f"{label} between cohorts of {cols} is {value:.3g} (limit {limit:.3g}).",
                    {"columns": list(gap.columns), "value": value, "limit": limit},
                )


def resource_findings(out: Findings, findings: list[ResourceFinding], checked: bool) -> None:
    if checked:
        out.checked.add("resource")
    for f in findings:
        severity = "critical" if f.value > 1.5 * f.budget else "warning"
        out.add(
            "resource",
            f.name,
            severity,
            f.message,
            f.message,
            {"name": f.name, "value": f.value, "budget": f.budget},
        )
