"""Deployments, monitors and alerts over HTTP: their protocols, one request each.

Claiming and finishing notification deliveries leases rows in the server's database for
the process that sends them, so those two stay where the database is and raise a
:class:`~keel.exceptions.ConfigError` here.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from keel.exceptions import ConfigError, InvalidArgumentError
from keel.store.alerts import Alert, Delivery, NewAlert, Notifier
from keel.store.deployments import (
    Deployment,
    DeploymentRevision,
    DeploymentTarget,
)
from keel.store.monitors import Monitor, ReferenceInfo
from keel.store.remote._http import Http
from keel.store.wire import load

V1 = "/api/v1"


def _project(project_id: int, tail: str) -> str:
    return f"{V1}/projects/{int(project_id)}/{tail}"


def _finite(value: Mapping[str, Any] | None, what: str) -> None:
    """Refuse NaN and infinity before sending: strict JSON cannot carry them."""
    try:
        json.dumps(value, allow_nan=False, default=str)
    except ValueError as exc:
        raise InvalidArgumentError(f"{what} must not hold NaN or infinity: {exc}") from exc


class RemoteDeploymentRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def _path(self, project_id: int, tail: str = "") -> str:
        return _project(project_id, f"deployments{tail}")

    def apply(
        self,
        project_id: int,
        name: str,
        spec: Mapping[str, Any],
        targets: Sequence[DeploymentTarget],
        *,
        note: str = "",
    ) -> tuple[Deployment, bool]:
        return self._send_spec(self._path(project_id), name, spec, targets, note)

    def register(
        self,
        project_id: int,
        name: str,
        spec: Mapping[str, Any],
        targets: Sequence[DeploymentTarget],
        *,
        note: str = "",
    ) -> tuple[Deployment, bool]:
        return self._send_spec(self._path(project_id, "/register"), name, spec, targets, note)

    def _send_spec(
        self,
        path: str,
        name: str,
        spec: Mapping[str, Any],
        targets: Sequence[DeploymentTarget],
        note: str,
    ) -> tuple[Deployment, bool]:
        """Apply (or register, for an ad-hoc server) a spec: the same body, another route."""
        _finite(spec, "a deployment spec")
        body = {"name": name, "spec": dict(spec), "targets": list(targets), "note": note}
        data = self._http.post(path, body)
        return load(Deployment, data["deployment"]), bool(data["changed"])

    def heartbeat(self, project_id: int, name: str) -> bool:
        return bool(self._http.post(self._path(project_id, "/heartbeat"), {"name": name})["seen"])

    def stop(self, project_id: int, name: str) -> None:
        self._http.post(self._path(project_id, "/stop"), {"name": name})

    def get(self, project_id: int, name: str) -> Deployment:
        return load(Deployment, self._http.get(self._path(project_id, "/lookup"), name=name))

    def find(self, project_id: int, name: str) -> Deployment | None:
        found = self._http.get(self._path(project_id, "/find"), name=name)["deployment"]
        return None if found is None else load(Deployment, found)

    def current_revision(self, project_id: int, name: str) -> int | None:
        data = self._http.get(self._path(project_id, "/current-revision"), name=name)
        return None if data["revision"] is None else int(data["revision"])

    def list(self, project_id: int) -> builtins.list[Deployment]:
        data = self._http.get(self._path(project_id))
        return load(list[Deployment], data["deployments"])

    def revisions(self, project_id: int, name: str) -> builtins.list[DeploymentRevision]:
        data = self._http.get(self._path(project_id, "/revisions"), name=name)
        return load(list[DeploymentRevision], data["revisions"])

    def revision(self, project_id: int, name: str, revision: int) -> DeploymentRevision:
        data = self._http.get(self._path(project_id, "/revision"), name=name, revision=revision)
        return load(DeploymentRevision, data)

    def rollback(self, project_id: int, name: str, revision: int) -> Deployment:
        body = {"name": name, "revision": revision}
        return load(Deployment, self._http.post(self._path(project_id, "/rollback"), body))

    def delete(self, project_id: int, name: str) -> None:
        self._http.delete(self._path(project_id), name=name)

    def all_targets(self, project_id: int) -> builtins.list[tuple[str, int, DeploymentTarget]]:
        data = self._http.get(_project(project_id, "deployment-targets"))
        return [
            (row["deployment"], int(row["revision"]), load(DeploymentTarget, row["target"]))
            for row in data["targets"]
        ]


class RemoteMonitorRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def upsert(
        self,
        project_id: int,
        deployment: str,
        *,
        reference: str | None = None,
        config: dict[str, Any] | None = None,
        window: str | None = None,
        enabled: bool | None = None,
    ) -> Monitor:
        _finite(config, "a monitor config")
        body = {
            "deployment": deployment,
            "reference": reference,
            "config": config,
            "window": window,
            "enabled": enabled,
        }
        data = self._http.put(_project(project_id, "monitors"), body)
        return load(Monitor, data)

    def get(self, project_id: int, deployment: str) -> Monitor:
        data = self._http.get(_project(project_id, "monitors/lookup"), deployment=deployment)
        return load(Monitor, data)

    def find(self, project_id: int, deployment: str) -> Monitor | None:
        path = _project(project_id, "monitors/find")
        found = self._http.get(path, deployment=deployment)["monitor"]
        return None if found is None else load(Monitor, found)

    def get_by_id(self, monitor_id: int) -> Monitor:
        return load(Monitor, self._http.get(f"{V1}/monitors/{int(monitor_id)}"))

    def list(self, project_id: int, *, enabled_only: bool = False) -> builtins.list[Monitor]:
        data = self._http.get(_project(project_id, "monitors"), enabled_only=enabled_only)
        return load(list[Monitor], data["monitors"])

    def delete(self, project_id: int, deployment: str) -> None:
        self._http.delete(_project(project_id, "monitors"), deployment=deployment)

    def mark_run(self, monitor_id: int, window_end: int) -> None:
        self._http.post(f"{V1}/monitors/{int(monitor_id)}/mark-run", {"window_end": window_end})

    def put_reference(
        self,
        project_id: int,
        subject: str,
        *,
        blob_sha: str,
        num_rows: int,
        num_columns: int,
        source: str = "",
    ) -> ReferenceInfo:
        body = {
            "subject": subject,
            "blob_sha": blob_sha,
            "receipt": self._http.receipt(blob_sha),
            "num_rows": num_rows,
            "num_columns": num_columns,
            "source": source,
        }
        data = self._http.put(_project(project_id, "references"), body)
        return load(ReferenceInfo, data)

    def get_reference(self, project_id: int, subject: str) -> ReferenceInfo:
        data = self._http.get(_project(project_id, "references/lookup"), subject=subject)
        return load(ReferenceInfo, data)

    def find_reference(self, project_id: int, subject: str) -> ReferenceInfo | None:
        path = _project(project_id, "references/find")
        found = self._http.get(path, subject=subject)["reference"]
        return None if found is None else load(ReferenceInfo, found)

    def list_references(self, project_id: int) -> builtins.list[ReferenceInfo]:
        data = self._http.get(_project(project_id, "references"))
        return load(list[ReferenceInfo], data["references"])


def _server_only(method: str) -> NoReturn:
    raise ConfigError(
        f"store.alerts.{method} leases notification deliveries in the server's database, so "
        "it runs only where that database is: run `keel alerts deliver` on the server host "
        "without KEEL_SERVER_URL set"
    )


class RemoteAlertRepository:
    def __init__(self, http: Http) -> None:
        self._http = http

    def _alert_path(self, project_id: int, alert_id: int, tail: str = "") -> str:
        return _project(project_id, f"alerts/{int(alert_id)}{tail}")

    # -- alerts ----------------------------------------------------------------------------
    def record(self, project_id: int, new: NewAlert) -> tuple[Alert, str]:
        _finite(new.evidence, "alert evidence")
        data = self._http.post(_project(project_id, "alerts"), new)
        return load(Alert, data["alert"]), str(data["event"])

    def acknowledge(self, project_id: int, alert_id: int, *, by: str = "", note: str = "") -> Alert:
        path = self._alert_path(project_id, alert_id, "/acknowledge")
        return load(Alert, self._http.post(path, {"by": by, "note": note}))

    def resolve(self, project_id: int, alert_id: int, *, by: str = "", note: str = "") -> Alert:
        path = self._alert_path(project_id, alert_id, "/resolve")
        return load(Alert, self._http.post(path, {"by": by, "note": note}))

    def resolve_absent(
        self,
        project_id: int,
        monitor_id: int,
        kinds: builtins.list[str],
        keep: set[str],
        *,
        by: str,
    ) -> builtins.list[Alert]:
        body = {"monitor_id": monitor_id, "kinds": kinds, "keep": sorted(keep), "by": by}
        data = self._http.post(_project(project_id, "alerts/resolve-absent"), body)
        return load(list[Alert], data["alerts"])

    def get(self, project_id: int, alert_id: int) -> Alert:
        return load(Alert, self._http.get(self._alert_path(project_id, alert_id)))

    def list(
        self,
        project_id: int,
        *,
        state: str | None = None,
        deployment: str | None = None,
        kind: str | None = None,
        since: int | None = None,
        limit: int = 100,
    ) -> builtins.list[Alert]:
        data = self._http.get(
            _project(project_id, "alerts"),
            state=state,
            deployment=deployment,
            kind=kind,
            since=since,
            limit=limit,
        )
        return load(list[Alert], data["alerts"])

    def latest_id(
        self, project_id: int, *, deployment: str | None = None, kind: str | None = None
    ) -> int | None:
        path = _project(project_id, "alerts/latest-id")
        found = self._http.get(path, deployment=deployment, kind=kind)["id"]
        return None if found is None else int(found)

    # -- notifiers -------------------------------------------------------------------------
    def add_notifier(
        self,
        project_id: int,
        name: str,
        kind: str,
        config: dict[str, Any],
        *,
        min_severity: str = "warning",
        deployment: str = "",
    ) -> Notifier:
        _finite(config, "a notifier config")
        body = {
            "name": name,
            "kind": kind,
            "config": config,
            "min_severity": min_severity,
            "deployment": deployment,
        }
        return load(Notifier, self._http.post(_project(project_id, "notifiers"), body))

    def get_notifier(self, project_id: int, name: str) -> Notifier:
        data = self._http.get(_project(project_id, "notifiers/lookup"), name=name)
        return load(Notifier, data)

    def get_notifier_by_id(self, notifier_id: int) -> Notifier:
        return load(Notifier, self._http.get(f"{V1}/notifiers/{int(notifier_id)}"))

    def list_notifiers(self, project_id: int) -> builtins.list[Notifier]:
        data = self._http.get(_project(project_id, "notifiers"))
        return load(list[Notifier], data["notifiers"])

    def remove_notifier(self, project_id: int, name: str) -> None:
        self._http.delete(_project(project_id, "notifiers"), name=name)

    # -- deliveries ------------------------------------------------------------------------
    def enqueue(self, alert: Alert, event: str) -> builtins.list[Delivery]:
        """Deliveries of ``event`` for the stored alert ``alert.id`` (the server decides
        which notifiers want it, from the alert as stored)."""
        path = self._alert_path(alert.project_id, alert.id, "/enqueue")
        data = self._http.post(path, {"event": event})
        return load(list[Delivery], data["deliveries"])

    def claim_due(
        self, project_id: int, *, now: int, lease_ms: int, limit: int = 50
    ) -> builtins.list[Delivery]:
        _server_only("claim_due")

    def finish_delivery(
        self, delivery_id: int, *, ok: bool, error: str = "", retry_at: int | None = None
    ) -> Delivery:
        _server_only("finish_delivery")

    def deliveries(self, alert_id: int) -> builtins.list[Delivery]:
        data = self._http.get(f"{V1}/alerts/{int(alert_id)}/deliveries")
        return load(list[Delivery], data["deliveries"])


__all__ = ["RemoteAlertRepository", "RemoteDeploymentRepository", "RemoteMonitorRepository"]
