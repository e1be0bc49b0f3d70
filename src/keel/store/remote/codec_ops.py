"""JSON shapes of the operations entities: deployments, monitors, reference profiles,
alerts, notifiers and deliveries, one ``x`` / ``to_x`` pair each.

The server encodes with ``x`` and the remote backend decodes with ``to_x``; a round trip
gives back an equal frozen entity.
"""

from __future__ import annotations

from typing import Any

from keel.store.alerts import Alert, AlertState, Delivery, NewAlert, Notifier
from keel.store.deployments import Deployment, DeploymentRevision, DeploymentTarget
from keel.store.monitors import Monitor, ReferenceInfo
from keel.store.remote.codec import jsonable


# -- deployments ---------------------------------------------------------------------------
def deployment_target(t: DeploymentTarget) -> dict[str, Any]:
    return {
        "endpoint": t.endpoint,
        "model_ref": t.model_ref,
        "model_name": t.model_name,
        "weight": float(t.weight),
        "shadow": bool(t.shadow),
    }


def to_deployment_target(d: dict[str, Any]) -> DeploymentTarget:
    return DeploymentTarget(
        d["endpoint"], d["model_ref"], d["model_name"], float(d["weight"]), bool(d["shadow"])
    )


def deployment(dep: Deployment) -> dict[str, Any]:
    return {
        "id": dep.id,
        "project_id": dep.project_id,
        "name": dep.name,
        "revision": dep.revision,
        "status": dep.status,
        "created_at": dep.created_at,
        "updated_at": dep.updated_at,
        "spec": jsonable(dep.spec),
        "targets": [deployment_target(t) for t in dep.targets],
        "applied_at": dep.applied_at,
    }


def to_deployment(d: dict[str, Any]) -> Deployment:
    return Deployment(
        id=d["id"],
        project_id=d["project_id"],
        name=d["name"],
        revision=d["revision"],
        status=d["status"],
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        spec=d["spec"],
        targets=[to_deployment_target(t) for t in d["targets"]],
        applied_at=d.get("applied_at"),
    )


def deployment_revision(r: DeploymentRevision) -> dict[str, Any]:
    return {
        "deployment_id": r.deployment_id,
        "revision": r.revision,
        "spec": jsonable(r.spec),
        "spec_hash": r.spec_hash,
        "note": r.note,
        "created_at": r.created_at,
        "targets": [deployment_target(t) for t in r.targets],
    }


def to_deployment_revision(d: dict[str, Any]) -> DeploymentRevision:
    return DeploymentRevision(
        deployment_id=d["deployment_id"],
        revision=d["revision"],
        spec=d["spec"],
        spec_hash=d["spec_hash"],
        note=d["note"],
        created_at=d["created_at"],
        targets=[to_deployment_target(t) for t in d["targets"]],
    )


# -- monitors and reference profiles -------------------------------------------------------
def monitor(m: Monitor) -> dict[str, Any]:
    return {
        "id": m.id,
        "project_id": m.project_id,
        "deployment": m.deployment,
        "reference": m.reference,
        "window": m.window,
        "enabled": m.enabled,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "last_run_at": m.last_run_at,
        "last_window_end": m.last_window_end,
        "config": m.config,
    }


def to_monitor(d: dict[str, Any]) -> Monitor:
    return Monitor(
        id=d["id"],
        project_id=d["project_id"],
        deployment=d["deployment"],
        reference=d["reference"],
        window=d["window"],
        enabled=bool(d["enabled"]),
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        last_run_at=d["last_run_at"],
        last_window_end=d["last_window_end"],
        config=d["config"],
    )


def reference_info(r: ReferenceInfo) -> dict[str, Any]:
    return {
        "id": r.id,
        "project_id": r.project_id,
        "subject": r.subject,
        "blob_sha": r.blob_sha,
        "num_rows": r.num_rows,
        "num_columns": r.num_columns,
        "source": r.source,
        "created_at": r.created_at,
    }


def to_reference_info(d: dict[str, Any]) -> ReferenceInfo:
    return ReferenceInfo(
        d["id"],
        d["project_id"],
        d["subject"],
        d["blob_sha"],
        d["num_rows"],
        d["num_columns"],
        d["source"],
        d["created_at"],
    )


# -- alerts, notifiers, deliveries ---------------------------------------------------------
def new_alert(n: NewAlert) -> dict[str, Any]:
    return {
        "kind": n.kind,
        "severity": n.severity,
        "dedup_key": n.dedup_key,
        "title": n.title,
        "message": n.message,
        "evidence": jsonable(n.evidence),
        "deployment": n.deployment,
        "monitor_id": n.monitor_id,
        "window_start": n.window_start,
        "window_end": n.window_end,
    }


def to_new_alert(d: dict[str, Any]) -> NewAlert:
    """A :class:`NewAlert` (its own checks name a bad severity or dedup key)."""
    return NewAlert(
        kind=d["kind"],
        severity=d["severity"],
        dedup_key=d["dedup_key"],
        title=d["title"],
        message=d.get("message", ""),
        evidence=d.get("evidence") or {},
        deployment=d.get("deployment", ""),
        monitor_id=d.get("monitor_id"),
        window_start=d.get("window_start"),
        window_end=d.get("window_end"),
    )


_ALERT_FIELDS = tuple(Alert.__dataclass_fields__)
_NOTIFIER_FIELDS = tuple(Notifier.__dataclass_fields__)
_DELIVERY_FIELDS = tuple(Delivery.__dataclass_fields__)


def alert(a: Alert) -> dict[str, Any]:
    data = {name: getattr(a, name) for name in _ALERT_FIELDS}
    data["state"] = a.state.value
    return data


def to_alert(d: dict[str, Any]) -> Alert:
    data = {name: d[name] for name in _ALERT_FIELDS}
    data["state"] = AlertState(data["state"])
    return Alert(**data)


def notifier(n: Notifier) -> dict[str, Any]:
    """The whole notifier, its ``config`` (webhook URL, SMTP settings) included: only
    for callers allowed to see a project's secrets."""
    return {name: getattr(n, name) for name in _NOTIFIER_FIELDS}


def to_notifier(d: dict[str, Any]) -> Notifier:
    return Notifier(**{name: d[name] for name in _NOTIFIER_FIELDS})


def delivery(x: Delivery) -> dict[str, Any]:
    return {name: getattr(x, name) for name in _DELIVERY_FIELDS}


def to_delivery(d: dict[str, Any]) -> Delivery:
    return Delivery(**{name: d[name] for name in _DELIVERY_FIELDS})


__all__ = [
    "alert",
    "delivery",
    "deployment",
    "deployment_revision",
    "deployment_target",
    "monitor",
    "new_alert",
    "notifier",
    "reference_info",
    "to_alert",
    "to_delivery",
    "to_deployment",
    "to_deployment_revision",
    "to_deployment_target",
    "to_monitor",
    "to_new_alert",
    "to_notifier",
    "to_reference_info",
]
