"""Datasets and their immutable, numbered versions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select
from sqlalchemy.exc import IntegrityError

from keel.exceptions import AlreadyExistsError, NotFoundError
from keel.store._db import Database, now_ms
from keel.store._schema import DatasetFileRow, DatasetRow, DatasetVersionRow, RunDatasetRow, table
from keel.store._validate import check_name
from keel.store.entities import Dataset, DatasetFile, DatasetVersion

D = table(DatasetRow)
V = table(DatasetVersionRow)
F = table(DatasetFileRow)
RD = table(RunDatasetRow)


def _version(row: Row, name: str) -> DatasetVersion:
    return DatasetVersion(
        id=row.id,
        dataset_id=row.dataset_id,
        dataset_name=name,
        version=row.version,
        content_hash=row.content_hash,
        kind=row.kind,
        source=json.loads(row.source),
        schema=json.loads(row.schema_json),
        profile=json.loads(row.profile_json),
        num_rows=row.num_rows,
        num_files=row.num_files,
        size_bytes=row.size_bytes,
        created_at=row.created_at,
        run_id=row.run_id,
    )


class DatasetRepository:
    """Register and read dataset versions. A version never changes once written."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_or_create(self, project_id: int, name: str, description: str = "") -> Dataset:
        check_name("dataset", name)
        found = self._find(project_id, name)
        if found is not None:
            return found
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(D).values(
                        project_id=project_id,
                        name=name,
                        description=description,
                        created_at=now_ms(),
                    )
                )
        except IntegrityError:
            pass  # created concurrently
        return self.get(project_id, name)

    def get(self, project_id: int, name: str) -> Dataset:
        found = self._find(project_id, name)
        if found is None:
            raise NotFoundError(
                f"dataset {name!r} does not exist in this project; register it with "
                "keel.log_dataset() or `keel datasets add`"
            )
        return found

    def list_with_latest(self, project_id: int) -> list[tuple[Dataset, DatasetVersion | None]]:
        """Every dataset with its newest version."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(D).where(D.c.project_id == project_id).order_by(D.c.name)
            ).all()
            return [(self._dataset(r), self._latest(conn, r.id, r.name)) for r in rows]

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
                        insert(V)
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
                        .returning(V.c.id)
                    ).scalar_one()
                except IntegrityError:
                    continue  # another writer took this number (PostgreSQL); try the next
                if files:
                    conn.execute(
                        insert(F),
                        [
                            {
                                "version_id": version_id,
                                "path": f.path,
                                "blob_sha": f.blob_sha,
                                "size": f.size,
                            }
                            for f in files
                        ],
                    )
                row = conn.execute(select(V).where(V.c.id == version_id)).one()
                return _version(row, dataset.name), True
        raise AlreadyExistsError(
            f"could not allocate a version number for dataset {dataset.name!r}"
        )

    def get_version(self, project_id: int, name: str, version: int | None = None) -> DatasetVersion:
        """A version by number, or the newest one when ``version`` is None."""
        dataset = self.get(project_id, name)
        with self._db.read() as conn:
            if version is None:
                found = self._latest(conn, dataset.id, name)
            else:
                row = conn.execute(
                    select(V).where(V.c.dataset_id == dataset.id, V.c.version == version)
                ).first()
                found = None if row is None else _version(row, name)
        if found is None:
            what = "any version" if version is None else f"version {version}"
            raise NotFoundError(f"dataset {name!r} has no {what}")
        return found

    def get_version_by_id(self, version_id: int) -> DatasetVersion:
        with self._db.read() as conn:
            row = conn.execute(
                select(V, D.c.name.label("dataset_name"))
                .join(D, D.c.id == V.c.dataset_id)
                .where(V.c.id == version_id)
            ).first()
        if row is None:
            raise NotFoundError(f"dataset version id {version_id} does not exist")
        return _version(row, row.dataset_name)

    def versions(self, project_id: int, name: str) -> list[DatasetVersion]:
        dataset = self.get(project_id, name)
        with self._db.read() as conn:
            rows = conn.execute(
                select(V).where(V.c.dataset_id == dataset.id).order_by(V.c.version)
            ).all()
        return [_version(r, name) for r in rows]

    def files(self, version_id: int) -> list[DatasetFile]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(F.c.path, F.c.blob_sha, F.c.size)
                .where(F.c.version_id == version_id)
                .order_by(F.c.path)
            ).all()
        return [DatasetFile(r.path, r.blob_sha, r.size) for r in rows]

    def runs_of(self, version_id: int) -> list[tuple[str, str]]:
        """(run id, direction) of every run that read or wrote this version."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(RD.c.run_id, RD.c.direction).where(RD.c.version_id == version_id)
            ).all()
        return [(r.run_id, r.direction) for r in rows]

    def _find(self, project_id: int, name: str) -> Dataset | None:
        with self._db.read() as conn:
            row = conn.execute(
                select(D).where(D.c.project_id == project_id, D.c.name == name)
            ).first()
        return None if row is None else self._dataset(row)

    @staticmethod
    def _dataset(row: Row) -> Dataset:
        return Dataset(row.id, row.project_id, row.name, row.description, row.created_at)

    @staticmethod
    def _latest(conn: Connection, dataset_id: int, name: str) -> DatasetVersion | None:
        top = select(func.max(V.c.version)).where(V.c.dataset_id == dataset_id).scalar_subquery()
        row = conn.execute(
            select(V).where(V.c.dataset_id == dataset_id, V.c.version == top)
        ).first()
        return None if row is None else _version(row, name)
