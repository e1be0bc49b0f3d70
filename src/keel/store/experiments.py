"""Experiments: named groups of runs inside a project."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keel.exceptions import AlreadyExistsError, NotFoundError
from keel.store._db import SqlRepository, now_ms
from keel.store._lazy import Tables
from keel.store._rows import entity, records
from keel.store._upsert import upsert
from keel.store._validate import MAX_TAG_VALUE, check_key, check_name, check_value
from keel.store.entities import Experiment, Lifecycle
from keel.store.projects import project_label

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy import Connection
else:
    from keel.store._lazy import sa

_t = Tables(E="keel.store._schema:ExperimentRow", T="keel.store._schema:ExperimentTagRow")
_COLS = (
    "SELECT id, project_id, name, description, lifecycle, created_at, updated_at FROM experiments"
)


def check_experiment(name: object, tags: Mapping[str, str] = {}) -> None:
    """What :meth:`ExperimentRepository.create` refuses (a bad name or tag), for a caller
    to check before it makes the project the experiment goes in (so a bad one leaves no
    empty project behind)."""
    check_name("experiment", name)
    _checked_tags(tags)


def _checked_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {
        check_key("tag", k): check_value("tag", k, str(v), MAX_TAG_VALUE) for k, v in tags.items()
    }


class ExperimentRepository(SqlRepository):
    """Create, rename, tag, delete and restore experiments. Thread-safe."""

    def create(
        self, project_id: int, name: str, *, description: str = "", tags: Mapping[str, str] = {}
    ) -> Experiment:
        check_experiment(name, tags)
        ts = now_ms()
        exp_id = self._db.insert_new(
            sa.insert(_t.E)
            .values(
                project_id=project_id,
                name=name,
                description=description,
                lifecycle=Lifecycle.ACTIVE.value,
                created_at=ts,
                updated_at=ts,
            )
            .returning(_t.E.c.id),
            f"experiment {name!r} already exists in this project; pick another name or "
            "use get_or_create",
            lambda conn, new_id: self._set_tags(conn, new_id, tags),
        )
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
        found = self._select(f"{_COLS} WHERE id = ?", (experiment_id,))
        if not found:
            raise NotFoundError(f"experiment id {experiment_id} does not exist")
        return found[0]

    def find(self, project_id: int, name: str) -> Experiment | None:
        found = self._select(f"{_COLS} WHERE project_id = ? AND name = ?", (project_id, name))
        return found[0] if found else None

    def get_by_name(self, project_id: int, name: str) -> Experiment:
        found = self.find(project_id, name)
        if found is None:
            raise NotFoundError(
                f"experiment {name!r} does not exist in project "
                f"{project_label(self._db, project_id)!r}"
            )
        return found

    def list(self, project_id: int, *, include_deleted: bool = False) -> list[Experiment]:
        if include_deleted:
            return self._select(f"{_COLS} WHERE project_id = ? ORDER BY id", (project_id,))
        return self._select(
            f"{_COLS} WHERE project_id = ? AND lifecycle = ? ORDER BY id",
            (project_id, Lifecycle.ACTIVE.value),
        )

    def rename(self, experiment_id: int, new_name: str) -> Experiment:
        check_name("experiment", new_name)
        try:
            self._update(experiment_id, name=new_name)
        except sa.exc.IntegrityError as exc:
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
        self._db.change(
            sa.delete(_t.T).where(_t.T.c.experiment_id == experiment_id, _t.T.c.key == key),
            f"experiment {experiment_id} has no tag {key!r}",
        )

    def _update(self, experiment_id: int, **values: object) -> None:
        self._db.change(
            sa.update(_t.E).where(_t.E.c.id == experiment_id).values(updated_at=now_ms(), **values),
            f"experiment id {experiment_id} does not exist",
        )

    def _set_tags(self, conn: Connection, experiment_id: int, tags: Mapping[str, str]) -> None:
        rows = [
            {"experiment_id": experiment_id, "key": k, "value": v}
            for k, v in _checked_tags(tags).items()
        ]
        if rows:
            upsert(conn, _t.T, rows, keys=("experiment_id", "key"), update=("value",))

    def _select(self, sql: str, args: Sequence[Any]) -> builtins.list[Experiment]:
        """Experiments (with their tags) of a driver-level query over ``_COLS``."""
        with self._db.cursor(write=False) as cur:
            cur.execute(self._db.sql(sql), args)
            rows = records(cur)
            tags: dict[int, dict[str, str]] = {r["id"]: {} for r in rows}
            for start in range(0, len(rows), 500):
                ids = [r["id"] for r in rows[start : start + 500]]
                marks = ", ".join("?" * len(ids))
                cur.execute(
                    self._db.sql(
                        "SELECT experiment_id, key, value FROM experiment_tags "
                        f"WHERE experiment_id IN ({marks})"
                    ),
                    ids,
                )
                for exp_id, key, value in cur.fetchall():
                    tags[exp_id][str(key)] = str(value)
        return [
            entity(Experiment, r, lifecycle=Lifecycle(r["lifecycle"]), tags=tags[r["id"]])
            for r in rows
        ]
