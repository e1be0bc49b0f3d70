"""Stored reports: a report's Markdown and the sides it compared, per project.

Saving one makes it searchable at the next refresh of the search index
(:mod:`keel.store.search` reads the ``reports`` table). Thread-safe: every method runs its
own transaction.
"""

from __future__ import annotations

import builtins
from typing import Any, cast

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from keel.exceptions import ConflictError, InvalidArgumentError, NotFoundError
from keel.store._area_values import ReportVersion, StoredReport
from keel.store._db import SqlRepository, first_or_missing, now_ms
from keel.store._schema import table
from keel.store._schema_reports import ReportRow, ReportVersionRow

REPORTS, VERSIONS = table(ReportRow), table(ReportVersionRow)


def _clean(value: str) -> str:
    return value.replace("\x00", "")  # PostgreSQL text cannot hold NUL


def _title(title: str) -> None:
    if not title.strip() or len(title) > 512:
        raise InvalidArgumentError("a report title must be 1-512 characters")


class ReportRepository(SqlRepository):
    """Stored reports of a project; saving one makes it searchable at the next refresh."""

    def save(
        self,
        project_id: int,
        title: str,
        markdown: str,
        *,
        base: str = "",
        head: str = "",
        author: str = "",
    ) -> StoredReport:
        _title(title)
        now = now_ms()
        try:
            with self._db.write() as conn:
                report_id = conn.execute(
                    insert(REPORTS)
                    .values(project_id=project_id, title=title, markdown=_clean(markdown),
                            base=base[:255], head=head[:255], author=author[:255],
                            created_at=now, updated_at=now)
                    .returning(REPORTS.c.id)
                ).scalar_one()  # fmt: skip
        except IntegrityError as exc:  # the only foreign key is the project
            raise NotFoundError(f"project id {project_id} does not exist") from exc
        return self.get(project_id, report_id)

    def revise(
        self, project_id: int, report_id: int, markdown: str, *, title: str = "", author: str = ""
    ) -> StoredReport:
        """Save a new version of a report (the current text is kept as the version before)."""
        if title:
            _title(title)
        now = now_ms()
        try:
            self._revise(project_id, report_id, markdown, title, author, now)
        except IntegrityError as exc:  # another save took this version number first
            raise ConflictError(f"report {report_id} was saved meanwhile; save again") from exc
        return self.get(project_id, report_id)

    def _revise(
        self, project_id: int, report_id: int, markdown: str, title: str, author: str, now: int
    ) -> None:
        with self._db.write() as conn:
            old = _report_row(conn, project_id, report_id)
            conn.execute(
                insert(VERSIONS).values(report_id=report_id, version=old.version, title=old.title,
                                        markdown=old.markdown, author=old.author,
                                        created_at=old.updated_at)
            )  # fmt: skip
            conn.execute(
                update(REPORTS)
                .where(REPORTS.c.id == report_id, REPORTS.c.version == old.version)
                .values(markdown=_clean(markdown), title=title or old.title,
                        author=author[:255] or old.author, version=old.version + 1, updated_at=now)
            )  # fmt: skip

    def get(self, project_id: int, report_id: int, *, version: int | None = None) -> StoredReport:
        """A report as it is now, or as its earlier ``version`` was."""
        with self._db.read() as conn:
            row = _report_row(conn, project_id, report_id)
            current = StoredReport(**dict(row._mapping))
            if version is None or version == current.version:
                return current
            old = conn.execute(
                select(VERSIONS).where(
                    VERSIONS.c.report_id == report_id, VERSIONS.c.version == version
                )
            ).first()
        if old is None:
            raise NotFoundError(
                f"report {report_id} has no version {version}; it has 1-{current.version}"
            )
        return StoredReport(
            id=current.id, project_id=project_id, title=old.title, markdown=old.markdown,
            base=current.base, head=current.head, author=old.author,
            created_at=current.created_at, updated_at=old.created_at, version=old.version,
        )  # fmt: skip

    def versions(self, project_id: int, report_id: int) -> builtins.list[ReportVersion]:
        """Every save of the report, newest first."""
        current = self.get(project_id, report_id)
        with self._db.read() as conn:
            rows = conn.execute(
                select(VERSIONS)
                .where(VERSIONS.c.report_id == report_id)
                .order_by(VERSIONS.c.version.desc())
            ).all()
        now = ReportVersion(
            report_id, current.version, current.title, current.author, current.updated_at
        )
        return [now] + [
            ReportVersion(report_id, r.version, r.title, r.author, r.created_at) for r in rows
        ]

    def list(self, project_id: int, *, limit: int = 100) -> builtins.list[StoredReport]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(REPORTS)
                .where(REPORTS.c.project_id == project_id)
                .order_by(REPORTS.c.updated_at.desc(), REPORTS.c.id.desc())
                .limit(limit)
            ).all()
        return [StoredReport(**dict(r._mapping)) for r in rows]


def _report_row(conn: Connection, project_id: int, report_id: int) -> Row[Any]:
    """The report's row in the project (NotFoundError when it has none)."""
    query = select(REPORTS).where(REPORTS.c.project_id == project_id, REPORTS.c.id == report_id)
    missing = f"report {report_id} does not exist in this project; see `keel report list`"
    return cast(Row[Any], first_or_missing(conn, query, missing))


__all__ = ["ReportRepository", "ReportVersion", "StoredReport"]
