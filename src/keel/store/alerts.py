"""Alerts (open -> acknowledged -> resolved), their notifiers and deliveries.

One live alert per condition: raising an alert whose ``dedup_key`` is already open or
acknowledged bumps that alert (occurrences, last seen, newest evidence) instead of adding
a row. A delivery is one notification of one alert event to one notifier; it stays
``pending`` until sent, is retried with the time the caller asks for, and is ``failed``
only when the caller gives up. Every method runs its own transaction (thread-safe).
"""

from __future__ import annotations

import builtins
import contextlib
import json
from typing import TYPE_CHECKING, Any

from keel.exceptions import AlreadyExistsError, ConflictError, InvalidArgumentError
from keel.store._alert_rows import (
    _ALERT_COLUMNS,
    NOTIFIER_KINDS,
    SEVERITIES,
    Alert,
    AlertState,
    Delivery,
    NewAlert,
    Notifier,
    _alert,
    _alert_of,
    _delivery,
    _dumps,
    _notifier,
    _t,
)
from keel.store._db import SqlRepository, first_or_missing, now_ms
from keel.store._validate import check_name

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy import Row
else:
    from keel.store._lazy import sa


class AlertRepository(SqlRepository):
    """Raise, deduplicate, acknowledge and resolve alerts; route them to notifiers."""

    # -- alerts ----------------------------------------------------------------------------
    def record(self, project_id: int, new: NewAlert) -> tuple[Alert, str]:
        """Open an alert, or bump the live one with the same key.

        Returns the alert and what happened: ``opened``, ``escalated`` (the severity rose)
        or ``repeated``.
        """
        now = now_ms()
        for _attempt in range(3):
            with self._db.write() as conn:
                live = conn.execute(
                    sa.select(_t.AL).where(
                        _t.AL.c.project_id == project_id, _t.AL.c.active_key == new.dedup_key
                    )
                ).first()
                if live is not None:
                    return self._bump(conn, live, new, now)
            try:
                with self._db.write() as conn:
                    alert_id = conn.execute(
                        sa.insert(_t.AL)
                        .values(**self._new_row(project_id, new, now))
                        .returning(_t.AL.c.id)
                    ).scalar_one()
                    return _alert(
                        conn.execute(sa.select(_t.AL).where(_t.AL.c.id == alert_id)).one()
                    ), "opened"
            except sa.exc.IntegrityError:
                continue  # another monitor opened it meanwhile: bump that one
        raise AlreadyExistsError(f"could not record alert {new.dedup_key!r}; try again")

    @staticmethod
    def _new_row(project_id: int, new: NewAlert, now: int) -> dict[str, Any]:
        return {
            "project_id": project_id,
            "monitor_id": new.monitor_id,
            "deployment": new.deployment,
            "kind": new.kind,
            "severity": new.severity,
            "dedup_key": new.dedup_key,
            "active_key": new.dedup_key,
            "state": AlertState.OPEN.value,
            "title": new.title[:512],
            "message": new.message,
            "evidence_json": _dumps(new.evidence),
            "occurrences": 1,
            "first_seen_at": now,
            "last_seen_at": now,
            "window_start": new.window_start,
            "window_end": new.window_end,
        }

    @staticmethod
    def _bump(conn: Any, live: Row, new: NewAlert, now: int) -> tuple[Alert, str]:
        rank = SEVERITIES.index
        escalated = rank(new.severity) > rank(live.severity)
        severity = new.severity if escalated else live.severity
        conn.execute(
            sa.update(_t.AL)
            .where(_t.AL.c.id == live.id)
            .values(
                occurrences=_t.AL.c.occurrences + 1,
                last_seen_at=now,
                severity=severity,
                title=new.title[:512],
                message=new.message,
                evidence_json=_dumps(new.evidence),
                window_start=new.window_start,
                window_end=new.window_end,
            )
        )
        row = conn.execute(sa.select(_t.AL).where(_t.AL.c.id == live.id)).one()
        return _alert(row), "escalated" if escalated else "repeated"

    def acknowledge(self, project_id: int, alert_id: int, *, by: str = "", note: str = "") -> Alert:
        return self._transition(project_id, alert_id, AlertState.ACKNOWLEDGED, by, note)

    def resolve(self, project_id: int, alert_id: int, *, by: str = "", note: str = "") -> Alert:
        return self._transition(project_id, alert_id, AlertState.RESOLVED, by, note)

    def _transition(
        self, project_id: int, alert_id: int, state: AlertState, by: str, note: str
    ) -> Alert:
        with self._db.write() as conn:
            row = _alert_row(conn, project_id, alert_id)
            if row.state == AlertState.RESOLVED.value:
                raise ConflictError(
                    f"alert {alert_id} is already resolved; a new occurrence opens a new alert"
                )
            now = now_ms()
            values: dict[str, Any] = {"state": state.value}
            if note:
                values["note"] = note
            if state is AlertState.ACKNOWLEDGED:
                values.update(acknowledged_at=now, acknowledged_by=by)
            else:
                values.update(resolved_at=now, resolved_by=by, active_key=None)
            conn.execute(sa.update(_t.AL).where(_t.AL.c.id == alert_id).values(**values))
            return _alert(conn.execute(sa.select(_t.AL).where(_t.AL.c.id == alert_id)).one())

    def resolve_absent(
        self,
        project_id: int,
        monitor_id: int,
        kinds: builtins.list[str],
        keep: set[str],
        *,
        by: str,
    ) -> builtins.list[Alert]:
        """Resolve the monitor's live alerts of ``kinds`` whose condition no longer holds."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_t.AL.c.id, _t.AL.c.dedup_key).where(
                    _t.AL.c.project_id == project_id,
                    _t.AL.c.monitor_id == monitor_id,
                    _t.AL.c.active_key.is_not(None),
                    _t.AL.c.kind.in_(kinds),
                )
            ).all()
        out = []
        for row in rows:
            if row.dedup_key not in keep:
                with contextlib.suppress(ConflictError):  # resolved by someone meanwhile
                    out.append(self.resolve(project_id, row.id, by=by, note="condition cleared"))
        return out

    def get(self, project_id: int, alert_id: int) -> Alert:
        with self._db.read() as conn:
            return _alert(_alert_row(conn, project_id, alert_id))

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
        """Alerts newest first. ``state="live"`` means open or acknowledged.

        Driver-level SQL: ``keel alerts list`` imports no SQLAlchemy."""
        where = ["project_id = ?"]
        args: builtins.list[Any] = [project_id]
        if state == "live":
            where.append("active_key IS NOT NULL")
        elif state is not None:
            where.append("state = ?")
            args.append(AlertState(state).value)
        if deployment:
            where.append("deployment = ?")
            args.append(deployment)
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if since is not None:
            where.append("last_seen_at >= ?")
            args.append(since)
        query = (
            f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(where)} "
            "ORDER BY last_seen_at DESC, id DESC LIMIT ?"
        )
        with self._db.cursor(write=False) as cur:
            cur.execute(self._db.sql(query), [*args, limit])
            return [_alert_of(r) for r in cur.fetchall()]

    def latest_id(
        self, project_id: int, *, deployment: str | None = None, kind: str | None = None
    ) -> int | None:
        """The newest alert id matching (for schedulers comparing with a baseline)."""
        query = sa.select(_t.AL.c.id).where(_t.AL.c.project_id == project_id)
        if deployment:
            query = query.where(_t.AL.c.deployment == deployment)
        if kind:
            query = query.where(_t.AL.c.kind == kind)
        with self._db.read() as conn:
            return conn.execute(query.order_by(sa.desc(_t.AL.c.id)).limit(1)).scalar()

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
        check_notifier(name, kind, min_severity)
        self._db.insert_new(
            sa.insert(_t.NT).values(
                project_id=project_id,
                name=name,
                kind=kind,
                config_json=json.dumps(config),
                min_severity=min_severity,
                deployment=deployment,
                enabled=True,
                created_at=now_ms(),
            ),
            f"notifier {name!r} exists; remove it first with `keel alerts notifiers remove {name}`",
        )
        return self.get_notifier(project_id, name)

    def get_notifier(self, project_id: int, name: str) -> Notifier:
        query = sa.select(_t.NT).where(_t.NT.c.project_id == project_id, _t.NT.c.name == name)
        missing = f"notifier {name!r} does not exist; see `keel alerts notifiers list`"
        return _notifier(self._db.one(query, missing))

    def get_notifier_by_id(self, notifier_id: int) -> Notifier:
        query = sa.select(_t.NT).where(_t.NT.c.id == notifier_id)
        return _notifier(self._db.one(query, f"notifier id {notifier_id} does not exist"))

    def list_notifiers(self, project_id: int) -> builtins.list[Notifier]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_t.NT).where(_t.NT.c.project_id == project_id).order_by(_t.NT.c.name)
            )
            return [_notifier(r) for r in rows]

    def remove_notifier(self, project_id: int, name: str) -> None:
        self._db.change(
            sa.delete(_t.NT).where(_t.NT.c.project_id == project_id, _t.NT.c.name == name),
            f"notifier {name!r} does not exist",
        )

    # -- deliveries ------------------------------------------------------------------------
    def enqueue(self, alert: Alert, event: str) -> builtins.list[Delivery]:
        """One pending delivery per notifier that wants ``alert``."""
        targets = [n for n in self.list_notifiers(alert.project_id) if n.wants(alert)]
        if not targets:
            return []
        now = now_ms()
        with self._db.write() as conn:
            ids = [
                conn.execute(
                    sa.insert(_t.DL)
                    .values(
                        alert_id=alert.id,
                        notifier_id=n.id,
                        event=event,
                        status="pending",
                        attempts=0,
                        next_attempt_at=now,
                        last_error="",
                        created_at=now,
                    )
                    .returning(_t.DL.c.id)
                ).scalar_one()
                for n in targets
            ]
            rows = conn.execute(
                sa.select(_t.DL).where(_t.DL.c.id.in_(ids)).order_by(_t.DL.c.id)
            ).all()
        return [_delivery(r) for r in rows]

    def claim_due(
        self, project_id: int, *, now: int, lease_ms: int, limit: int = 50
    ) -> builtins.list[Delivery]:
        """Pending deliveries due by ``now``, leased so no other process sends them too."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_t.DL)
                .join(_t.AL, _t.AL.c.id == _t.DL.c.alert_id)
                .where(
                    _t.AL.c.project_id == project_id,
                    _t.DL.c.status == "pending",
                    _t.DL.c.next_attempt_at <= now,
                )
                .order_by(_t.DL.c.next_attempt_at)
                .limit(limit)
            ).all()
        claimed = []
        for row in rows:
            with self._db.write() as conn:
                won = conn.execute(
                    sa.update(_t.DL)
                    .where(
                        _t.DL.c.id == row.id,
                        _t.DL.c.status == "pending",
                        _t.DL.c.next_attempt_at == row.next_attempt_at,
                    )
                    .values(next_attempt_at=now + lease_ms)
                ).rowcount
            if won:
                claimed.append(_delivery(row))
        return claimed

    def finish_delivery(
        self, delivery_id: int, *, ok: bool, error: str = "", retry_at: int | None = None
    ) -> Delivery:
        """Record one attempt: sent, to be retried at ``retry_at``, or failed for good."""
        values: dict[str, Any] = {"attempts": _t.DL.c.attempts + 1, "last_error": error[:2000]}
        if ok:
            values.update(status="sent", sent_at=now_ms())
        elif retry_at is None:
            values["status"] = "failed"
        else:
            values["next_attempt_at"] = retry_at
        with self._db.write() as conn:
            conn.execute(sa.update(_t.DL).where(_t.DL.c.id == delivery_id).values(**values))
            return _delivery(conn.execute(sa.select(_t.DL).where(_t.DL.c.id == delivery_id)).one())

    def deliveries(self, alert_id: int) -> builtins.list[Delivery]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_t.DL).where(_t.DL.c.alert_id == alert_id).order_by(_t.DL.c.id)
            )
            return [_delivery(r) for r in rows]


def _alert_row(conn: Any, project_id: int, alert_id: int) -> Row:
    query = sa.select(_t.AL).where(_t.AL.c.project_id == project_id, _t.AL.c.id == alert_id)
    missing = f"alert {alert_id} does not exist; list them with `keel alerts list`"
    return first_or_missing(conn, query, missing)


def check_notifier(name: str, kind: str, min_severity: str) -> None:
    """What :meth:`AlertRepository.add_notifier` refuses, for a caller to check before it
    makes the project the notifier goes in (a bad one leaves no empty project behind)."""
    check_name("notifier", name)
    if kind not in NOTIFIER_KINDS:
        raise InvalidArgumentError(
            f"notifier kind {kind!r} is not one of {', '.join(NOTIFIER_KINDS)}"
        )
    if min_severity not in SEVERITIES:
        raise InvalidArgumentError(
            f"min_severity {min_severity!r} is not one of {', '.join(SEVERITIES)}"
        )


__all__ = [
    "Alert",
    "AlertRepository",
    "AlertState",
    "Delivery",
    "NewAlert",
    "Notifier",
    "check_notifier",
]
