"""Projects: the top-level namespace every experiment, dataset and model belongs to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from keel.exceptions import NotFoundError
from keel.store._db import Database, SqlRepository, now_ms
from keel.store._validate import check_name
from keel.store.entities import Project

if TYPE_CHECKING:
    from keel.store import Store
    from keel.store.protocols import Projects

_COLS = "SELECT id, name, description, created_at FROM projects"
#: the project used when none is named; a fresh home reads it without an error
DEFAULT_PROJECT = "default"


def _project(row: Sequence[Any]) -> Project:
    return Project(row[0], row[1], row[2], row[3])


def project_label(db: Database, project_id: int) -> str:
    """A project's name for an error message (read only on the error path; ``#id`` if gone)."""
    with db.cursor(write=False) as cur:
        cur.execute(db.sql("SELECT name FROM projects WHERE id = ?"), (project_id,))
        row = cur.fetchone()
    return str(row[0]) if row else f"#{project_id}"


def existing_project(projects: Projects, name: str) -> Project:
    """The project ``name`` for a read: a misspelt name is an error that lists the projects,
    not a new empty project. Only the default project is created here (a fresh home)."""
    if name == DEFAULT_PROJECT:
        return projects.get_or_create(name)
    try:
        return projects.get(name)
    except NotFoundError:
        names = ", ".join(p.name for p in projects.list()) or "none yet"
        raise NotFoundError(f"project {name!r} does not exist; projects: {names}") from None


class ProjectByName:
    """A client of one project, named when the client is made and looked up on first use
    (constructors do no I/O). :attr:`project` creates it, what a write needs;
    :meth:`existing_project` needs it to exist, what a read needs; :meth:`found_project`
    is None until it exists, what a write checks its input against. Each resolves it once."""

    def __init__(self, store: Store, project: str) -> None:
        self.store = store
        self.project_name = project
        self._project: Project | None = None  # resolved on first use, not here (no I/O)

    @property
    def project(self) -> Project:
        """The project, created on first use (a write: runs, experiments, a model version)."""
        if self._project is None:
            self._project = self.store.projects.get_or_create(self.project_name)
        return self._project

    def existing_project(self) -> Project:
        """The project for a read: a misspelt name is an error rather than a new project."""
        if self._project is None:
            self._project = existing_project(self.store.projects, self.project_name)
        return self._project

    def found_project(self) -> Project | None:
        """The project if it exists yet, without making it: what a write checks its input
        against, before :attr:`project` makes the project to store the result (so a bad
        input leaves no new project behind)."""
        if self._project is None:
            try:
                self._project = self.store.projects.get(self.project_name)
            except NotFoundError:
                return None
        return self._project


class ProjectRepository(SqlRepository):
    """Create and look up projects. Thread-safe: each call runs its own transaction."""

    def get_or_create(self, name: str, description: str = "") -> Project:
        check_name("project", name)
        found = self._find(name)
        if found is not None:
            return found
        with self._db.cursor(write=True) as cur:  # created concurrently: fine, read it back
            cur.execute(
                self._db.sql(
                    "INSERT INTO projects (name, description, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                (name, description, now_ms()),
            )
        return self.get(name)

    def get(self, name: str) -> Project:
        found = self._find(name)
        if found is None:
            raise NotFoundError(f"project {name!r} does not exist; create it with keel.init()")
        return found

    def get_by_id(self, project_id: int) -> Project:
        row = self._one(f"{_COLS} WHERE id = ?", project_id)
        if row is None:
            raise NotFoundError(f"project id {project_id} does not exist")
        return _project(row)

    def list(self) -> list[Project]:
        with self._db.cursor(write=False) as cur:
            cur.execute(f"{_COLS} ORDER BY name")
            return [_project(r) for r in cur.fetchall()]

    def _find(self, name: str) -> Project | None:
        row = self._one(f"{_COLS} WHERE name = ?", name)
        return None if row is None else _project(row)

    def _one(self, sql: str, arg: Any) -> Sequence[Any] | None:
        with self._db.cursor(write=False) as cur:
            cur.execute(self._db.sql(sql), (arg,))
            row: Sequence[Any] | None = cur.fetchone()
            return row
