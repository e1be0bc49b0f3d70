"""Projects: the top-level namespace every experiment, dataset and model belongs to."""

from __future__ import annotations

from sqlalchemy import Row, insert, select
from sqlalchemy.exc import IntegrityError

from keel.exceptions import NotFoundError
from keel.store._db import Database, now_ms
from keel.store._schema import ProjectRow, table
from keel.store._validate import check_name
from keel.store.entities import Project

_P = table(ProjectRow)


def _project(row: Row) -> Project:
    return Project(row.id, row.name, row.description, row.created_at)


class ProjectRepository:
    """Create and look up projects. Thread-safe: each call runs its own transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_or_create(self, name: str, description: str = "") -> Project:
        check_name("project", name)
        found = self._find(name)
        if found is not None:
            return found
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(_P).values(name=name, description=description, created_at=now_ms())
                )
        except IntegrityError:
            pass  # created concurrently: fine, read it back
        return self.get(name)

    def get(self, name: str) -> Project:
        found = self._find(name)
        if found is None:
            raise NotFoundError(f"project {name!r} does not exist; create it with keel.init()")
        return found

    def get_by_id(self, project_id: int) -> Project:
        with self._db.read() as conn:
            row = conn.execute(select(_P).where(_P.c.id == project_id)).first()
        if row is None:
            raise NotFoundError(f"project id {project_id} does not exist")
        return _project(row)

    def list(self) -> list[Project]:
        with self._db.read() as conn:
            return [_project(r) for r in conn.execute(select(_P).order_by(_P.c.name))]

    def _find(self, name: str) -> Project | None:
        with self._db.read() as conn:
            row = conn.execute(select(_P).where(_P.c.name == name)).first()
        return None if row is None else _project(row)
