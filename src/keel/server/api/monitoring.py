"""``/api/v1/projects/{id}/monitors``, ``.../references``, ``.../alerts``, ``.../notifiers``.

Readers see monitors, reference profiles, alerts and deliveries; writers change them.
A notifier's config holds webhook URLs (their path is the secret) and SMTP settings, so
every notifier route is for project admins only. An object addressed by id (monitor,
alert, notifier) is checked against the caller's projects first: another project's
object does not exist for you.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, Field, StringConstraints

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.server._auth import Guard, project_admin, reader, writer
from keel.server._receipts import check_reference
from keel.server._types import Id, Int64, Loose, Millis, Sha, Text
from keel.server.api._passthrough import Router
from keel.server.api.deployments import existing_project, finite_json
from keel.store.alerts import Alert, Delivery, NewAlert, Notifier
from keel.store.monitors import Monitor, ReferenceInfo
from keel.store.ownership import Owned
from keel.store.wire import Empty, envelope

router = Router(prefix="/api/v1", tags=["monitoring"])
PROJECT = "/projects/{project_id}"
MONITORS = f"{PROJECT}/monitors"
REFERENCES = f"{PROJECT}/references"
ALERTS = f"{PROJECT}/alerts"
ALERT = f"{ALERTS}/{{alert_id}}"
NOTIFIERS = f"{PROJECT}/notifiers"
ALERT_STATES = ("live", "open", "acknowledged", "resolved")


class Recorded(BaseModel):
    alert: Alert
    event: str


#: Column widths, and no NUL (PostgreSQL cannot store it in text).
_NO_NUL = r"^[^\x00]*$"
Str16 = Annotated[str, StringConstraints(max_length=16, pattern=_NO_NUL)]
Str32 = Annotated[str, StringConstraints(max_length=32, pattern=_NO_NUL)]
Str255 = Annotated[str, StringConstraints(max_length=255, pattern=_NO_NUL)]
Str512 = Annotated[str, StringConstraints(max_length=512, pattern=_NO_NUL)]
Clean = Annotated[str, StringConstraints(max_length=1 << 20, pattern=_NO_NUL)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]


class MonitorIn(BaseModel):
    deployment: Loose
    reference: Str512 | None = None
    config: dict[str, Any] | None = None
    window: Str32 | None = None
    enabled: bool | None = None


class MarkRunIn(BaseModel):
    window_end: Millis


class ReferenceIn(BaseModel):
    """A reference profile already uploaded as a blob, with its upload receipt."""

    subject: Loose
    blob_sha: Sha
    receipts: dict[Sha, Text] = {}
    num_rows: Annotated[int, Field(ge=0, le=2**63 - 1)]
    num_columns: Count
    source: Clean = ""


class AlertIn(BaseModel):
    kind: Str32
    severity: Loose
    dedup_key: Str512
    title: Clean
    message: Clean = ""
    evidence: dict[str, Any] = {}
    deployment: Str255 = ""
    monitor_id: Id | None = None
    window_start: Int64 | None = None
    window_end: Int64 | None = None


class TransitionIn(BaseModel):
    by: Str255 = ""
    note: Clean = ""


class ResolveAbsentIn(BaseModel):
    monitor_id: Id
    kinds: list[Str32] = Field(max_length=1000)
    keep: list[Loose] = Field(default=[], max_length=100_000)
    by: Str255


class EnqueueIn(BaseModel):
    event: Str16


class NotifierIn(BaseModel):
    name: Loose
    kind: Loose
    config: dict[str, Any] = {}
    min_severity: Loose = "warning"
    deployment: Str255 = ""


def _owned(guard: Guard, kind: Owned, object_id: int, project_id: int | None = None) -> None:
    """404 unless the object exists in a project the caller may see (and, when given, in
    ``project_id``); 403 when the caller's role there is too low."""
    what = f"{kind} id {object_id}"
    pid = guard.st.store.ownership.project_of(kind, object_id)
    guard.project_id(pid, what)
    if project_id is not None and pid != project_id:
        raise NotFoundError(f"{what} does not exist in project id {project_id}")


def owned(kind: Owned) -> Callable[[Guard, int], None]:
    """The owner check of a route that addresses a ``kind`` by its id."""
    return lambda guard, object_id: _owned(guard, kind, object_id)


# -- monitors ------------------------------------------------------------------------------
router.serve(reader, "monitors.list", "list_monitors")


@router.put(MONITORS)
def upsert_monitor(project_id: Id, body: MonitorIn, guard: Guard = Depends(writer)) -> Monitor:
    """Create the monitor of ``body.deployment`` or change the fields given."""
    existing_project(guard, project_id)
    if body.config is not None:
        finite_json(body.config, "a monitor config")
    return guard.st.store.monitors.upsert(project_id, **body.model_dump())


router.serve(reader, "monitors.get", "get_monitor")
router.serve(reader, "monitors.find", "find_monitor")
router.serve(writer, "monitors.delete", "delete_monitor")
router.serve(reader, "monitors.get_by_id", "get_monitor_by_id", owner=owned("monitor"))


@router.post("/monitors/{monitor_id}/mark-run")
def mark_run(monitor_id: Id, body: MarkRunIn, guard: Guard = Depends(writer)) -> Empty:
    _owned(guard, "monitor", monitor_id)
    guard.st.store.monitors.mark_run(monitor_id, body.window_end)
    return Empty()


# -- reference profiles --------------------------------------------------------------------
router.serve(reader, "monitors.list_references")


@router.put(REFERENCES)
def put_reference(
    project_id: Id, body: ReferenceIn, guard: Guard = Depends(writer)
) -> ReferenceInfo:
    """Store (or replace) the profile of ``body.subject``; its blob must be uploaded first."""
    existing_project(guard, project_id)
    st = guard.st
    check_reference(st, guard.who, body.blob_sha, body.receipts.get(body.blob_sha))
    if not st.store.blobs.exists(body.blob_sha):
        raise NotFoundError(f"blob {body.blob_sha} is not on the server; upload the profile first")
    return st.store.monitors.put_reference(project_id, **body.model_dump(exclude={"receipts"}))


router.serve(reader, "monitors.get_reference")
router.serve(reader, "monitors.find_reference")


# -- alerts --------------------------------------------------------------------------------
@router.get(ALERTS, response_model=envelope("alerts", list[Alert]))
def list_alerts(
    project_id: Id,
    state: Loose | None = None,
    deployment: Loose | None = None,
    kind: Loose | None = None,
    since: Int64 | None = None,
    limit: Count = 100,
    guard: Guard = Depends(reader),
) -> dict[str, Any]:
    """Alerts newest first; ``state=live`` means open or acknowledged."""
    if state is not None and state not in ALERT_STATES:
        raise InvalidArgumentError(
            f"alert state {state[:40]!r} is not one of {', '.join(ALERT_STATES)}"
        )
    found = guard.st.store.alerts.list(
        project_id, state=state, deployment=deployment, kind=kind, since=since, limit=limit
    )
    return {"alerts": found}


@router.post(ALERTS)
def record_alert(project_id: Id, body: AlertIn, guard: Guard = Depends(writer)) -> Recorded:
    """Open an alert, or bump the live one with the same ``dedup_key``."""
    existing_project(guard, project_id)
    if body.monitor_id is not None:
        _owned(guard, "monitor", body.monitor_id, project_id)
    new = NewAlert(**body.model_dump())
    found, event = guard.st.store.alerts.record(project_id, new)
    return Recorded(alert=found, event=event)


router.serve(reader, "alerts.latest_id", "latest_alert_id")


@router.post(f"{ALERTS}/resolve-absent", response_model=envelope("alerts", list[Alert]))
def resolve_absent(
    project_id: Id, body: ResolveAbsentIn, guard: Guard = Depends(writer)
) -> dict[str, Any]:
    """Resolve the monitor's live alerts of ``kinds`` whose key is not in ``keep``."""
    _owned(guard, "monitor", body.monitor_id, project_id)
    resolved = guard.st.store.alerts.resolve_absent(
        project_id, body.monitor_id, body.kinds, set(body.keep), by=body.by
    )
    return {"alerts": resolved}


router.serve(reader, "alerts.get", "get_alert")


def _by(guard: Guard, given: str) -> str:
    """With authentication on, who acknowledged or resolved is the caller, not a claim."""
    return guard.who.name or given


@router.post(f"{ALERT}/acknowledge")
def acknowledge_alert(
    project_id: Id, alert_id: Id, body: TransitionIn, guard: Guard = Depends(writer)
) -> Alert:
    return guard.st.store.alerts.acknowledge(
        project_id, alert_id, by=_by(guard, body.by), note=body.note
    )


@router.post(f"{ALERT}/resolve")
def resolve_alert(
    project_id: Id, alert_id: Id, body: TransitionIn, guard: Guard = Depends(writer)
) -> Alert:
    return guard.st.store.alerts.resolve(
        project_id, alert_id, by=_by(guard, body.by), note=body.note
    )


@router.post(f"{ALERT}/enqueue", response_model=envelope("deliveries", list[Delivery]))
def enqueue_alert(
    project_id: Id, alert_id: Id, body: EnqueueIn, guard: Guard = Depends(writer)
) -> dict[str, Any]:
    """One pending delivery of the alert's ``event`` per notifier that wants it (the
    stored alert decides, not the caller's copy)."""
    alerts = guard.st.store.alerts
    return {"deliveries": alerts.enqueue(alerts.get(project_id, alert_id), body.event)}


router.serve(reader, "alerts.deliveries", "list_deliveries", owner=owned("alert"))


# -- notifiers (their config is a secret: project admins only) -----------------------------
router.serve(project_admin, "alerts.list_notifiers")


@router.post(NOTIFIERS)
def add_notifier(
    project_id: Id, body: NotifierIn, guard: Guard = Depends(project_admin)
) -> Notifier:
    existing_project(guard, project_id)
    finite_json(body.config, "a notifier config")
    return guard.st.store.alerts.add_notifier(project_id, **body.model_dump())


router.serve(project_admin, "alerts.get_notifier")
router.serve(project_admin, "alerts.remove_notifier")
router.serve(project_admin, "alerts.get_notifier_by_id", owner=owned("notifier"))
