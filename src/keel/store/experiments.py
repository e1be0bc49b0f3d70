"""Experiments: named groups of runs inside a project."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from keel.exceptions import AlreadyExistsError, NotFoundError
from keel.store._db import Database, now_ms
from keel.store._schema import ExperimentRow, ExperimentTagRow, table
from keel.store._upsert import upsert
from keel.store._validate import MAX_TAG_VALUE, check_key, check_name, check_value
from keel.store.entities import Experiment, Lifecycle

_E = table(ExperimentRow)
_T = table(ExperimentTagRow)


class ExperimentRepository:
    """Create, rename, tag, delete and restore experiments. Thread-safe."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self, project_id: int, name: str, *, description: str = "", tags: Mapping[str, str] = {}
    ) -> Experiment:
        check_name("experiment", name)
        ts = now_ms()
        try:
            with self._db.write() as conn:
                exp_id = conn.execute(
                    insert(_E)
                    .values(
                        project_id=project_id,
                        name=name,
                        description=description,
                        lifecycle=Lifecycle.ACTIVE.value,
                        created_at=ts,
                        updated_at=ts,
                    )
                    .returning(_E.c.id)
                ).scalar_one()
                self._set_tags(conn, exp_id, tags)
        except IntegrityError as exc:
            raise AlreadyExistsError(
                f"experiment {name!r} already exists in this project; pick another name or "
                "use get_or_create"
            ) from exc
        return self.get(exp_id)

    def get_or_create(self, project_id: int, name: str) -> Experiment:
        found = self.find(project_id, name)
        if found is not None:
            if found.lifecycle is Lifecycle.DELETED:
                raise NotFoundError(
                    f"experiment {name!r} is deleted; restore it or choose another name"
                )
            return found
        try:
            return self.create(project_id, name)
        except AlreadyExistsError:
            return self.get_by_name(project_id, name)

    def get(self, experiment_id: int) -> Experiment:
        with self._db.read() as conn:
            row = conn.execute(select(_E).where(_E.c.id == experiment_id)).first()
            if row is None:
                raise NotFoundError(f"experiment id {experiment_id} does not exist")
            return self._entity(conn, row)

    def find(self, project_id: int, name: str) -> Experiment | None:
        with self._db.read() as conn:
            row = conn.execute(
                select(_E).where(_E.c.project_id == project_id, _E.c.name == name)
            ).first()
            return None if row is None else self._entity(conn, row)

    def get_by_name(self, project_id: int, name: str) -> Experiment:
        found = self.find(project_id, name)
        if found is None:
            raise NotFoundError(f"experiment {name!r} does not exist in this project")
        return found

    def list(self, project_id: int, *, include_deleted: bool = False) -> list[Experiment]:
        query = select(_E).where(_E.c.project_id == project_id).order_by(_E.c.id)
        if not include_deleted:
            query = query.where(_E.c.lifecycle == Lifecycle.ACTIVE.value)
        with self._db.read() as conn:
            return [self._entity(conn, r) for r in conn.execute(query).all()]

    def rename(self, experiment_id: int, new_name: str) -> Experiment:
        check_name("experiment", new_name)
        try:
            self._update(experiment_id, name=new_name)
        except IntegrityError as exc:
            raise AlreadyExistsError(f"experiment {new_name!r} already exists") from exc
        return self.get(experiment_id)

    def set_description(self, experiment_id: int, description: str) -> Experiment:
        self._update(experiment_id, description=description)
        return self.get(experiment_id)

    def delete(self, experiment_id: int) -> None:
        self._update(experiment_id, lifecycle=Lifecycle.DELETED.value)

    def restore(self, experiment_id: int) -> None:
        self._update(experiment_id, lifecycle=Lifecycle.ACTIVE.value)

    def set_tag(self, experiment_id: int, key: str, value: str) -> None:
        self.get(experiment_id)
        with self._db.write() as conn:
            self._set_tags(conn, experiment_id, {key: value})

    def delete_tag(self, experiment_id: int, key: str) -> None:
        with self._db.write() as conn:
            gone = conn.execute(
                delete(_T).where(_T.c.experiment_id == experiment_id, _T.c.key == key)
            ).rowcount
        if not gone:
            raise NotFoundError(f"experiment {experiment_id} has no tag {key!r}")

    def _update(self, experiment_id: int, **values: object) -> None:
        with self._db.write() as conn:
            n = conn.execute(
                update(_E).where(_E.c.id == experiment_id).values(updated_at=now_ms(), **values)
            ).rowcount
        if n == 0:
            raise NotFoundError(f"experiment id {experiment_id} does not exist")

    def _set_tags(self, conn: Connection, experiment_id: int, tags: Mapping[str, str]) -> None:
        rows = [
            {
                "experiment_id": experiment_id,
                "key": check_key("tag", k),
                "value": check_value("tag", k, str(v), MAX_TAG_VALUE),
            }
            for k, v in tags.items()
        ]
        if rows:
            upsert(conn, _T, rows, keys=("experiment_id", "key"), update=("value",))

    @staticmethod
    def _entity(conn: Connection, row: Row) -> Experiment:
        tags = dict(
            conn.execute(select(_T.c.key, _T.c.value).where(_T.c.experiment_id == row.id)).all()
        )
        return Experiment(
            id=row.id,
            project_id=row.project_id,
            name=row.name,
            description=row.description,
            lifecycle=Lifecycle(row.lifecycle),
            created_at=row.created_at,
            updated_at=row.updated_at,
            tags={str(k): str(v) for k, v in tags.items()},
        )
