"""Stored reports: a report's Markdown and the sides it compared, per project.

Saving one makes it searchable at the next refresh of the search index
(:mod:`keel.store.search` reads the ``reports`` table). Thread-safe: every method runs its
own transaction.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store._db import Database, now_ms
from keel.store._schema import table
from keel.store._schema_reports import ReportRow

REPORTS = table(ReportRow)


def _clean(value: str) -> str:
    return value.replace("\x00", "")  # PostgreSQL text cannot hold NUL


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A saved report: its Markdown and the sides it compared (re-run them for live data)."""

    id: int
    project_id: int
    title: str
    markdown: str
    base: str
    head: str
    author: str
    created_at: int
    updated_at: int


class ReportRepository:
    """Stored reports of a project; saving one makes it searchable at the next refresh."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
        if not title.strip() or len(title) > 512:
            raise InvalidArgumentError("a report title must be 1-512 characters")
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

    def get(self, project_id: int, report_id: int) -> StoredReport:
        with self._db.read() as conn:
            row = conn.execute(
                select(REPORTS).where(REPORTS.c.project_id == project_id, REPORTS.c.id == report_id)
            ).first()
        if row is None:
            raise NotFoundError(
                f"report {report_id} does not exist in this project; see `keel report list`"
            )
        return StoredReport(**dict(row._mapping))

    def list(self, project_id: int, *, limit: int = 100) -> builtins.list[StoredReport]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(REPORTS)
                .where(REPORTS.c.project_id == project_id)
                .order_by(REPORTS.c.updated_at.desc(), REPORTS.c.id.desc())
                .limit(limit)
            ).all()
        return [StoredReport(**dict(r._mapping)) for r in rows]


__all__ = ["ReportRepository", "StoredReport"]
