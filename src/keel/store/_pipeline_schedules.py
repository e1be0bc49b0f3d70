"""Schedules, the occurrences schedulers claimed, and the schedulers alive (pipelines area)."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keel.exceptions import AlreadyExistsError, NotFoundError
from keel.store._db import SqlRepository, given, now_ms
from keel.store._lazy import Tables
from keel.store._rows import entity, records
from keel.store._upsert import upsert
from keel.store._validate import check_name

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy import Row
else:
    from keel.store._lazy import sa

_P = "keel.store._schema_pipelines:"
_t = Tables(SC=_P + "ScheduleRow", SF=_P + "ScheduleFireRow", SH=_P + "SchedulerRow")


@dataclass(frozen=True, slots=True)
class Schedule:
    id: int
    project_id: int
    name: str
    target: str
    params: dict[str, Any]
    runner: dict[str, Any]
    cron: str | None
    trigger_kind: str | None
    trigger_ref: str | None
    trigger_baseline: str
    catch_up: str
    enabled: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class ScheduleFire:
    id: int
    schedule_id: int
    occurrence: str
    due_at: int
    claimed_by: str
    claimed_at: int
    lease_expires_at: int
    status: str
    pipeline_run_id: str | None
    ended_at: int | None
    error: str


@dataclass(frozen=True, slots=True)
class SchedulerInfo:
    id: str
    host: str
    pid: int
    started_at: int
    heartbeat_at: int


def _schedule(row: Row | dict[str, Any]) -> Schedule:
    """A schedule from a Core row or a driver-level record (:func:`records`)."""
    data: Any = getattr(row, "_mapping", row)
    params, runner = json.loads(data["params_json"]), json.loads(data["runner_json"])
    return entity(Schedule, data, params=params, runner=runner, enabled=bool(data["enabled"]))


def _fire(row: Row) -> ScheduleFire:
    return entity(ScheduleFire, row)


class ScheduleRepository(SqlRepository):
    """Schedules, the occurrences schedulers claimed, and the schedulers' heartbeats.

    :meth:`claim` is the only way to fire: it inserts the unique ``(schedule, occurrence)``
    row, so when two schedulers race for one occurrence exactly one gets it, on SQLite and
    PostgreSQL alike.
    """

    def add(
        self,
        project_id: int,
        name: str,
        *,
        target: str,
        params: Mapping[str, Any],
        runner: Mapping[str, Any],
        cron: str | None,
        trigger_kind: str | None,
        trigger_ref: str | None,
        trigger_baseline: str,
        catch_up: str,
    ) -> Schedule:
        check_name("schedule", name)
        try:
            with self._db.write() as conn:
                if (
                    conn.execute(
                        sa.text("SELECT 1 FROM projects WHERE id = :p"), {"p": project_id}
                    ).first()
                    is None
                ):
                    raise NotFoundError(f"project id {project_id} does not exist")
                conn.execute(
                    sa.insert(_t.SC).values(
                        project_id=project_id,
                        name=name,
                        target=target,
                        params_json=json.dumps(dict(params), sort_keys=True, default=str),
                        runner_json=json.dumps(dict(runner), sort_keys=True),
                        cron=cron,
                        trigger_kind=trigger_kind,
                        trigger_ref=trigger_ref,
                        trigger_baseline=trigger_baseline,
                        catch_up=catch_up,
                        enabled=True,
                        created_at=now_ms(),
                    )
                )
        except sa.exc.IntegrityError as exc:
            raise AlreadyExistsError(
                f"schedule {name!r} already exists; remove it first or pick another name"
            ) from exc
        return self.get(project_id, name)

    def get(self, project_id: int, name: str) -> Schedule:
        query = sa.select(_t.SC).where(_t.SC.c.project_id == project_id, _t.SC.c.name == name)
        return _schedule(
            self._db.one(
                query, f"schedule {name!r} does not exist; list them with `keel schedule list`"
            )
        )

    def get_by_id(self, schedule_id: int) -> Schedule:
        query = sa.select(_t.SC).where(_t.SC.c.id == schedule_id)
        return _schedule(self._db.one(query, f"schedule id {schedule_id} does not exist"))

    def list(self, project_id: int | None = None, *, enabled_only: bool = False) -> list[Schedule]:
        """Schedules of one project, or of every project (what a scheduler serves); in
        driver-level SQL, so ``keel schedule list`` imports no SQLAlchemy."""
        where: list[str] = ["1 = 1"]
        args: list[Any] = []
        if project_id is not None:
            where, args = [*where, "project_id = ?"], [*args, project_id]
        if enabled_only:
            where, args = [*where, "enabled = ?"], [*args, self._db.flags[1]]
        query = f"SELECT * FROM pipeline_schedules WHERE {' AND '.join(where)}"
        with self._db.cursor(write=False) as cur:
            cur.execute(self._db.sql(query + " ORDER BY project_id, name"), args)
            return [_schedule(r) for r in records(cur)]

    def remove(self, project_id: int, name: str) -> None:
        schedule = self.get(project_id, name)
        with self._db.write() as conn:
            conn.execute(sa.delete(_t.SF).where(_t.SF.c.schedule_id == schedule.id))
            conn.execute(sa.delete(_t.SC).where(_t.SC.c.id == schedule.id))

    def set_enabled(self, project_id: int, name: str, enabled: bool) -> Schedule:
        schedule = self.get(project_id, name)
        with self._db.write() as conn:
            conn.execute(sa.update(_t.SC).where(_t.SC.c.id == schedule.id).values(enabled=enabled))
        return self.get(project_id, name)

    # -- occurrences -----------------------------------------------------------------------
    def claim(
        self, schedule_id: int, occurrence: str, *, due_at: int, claimed_by: str, lease_ms: int
    ) -> ScheduleFire | None:
        """Take an occurrence; None when another scheduler (or an earlier tick) has it."""
        ts = now_ms()
        try:
            with self._db.write() as conn:
                fire_id = conn.execute(
                    sa.insert(_t.SF)
                    .values(
                        schedule_id=schedule_id,
                        occurrence=occurrence,
                        due_at=due_at,
                        claimed_by=claimed_by,
                        claimed_at=ts,
                        lease_expires_at=ts + lease_ms,
                        status="claimed",
                        pipeline_run_id=None,
                        ended_at=None,
                        error="",
                    )
                    .returning(_t.SF.c.id)
                ).scalar_one()
        except sa.exc.IntegrityError:
            return None
        return self.get_fire(fire_id)

    def get_fire(self, fire_id: int) -> ScheduleFire:
        query = sa.select(_t.SF).where(_t.SF.c.id == fire_id)
        return _fire(self._db.one(query, f"schedule fire {fire_id} does not exist"))

    def update_fire(
        self,
        fire_id: int,
        *,
        status: str | None = None,
        pipeline_run_id: str | None = None,
        lease_expires_at: int | None = None,
        error: str | None = None,
        ended: bool = False,
    ) -> None:
        values = given(
            status=status,
            pipeline_run_id=pipeline_run_id,
            lease_expires_at=lease_expires_at,
            error=None if error is None else error[:20000],
        )
        if ended:
            values["ended_at"] = now_ms()
        if values:
            with self._db.write() as conn:
                conn.execute(sa.update(_t.SF).where(_t.SF.c.id == fire_id).values(**values))

    def fires(self, schedule_id: int, *, limit: int = 50) -> builtins.list[ScheduleFire]:
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_t.SF)
                .where(_t.SF.c.schedule_id == schedule_id)
                .order_by(sa.desc(_t.SF.c.due_at), sa.desc(_t.SF.c.id))
                .limit(limit)
            ).all()
        return [_fire(r) for r in rows]

    def last_due(self, schedule_id: int) -> int | None:
        """When the newest claimed occurrence was due (milliseconds), or None."""
        with self._db.read() as conn:
            value = conn.execute(
                sa.select(sa.func.max(_t.SF.c.due_at)).where(_t.SF.c.schedule_id == schedule_id)
            ).scalar()
        return None if value is None else int(value)

    def has_occurrence(self, schedule_id: int, occurrence: str) -> bool:
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(_t.SF.c.id).where(
                    _t.SF.c.schedule_id == schedule_id, _t.SF.c.occurrence == occurrence
                )
            ).first()
        return row is not None

    def expire_lost(self, now: int) -> int:
        """Mark running fires whose lease ran out (their scheduler died) as ``lost``."""
        with self._db.write() as conn:
            return int(
                conn.execute(
                    sa.update(_t.SF)
                    .where(
                        _t.SF.c.status.in_(("claimed", "running")),
                        _t.SF.c.lease_expires_at < now,
                    )
                    .values(status="lost", ended_at=now, error="the scheduler stopped renewing")
                ).rowcount
            )

    # -- schedulers ------------------------------------------------------------------------
    def heartbeat(self, scheduler_id: str, *, host: str, pid: int, started_at: int) -> None:
        row = {
            "id": scheduler_id,
            "host": host,
            "pid": pid,
            "started_at": started_at,
            "heartbeat_at": now_ms(),
        }
        with self._db.write() as conn:
            upsert(conn, _t.SH, [row], keys=("id",), update=("heartbeat_at",))

    def schedulers(self, *, alive_within_ms: int = 60_000) -> builtins.list[SchedulerInfo]:
        cutoff = now_ms() - alive_within_ms
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(_t.SH).where(_t.SH.c.heartbeat_at >= cutoff).order_by(_t.SH.c.started_at)
            ).all()
        return [SchedulerInfo(r.id, r.host, r.pid, r.started_at, r.heartbeat_at) for r in rows]

    def leave(self, scheduler_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(sa.delete(_t.SH).where(_t.SH.c.id == scheduler_id))
