"""Alerts, notifiers and deliveries as values, and their rows decoded (for
:class:`keel.store.alerts.AlertRepository`, which re-exports the public names)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError
from keel.store._lazy import Tables

if TYPE_CHECKING:
    from sqlalchemy import Row
else:
    pass

_t = Tables(
    AL="keel.store._schema_monitoring:AlertRow",
    NT="keel.store._schema_monitoring:NotifierRow",
    DL="keel.store._schema_monitoring:AlertDeliveryRow",
)


SEVERITIES = ("info", "warning", "critical")
NOTIFIER_KINDS = ("webhook", "email", "log")


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class NewAlert:
    """What a monitor found; ``dedup_key`` names the condition (same key, same alert)."""

    kind: str
    severity: str
    dedup_key: str
    title: str
    message: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    deployment: str = ""
    monitor_id: int | None = None
    window_start: int | None = None
    window_end: int | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise InvalidArgumentError(
                f"alert severity {self.severity!r} is not one of {', '.join(SEVERITIES)}"
            )
        if not self.dedup_key or len(self.dedup_key) > 512:
            raise InvalidArgumentError("an alert's dedup_key must be 1-512 characters")


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    project_id: int
    monitor_id: int | None
    deployment: str
    kind: str
    severity: str
    dedup_key: str
    state: AlertState
    title: str
    message: str
    evidence: dict[str, Any]
    occurrences: int
    first_seen_at: int
    last_seen_at: int
    window_start: int | None
    window_end: int | None
    acknowledged_at: int | None
    acknowledged_by: str
    resolved_at: int | None
    resolved_by: str
    note: str

    def __repr__(self) -> str:
        return (
            f"Alert(#{self.id}, {self.severity} {self.kind} on {self.deployment!r}, "
            f"{self.state.value}, {self.title!r})"
        )


@dataclass(frozen=True, slots=True)
class Notifier:
    id: int
    project_id: int
    name: str
    kind: str
    config: dict[str, Any]
    min_severity: str
    deployment: str
    enabled: bool
    created_at: int

    def wants(self, alert: Alert) -> bool:
        """Whether this notifier takes ``alert`` (severity floor, optional deployment)."""
        rank = SEVERITIES.index
        return (
            self.enabled
            and rank(alert.severity) >= rank(self.min_severity)
            and self.deployment in ("", alert.deployment)
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    alert_id: int
    notifier_id: int
    event: str
    status: str
    attempts: int
    next_attempt_at: int
    last_error: str
    created_at: int
    sent_at: int | None


def _alert(row: Row) -> Alert:
    data = dict(row._mapping)
    data.pop("active_key", None)
    data["state"] = AlertState(data["state"])
    data["evidence"] = json.loads(data.pop("evidence_json") or "{}")
    return Alert(**data)


#: The columns of an alert in :class:`Alert`'s field order (driver-level SQL).
_ALERT_COLUMNS = (
    "id, project_id, monitor_id, deployment, kind, severity, dedup_key, state, title, "
    "message, evidence_json, occurrences, first_seen_at, last_seen_at, window_start, "
    "window_end, acknowledged_at, acknowledged_by, resolved_at, resolved_by, note"
)


def _alert_of(row: Sequence[Any]) -> Alert:
    values = list(row)
    values[7] = AlertState(values[7])
    values[10] = json.loads(values[10] or "{}")
    return Alert(*values)


def _notifier(row: Row) -> Notifier:
    data = dict(row._mapping)
    data["config"] = json.loads(data.pop("config_json") or "{}")
    data["enabled"] = bool(data["enabled"])
    return Notifier(**data)


def _delivery(row: Row) -> Delivery:
    return Delivery(**dict(row._mapping))


def _dumps(evidence: dict[str, Any]) -> str:
    try:
        return json.dumps(evidence, sort_keys=True, allow_nan=False, default=str)
    except ValueError as exc:
        raise InvalidArgumentError(f"alert evidence must not hold NaN or infinity: {exc}") from exc
