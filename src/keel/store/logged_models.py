"""MLflow 3 "logged models": a model folder logged from a run, with params, tags and files.

keel's own model packages live in the registry; this repository exists so the official
``mlflow`` client (which creates a logged model on every ``log_model``) works against
``keel server``. The files are blobs, like run artifacts. Thread-safe.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import Row, insert, select, update

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store._area_values import LoggedModel
from keel.store._db import Database, now_ms
from keel.store._file_index import FileIndex
from keel.store._rows import entity
from keel.store._schema import ExperimentRow, table
from keel.store._schema_auth import LoggedModelFileRow, LoggedModelRow
from keel.store._validate import MAX_TAG_VALUE, check_key, check_name, check_value
from keel.store.blobs import BlobRef
from keel.store.entities import ArtifactInfo, Lifecycle

LMOD = table(LoggedModelRow)
LMF = table(LoggedModelFileRow)
E = table(ExperimentRow)
STATUSES = frozenset({"LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"})


def _model(row: Row) -> LoggedModel:
    lifecycle = Lifecycle(row.lifecycle)
    params, tags = json.loads(row.params_json), json.loads(row.tags_json)
    return entity(LoggedModel, row, lifecycle=lifecycle, params=params, tags=tags)


def _checked(kind: str, items: Mapping[str, object], limit: int) -> dict[str, str]:
    return {check_key(kind, k): check_value(kind, k, str(v), limit) for k, v in items.items()}


class LoggedModelRepository:
    """Create, finalize, tag, search and delete logged models, and index their files."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._files = FileIndex(db, LMF, "model_id", noun="logged model", item="file")

    def create(
        self,
        experiment_id: int,
        name: str,
        *,
        source_run_id: str | None = None,
        model_type: str = "",
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> LoggedModel:
        check_name("model", name)
        ts = now_ms()
        model_id = f"m-{uuid.uuid4().hex}"
        with self._db.write() as conn:
            exp = conn.execute(select(E.c.lifecycle).where(E.c.id == experiment_id)).first()
            if exp is None:
                raise NotFoundError(f"experiment id {experiment_id} does not exist")
            conn.execute(
                insert(LMOD).values(
                    id=model_id,
                    experiment_id=experiment_id,
                    name=name,
                    source_run_id=source_run_id,
                    model_type=model_type[:255],
                    status="LOGGED_MODEL_PENDING",
                    status_message="",
                    lifecycle=Lifecycle.ACTIVE.value,
                    created_at=ts,
                    updated_at=ts,
                    params_json=json.dumps(_checked("param", params or {}, MAX_TAG_VALUE)),
                    tags_json=json.dumps(_checked("tag", tags or {}, MAX_TAG_VALUE)),
                )
            )
        return self.get(model_id)

    def get(self, model_id: str) -> LoggedModel:
        with self._db.read() as conn:
            row = conn.execute(select(LMOD).where(LMOD.c.id == model_id)).first()
        if row is None or row.lifecycle != Lifecycle.ACTIVE.value:
            raise NotFoundError(f"logged model {model_id!r} does not exist")
        return _model(row)

    def finalize(self, model_id: str, status: str) -> LoggedModel:
        if status not in STATUSES:
            raise InvalidArgumentError(
                f"logged model status {status!r} is not one of {', '.join(sorted(STATUSES))}"
            )
        self._update(model_id, status=status)
        return self.get(model_id)

    def set_tags(self, model_id: str, tags: Mapping[str, str]) -> LoggedModel:
        current = self.get(model_id)
        merged = {**current.tags, **_checked("tag", tags, MAX_TAG_VALUE)}
        self._update(model_id, tags_json=json.dumps(merged))
        return self.get(model_id)

    def delete_tag(self, model_id: str, key: str) -> None:
        current = self.get(model_id)
        if key not in current.tags:
            raise NotFoundError(f"logged model {model_id!r} has no tag {key!r}")
        tags = {k: v for k, v in current.tags.items() if k != key}
        self._update(model_id, tags_json=json.dumps(tags))

    def log_params(self, model_id: str, params: Mapping[str, str]) -> LoggedModel:
        current = self.get(model_id)
        merged = {**current.params, **_checked("param", params, MAX_TAG_VALUE)}
        self._update(model_id, params_json=json.dumps(merged))
        return self.get(model_id)

    def delete(self, model_id: str) -> None:
        self.get(model_id)
        self._update(model_id, lifecycle=Lifecycle.DELETED.value)

    def search(
        self,
        experiment_ids: Sequence[int],
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        max_results: int = 100,
        offset: int = 0,
    ) -> tuple[list[LoggedModel], bool]:
        """Newest first; returns (models, whether more exist)."""
        query = select(LMOD).where(
            LMOD.c.experiment_id.in_(list(experiment_ids)),
            LMOD.c.lifecycle == Lifecycle.ACTIVE.value,
        )
        if name is not None:
            query = query.where(LMOD.c.name == name)
        if source_run_id is not None:
            query = query.where(LMOD.c.source_run_id == source_run_id)
        query = query.order_by(LMOD.c.created_at.desc(), LMOD.c.id)
        with self._db.read() as conn:
            rows = conn.execute(query.offset(offset).limit(max_results + 1)).all()
        return [_model(r) for r in rows[:max_results]], len(rows) > max_results

    # -- files -----------------------------------------------------------------------------
    def add_files(self, model_id: str, items: list[tuple[str, BlobRef]]) -> list[ArtifactInfo]:
        self.get(model_id)
        return self._files.add(model_id, items)

    def list_files(self, model_id: str, prefix: str | None = None) -> list[ArtifactInfo]:
        return self._files.list(model_id, prefix)

    def delete_files(self, model_id: str, path: str) -> int:
        return self._files.delete(model_id, path)

    def _update(self, model_id: str, **values: object) -> None:
        self._db.change(
            update(LMOD).where(LMOD.c.id == model_id).values(updated_at=now_ms(), **values),
            f"logged model {model_id!r} does not exist",
        )


__all__ = ["LoggedModel", "LoggedModelRepository"]
