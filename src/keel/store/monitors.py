"""Monitors and their reference profiles (one aggregate); alerts live in :mod:`.alerts`.

Every method runs its own transaction, so the repository is thread-safe.
"""

from __future__ import annotations

import builtins
import json
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from keel.exceptions import AlreadyExistsError, InvalidArgumentError, NotFoundError
from keel.store._area_values import Monitor, ReferenceInfo
from keel.store._db import SqlRepository, found_or_missing, now_ms
from keel.store._rows import entity
from keel.store._schema import table
from keel.store._schema_monitoring import MonitorRow, ReferenceProfileRow
from keel.store._validate import check_name

MON = table(MonitorRow)
REF = table(ReferenceProfileRow)


def _monitor(row: Row) -> Monitor:
    config = json.loads(row.config_json or "{}")
    return entity(Monitor, row, window=row.default_window, enabled=bool(row.enabled), config=config)


def _reference(row: Row) -> ReferenceInfo:
    return entity(ReferenceInfo, row)


class MonitorRepository(SqlRepository):
    """Create, configure and list monitors; store reference profiles by subject."""

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
        """Create the monitor of ``deployment`` or change the fields given (others stay)."""
        check_name("deployment", deployment)
        changes: dict[str, Any] = {"updated_at": now_ms()}
        if reference is not None:
            changes["reference"] = reference
        if config is not None:
            changes["config_json"] = json.dumps(config, sort_keys=True, allow_nan=False)
        if window is not None:
            changes["default_window"] = window
        if enabled is not None:
            changes["enabled"] = enabled
        for _attempt in range(3):
            with self._db.write() as conn:
                found = conn.execute(_by_name(project_id, deployment)).first()
                if found is not None:
                    conn.execute(update(MON).where(MON.c.id == found.id).values(**changes))
                    return _monitor(conn.execute(select(MON).where(MON.c.id == found.id)).one())
            try:
                with self._db.write() as conn:
                    values = {
                        "reference": "",
                        "config_json": "{}",
                        "default_window": "1d",
                        "enabled": True,
                        **changes,
                    }
                    conn.execute(
                        insert(MON).values(
                            project_id=project_id,
                            deployment=deployment,
                            created_at=changes["updated_at"],
                            **values,
                        )
                    )
                    return _monitor(conn.execute(_by_name(project_id, deployment)).one())
            except IntegrityError:
                continue  # created concurrently: update it instead
        raise AlreadyExistsError(f"could not create the monitor of {deployment!r}; try again")

    def get(self, project_id: int, deployment: str) -> Monitor:
        return found_or_missing(
            self.find(project_id, deployment),
            f"deployment {deployment!r} has no monitor; create one with "
            f"`keel monitor set {deployment} --reference <dataset>`",
        )

    def find(self, project_id: int, deployment: str) -> Monitor | None:
        with self._db.read() as conn:
            row = conn.execute(_by_name(project_id, deployment)).first()
        return None if row is None else _monitor(row)

    def get_by_id(self, monitor_id: int) -> Monitor:
        query = select(MON).where(MON.c.id == monitor_id)
        return _monitor(self._db.one(query, f"monitor id {monitor_id} does not exist"))

    def list(self, project_id: int, *, enabled_only: bool = False) -> builtins.list[Monitor]:
        query = select(MON).where(MON.c.project_id == project_id)
        if enabled_only:
            query = query.where(MON.c.enabled.is_(True))
        with self._db.read() as conn:
            return [_monitor(r) for r in conn.execute(query.order_by(MON.c.deployment))]

    def delete(self, project_id: int, deployment: str) -> None:
        self._db.change(
            delete(MON).where(MON.c.project_id == project_id, MON.c.deployment == deployment),
            f"deployment {deployment!r} has no monitor to delete",
        )

    def mark_run(self, monitor_id: int, window_end: int) -> None:
        """Remember the newest window monitored (never moves backwards)."""
        with self._db.write() as conn:
            row = conn.execute(select(MON.c.last_window_end).where(MON.c.id == monitor_id)).first()
            if row is None:
                raise NotFoundError(f"monitor id {monitor_id} does not exist")
            newest = max(window_end, row.last_window_end or 0)
            conn.execute(
                update(MON)
                .where(MON.c.id == monitor_id)
                .values(last_run_at=now_ms(), last_window_end=newest)
            )

    # -- reference profiles ----------------------------------------------------------------
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
        """Store (or replace) the reference profile of ``subject``."""
        if not subject or len(subject) > 512:
            raise InvalidArgumentError(f"reference subject {subject!r} must be 1-512 characters")
        values = {
            "blob_sha": blob_sha,
            "num_rows": num_rows,
            "num_columns": num_columns,
            "source": source,
            "created_at": now_ms(),
        }
        for _attempt in range(3):
            with self._db.write() as conn:
                changed = conn.execute(
                    update(REF)
                    .where(REF.c.project_id == project_id, REF.c.subject == subject)
                    .values(**values)
                ).rowcount
            if changed:
                return self.get_reference(project_id, subject)
            try:
                with self._db.write() as conn:
                    conn.execute(
                        insert(REF).values(project_id=project_id, subject=subject, **values)
                    )
                return self.get_reference(project_id, subject)
            except IntegrityError:
                continue
        raise AlreadyExistsError(f"could not store the reference of {subject!r}; try again")

    def get_reference(self, project_id: int, subject: str) -> ReferenceInfo:
        return found_or_missing(
            self.find_reference(project_id, subject),
            f"no reference profile for {subject!r}; build one with "
            "`keel monitor reference <subject> --dataset <name>[@version]`",
        )

    def find_reference(self, project_id: int, subject: str) -> ReferenceInfo | None:
        with self._db.read() as conn:
            row = conn.execute(
                select(REF).where(REF.c.project_id == project_id, REF.c.subject == subject)
            ).first()
        return None if row is None else _reference(row)

    def list_references(self, project_id: int) -> builtins.list[ReferenceInfo]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(REF).where(REF.c.project_id == project_id).order_by(REF.c.subject)
            )
            return [_reference(r) for r in rows]


def _by_name(project_id: int, deployment: str) -> Any:
    return select(MON).where(MON.c.project_id == project_id, MON.c.deployment == deployment)


__all__ = ["Monitor", "MonitorRepository", "ReferenceInfo"]
