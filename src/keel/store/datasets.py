"""Datasets and their immutable, numbered versions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keel.exceptions import AlreadyExistsError, NotFoundError
from keel.store._db import SqlRepository, found_or_missing, now_ms
from keel.store._lazy import Tables
from keel.store._rows import entity
from keel.store._validate import check_name
from keel.store.entities import Dataset, DatasetFile, DatasetVersion

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy import Connection
else:
    from keel.store._lazy import sa

_t = Tables(
    D="keel.store._schema:DatasetRow",
    V="keel.store._schema:DatasetVersionRow",
    F="keel.store._schema:DatasetFileRow",
    RD="keel.store._schema:RunDatasetRow",
)


def _version(row: Mapping[Any, Any], name: str) -> DatasetVersion:
    """A version from its row as a mapping (``Row._mapping``, or the columns of a join)."""
    return entity(
        DatasetVersion,
        row,
        dataset_name=name,
        source=json.loads(row["source"]),
        schema=json.loads(row["schema_json"]),
        profile=json.loads(row["profile_json"]),
    )


#: The columns of a version that :func:`_version` reads.
_VERSION_COLS = (
    "id, dataset_id, version, content_hash, kind, source, schema_json, profile_json, num_rows, "
    "num_files, size_bytes, created_at, run_id"
).split(", ")
_COLS = ", ".join(_VERSION_COLS)
#: the newest version of a dataset (its id bound twice)
_NEWEST = (
    "dataset_id = ? AND version = (SELECT MAX(m.version) FROM dataset_versions m "
    "WHERE m.dataset_id = ?)"
)
#: Each dataset of a project by name, with its newest version's columns (or NULLs).
_LIST_WITH_LATEST = (
    "SELECT d.id, d.project_id, d.name, d.description, d.created_at, "
    + ", ".join(f"v.{c}" for c in _VERSION_COLS)
    + " FROM datasets d "
    "LEFT JOIN dataset_versions v ON v.dataset_id = d.id AND v.version = "
    "(SELECT MAX(m.version) FROM dataset_versions m WHERE m.dataset_id = d.id) "
    "WHERE d.project_id = ? ORDER BY d.name"
)


class DatasetRepository(SqlRepository):
    """Register and read dataset versions. A version never changes once written."""

    def get_or_create(self, project_id: int, name: str, description: str = "") -> Dataset:
        check_name("dataset", name)
        found = self._find(project_id, name)
        if found is not None:
            return found
        try:
            with self._db.write() as conn:
                conn.execute(
                    sa.insert(_t.D).values(
                        project_id=project_id,
                        name=name,
                        description=description,
                        created_at=now_ms(),
                    )
                )
        except sa.exc.IntegrityError:
            pass  # created concurrently
        return self.get(project_id, name)

    def get(self, project_id: int, name: str) -> Dataset:
        return found_or_missing(
            self._find(project_id, name),
            f"dataset {name!r} does not exist in this project; register it with "
            "keel.log_dataset() or `keel datasets add`",
        )

    def list_with_latest(self, project_id: int) -> list[tuple[Dataset, DatasetVersion | None]]:
        """Every dataset with its newest version (driver-level SQL: ``keel datasets list``
        imports no SQLAlchemy)."""
        with self._db.cursor(write=False) as cur:
            cur.execute(self._db.sql(_LIST_WITH_LATEST), (project_id,))
            rows = cur.fetchall()
        out: list[tuple[Dataset, DatasetVersion | None]] = []
        for r in rows:
            dataset = Dataset(*r[:5])
            if r[5] is None:
                out.append((dataset, None))
                continue
            version = _version(dict(zip(_VERSION_COLS, r[5:], strict=True)), dataset.name)
            out.append((dataset, version))
        return out

    def add_version(
        self,
        dataset: Dataset,
        *,
        content_hash: str,
        kind: str,
        source: dict[str, Any],
        schema: list[dict[str, Any]],
        profile: dict[str, Any],
        num_rows: int | None,
        files: Sequence[DatasetFile],
        run_id: str | None = None,
    ) -> tuple[DatasetVersion, bool]:
        """Add a version unless the newest one has the same content; returns (version, created)."""
        for _attempt in range(5):
            with self._db.write() as conn:
                latest = self._latest(conn, dataset.id, dataset.name)
                if latest is not None and latest.content_hash == content_hash:
                    return latest, False
                number = (latest.version if latest else 0) + 1
                try:
                    version_id = conn.execute(
                        sa.insert(_t.V)
                        .values(
                            dataset_id=dataset.id,
                            version=number,
                            content_hash=content_hash,
                            kind=kind,
                            source=json.dumps(source, default=str),
                            schema_json=json.dumps(schema, default=str),
                            profile_json=json.dumps(profile, default=str),
                            num_rows=num_rows,
                            num_files=len(files),
                            size_bytes=sum(f.size for f in files),
                            created_at=now_ms(),
                            run_id=run_id,
                        )
                        .returning(_t.V.c.id)
                    ).scalar_one()
                except sa.exc.IntegrityError:
                    continue  # another writer took this number (PostgreSQL); try the next
                _insert_files(conn, version_id, files)
                row = conn.execute(sa.select(_t.V).where(_t.V.c.id == version_id)).one()
                return _version(row._mapping, dataset.name), True
        raise AlreadyExistsError(
            f"could not allocate a version number for dataset {dataset.name!r}"
        )

    def get_version(self, project_id: int, name: str, version: int | None = None) -> DatasetVersion:
        """A version by number, or the newest one when ``version`` is None (driver-level
        SQL, as every read here that ``keel datasets show`` makes: no SQLAlchemy import)."""
        dataset = self.get(project_id, name)
        if version is None:
            which, args = _NEWEST, (dataset.id, dataset.id)
        else:
            which, args = "dataset_id = ? AND version = ?", (dataset.id, int(version))
        rows = self._select(f"SELECT {_COLS} FROM dataset_versions WHERE {which}", args)
        if not rows:
            what = "any version" if version is None else f"version {version}"
            raise NotFoundError(f"dataset {name!r} has no {what}")
        return _version(dict(zip(_VERSION_COLS, rows[0], strict=True)), name)

    def _select(self, query: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._db.cursor(write=False) as cur:
            cur.execute(self._db.sql(query), tuple(args))
            return [tuple(r) for r in cur.fetchall()]

    def get_version_by_id(self, version_id: int) -> DatasetVersion:
        query = (
            sa.select(_t.V, _t.D.c.name.label("dataset_name"))
            .join(_t.D, _t.D.c.id == _t.V.c.dataset_id)
            .where(_t.V.c.id == version_id)
        )
        row = self._db.one(query, f"dataset version id {version_id} does not exist")
        return _version(row._mapping, row.dataset_name)

    def versions(self, project_id: int, name: str) -> list[DatasetVersion]:
        dataset = self.get(project_id, name)
        query = f"SELECT {_COLS} FROM dataset_versions WHERE dataset_id = ? ORDER BY version"
        rows = self._select(query, (dataset.id,))
        return [_version(dict(zip(_VERSION_COLS, r, strict=True)), name) for r in rows]

    def files(self, version_id: int) -> list[DatasetFile]:
        query = "SELECT path, blob_sha, size FROM dataset_files WHERE version_id = ? ORDER BY path"
        return [DatasetFile(*r) for r in self._select(query, (version_id,))]

    def runs_of(self, version_id: int) -> list[tuple[str, str]]:
        """(run id, direction) of every run that read or wrote this version."""
        query = "SELECT run_id, direction FROM run_datasets WHERE version_id = ?"
        return [(r[0], r[1]) for r in self._select(query, (version_id,))]

    def _find(self, project_id: int, name: str) -> Dataset | None:
        query = (
            "SELECT id, project_id, name, description, created_at FROM datasets "
            "WHERE project_id = ? AND name = ?"
        )
        rows = self._select(query, (project_id, name))
        return Dataset(*rows[0]) if rows else None

    @staticmethod
    def _latest(conn: Connection, dataset_id: int, name: str) -> DatasetVersion | None:
        top = (
            sa.select(sa.func.max(_t.V.c.version))
            .where(_t.V.c.dataset_id == dataset_id)
            .scalar_subquery()
        )
        row = conn.execute(
            sa.select(_t.V).where(_t.V.c.dataset_id == dataset_id, _t.V.c.version == top)
        ).first()
        return None if row is None else _version(row._mapping, name)


def _insert_files(conn: Connection, version_id: int, files: Sequence[DatasetFile]) -> None:
    if files:
        conn.execute(
            sa.insert(_t.F),
            [
                {"version_id": version_id, "path": f.path, "blob_sha": f.blob_sha, "size": f.size}
                for f in files
            ],
        )
