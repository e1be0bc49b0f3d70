"""The model registry: registered models, numbered versions, aliases, tags and model cards.

Versions number themselves 1, 2, 3 ... per model inside the write transaction that adds
them (a concurrent writer that loses the race on the unique constraint retries). An
alias names exactly one version of its own model. Search compiles the run filter
grammar (:mod:`keel.store.filters`) with the model-version vocabulary into EXISTS
sub-queries. Thread-safe: every method runs its own transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from keel.exceptions import AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError
from keel.store._db import SqlRepository, first_or_missing, now_ms
from keel.store._rows import entity, records
from keel.store._upsert import upsert
from keel.store._validate import check_key
from keel.store.filters import VERSION_ATTRIBUTES, parse_filter

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy import Connection
else:
    from keel.store._lazy import sa
from keel.store._registry_resolve import read_version
from keel.store._registry_rows import (
    _check_model_name,
    _delete_tag,
    _hydrate_model,
    _hydrate_versions,
    _list_extras,
    _model_row,
    _refuse_if_deployed,
    _semver_taken,
    _set_tags,
    _t,
    _touch,
    _version_query,
)
from keel.store.entities import ModelVersion, NewVersion, RegisteredModel

_ALIAS = re.compile(r"^[A-Za-z][\w\-]{0,62}$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.\-]+)?(?:\+[0-9A-Za-z.\-]+)?$")
_RESERVED_ALIASES = frozenset({"latest"})


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias) or alias.lower() in _RESERVED_ALIASES:
        raise InvalidArgumentError(
            f"alias {alias!r} is not valid: start with a letter, then letters, digits, '_' or "
            "'-' (at most 63 characters); 'latest' and version numbers are reserved"
        )
    return alias


class RegistryRepository(SqlRepository):
    """Registered models and their versions, in one project at a time."""

    # -- registered models -----------------------------------------------------------------
    def create_model(
        self,
        project_id: int,
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        name = _check_model_name(name)
        ts = now_ms()
        self._db.insert_new(
            sa.insert(_t.RM)
            .values(
                project_id=project_id,
                name=name,
                description=description,
                created_at=ts,
                updated_at=ts,
            )
            .returning(_t.RM.c.id),
            f"registered model {name!r} exists already",
            lambda conn, model_id: _set_tags(conn, _t.RMT, "model_id", model_id, tags or {}),
        )
        return self.get_model(project_id, name)

    def get_or_create_model(self, project_id: int, name: str) -> RegisteredModel:
        try:
            return self.get_model(project_id, name)
        except NotFoundError:
            try:
                return self.create_model(project_id, name)
            except AlreadyExistsError:
                return self.get_model(project_id, name)

    def get_model(self, project_id: int, name: str) -> RegisteredModel:
        with self._db.read() as conn:
            return _hydrate_model(conn, _model_row(conn, project_id, name))

    def list_models(self, project_id: int) -> list[RegisteredModel]:
        """The project's registered models by name, with tags, aliases and latest version
        (driver-level SQL: ``keel models list`` imports no SQLAlchemy)."""
        sql = self._db.sql
        with self._db.cursor(write=False) as cur:
            cur.execute(
                sql(
                    "SELECT id, project_id, name, description, created_at, updated_at "
                    "FROM registered_models WHERE project_id = ? ORDER BY name"
                ),
                (project_id,),
            )
            rows = records(cur)
            tags, aliases, latest = _list_extras(cur, sql, [r["id"] for r in rows])
        return [
            entity(
                RegisteredModel,
                r,
                tags=tags[r["id"]],
                aliases=aliases[r["id"]],
                latest_version=latest.get(r["id"]),
            )
            for r in rows
        ]

    def update_model(self, project_id: int, name: str, *, description: str) -> RegisteredModel:
        with self._db.write() as conn:
            row = _model_row(conn, project_id, name)
            conn.execute(
                sa.update(_t.RM)
                .where(_t.RM.c.id == row.id)
                .values(description=description, updated_at=now_ms())
            )
        return self.get_model(project_id, name)

    def set_model_tags(self, project_id: int, name: str, tags: Mapping[str, str]) -> None:
        with self._db.write() as conn:
            model_id = _model_row(conn, project_id, name).id
            _set_tags(conn, _t.RMT, "model_id", model_id, tags)
            _touch(conn, "model_id", model_id)

    def delete_model_tag(self, project_id: int, name: str, key: str) -> None:
        with self._db.write() as conn:
            found = _delete_tag(conn, "model_id", _model_row(conn, project_id, name).id, key)
        if not found:
            raise NotFoundError(f"registered model {name!r} has no tag {key!r}")

    def rename_model(self, project_id: int, name: str, new_name: str) -> RegisteredModel:
        """Give a model a new name; its versions, tags and aliases follow. Refused while a
        deployment serves the model under its current name."""
        new_name = _check_model_name(new_name)
        try:
            with self._db.write() as conn:
                row = _model_row(conn, project_id, name)
                _refuse_if_deployed(conn, project_id, name, "rename")
                ts = now_ms()
                conn.execute(
                    sa.update(_t.RM)
                    .where(_t.RM.c.id == row.id)
                    .values(name=new_name, updated_at=ts)
                )
                # the versions are found as name/number: they change with the name
                conn.execute(
                    sa.update(_t.MV).where(_t.MV.c.model_id == row.id).values(updated_at=ts)
                )
        except sa.exc.IntegrityError as exc:
            raise AlreadyExistsError(
                f"registered model {new_name!r} exists already; pick another name"
            ) from exc
        return self.get_model(project_id, new_name)

    def delete_model(self, project_id: int, name: str) -> None:
        """Remove a model with its versions, tags and aliases (package blobs go at the next
        ``keel gc``). Refused while a deployment serves it."""
        with self._db.write() as conn:
            row = _model_row(conn, project_id, name)
            _refuse_if_deployed(conn, project_id, name, "delete")
            conn.execute(sa.delete(_t.RM).where(_t.RM.c.id == row.id))

    # -- versions --------------------------------------------------------------------------
    def create_version(self, project_id: int, name: str, new: NewVersion) -> ModelVersion:
        """Add the next version of ``name`` (creating the model on first use)."""
        if new.semver is not None and not _SEMVER.match(new.semver):
            raise InvalidArgumentError(
                f"semantic version {new.semver!r} is not MAJOR.MINOR.PATCH (e.g. 1.4.0)"
            )
        if new.run_id is not None:
            with self._db.read() as conn:
                if (
                    conn.execute(sa.select(_t.RUNS.c.id).where(_t.RUNS.c.id == new.run_id)).first()
                    is None
                ):
                    raise NotFoundError(
                        f"run id {new.run_id!r} does not exist; a version's run_id must name "
                        "the run that produced it"
                    )
        model = self.get_or_create_model(project_id, name)
        for _attempt in range(5):
            try:
                with self._db.write() as conn:
                    version_id = self._insert_version(conn, model.id, new)
                return self.get_version_by_id(version_id)
            except sa.exc.IntegrityError as exc:
                if new.semver is not None and _semver_taken(self._db, model.id, new.semver):
                    raise AlreadyExistsError(
                        f"model {name!r} already has a version {new.semver!r}; semantic "
                        "versions are unique per model"
                    ) from exc
        raise ConflictError(f"could not number a new version of {name!r}; too many writers at once")

    @staticmethod
    def _insert_version(conn: Connection, model_id: int, new: NewVersion) -> int:
        top = conn.execute(
            sa.select(sa.func.max(_t.MV.c.version)).where(_t.MV.c.model_id == model_id)
        ).scalar()
        given = conn.execute(sa.select(_t.RM.c.top_version).where(_t.RM.c.id == model_id)).scalar()
        number = max(top or 0, given or 0) + 1  # never reuse a deleted newest version's number
        ts = now_ms()
        version_id = conn.execute(
            sa.insert(_t.MV)
            .values(
                model_id=model_id,
                version=number,
                semver=new.semver,
                blob_sha=new.blob_sha,
                size=new.size,
                manifest_sha=new.manifest_sha,
                run_id=new.run_id,
                flavor=new.flavor,
                serve_flavor=new.serve_flavor,
                task=new.task,
                source=new.source,
                signer=new.signer,
                description=new.description,
                frameworks_json=json.dumps(dict(new.frameworks)),
                signature_json=json.dumps(dict(new.signature)),
                lineage_json=json.dumps(dict(new.lineage), default=str),
                card_json=json.dumps(dict(new.card), default=str),
                created_at=ts,
                updated_at=ts,
            )
            .returning(_t.MV.c.id)
        ).scalar_one()
        metrics = [
            {"version_id": version_id, "key": check_key("metric", k), "value": float(v)}
            for k, v in new.metrics.items()
        ]
        if metrics:
            conn.execute(sa.insert(_t.MVM), metrics)
        datasets = [
            {"version_id": version_id, "dataset": d, "dataset_version": int(v)}
            for d, v in dict.fromkeys(new.datasets)
        ]
        if datasets:
            conn.execute(sa.insert(_t.MVD), datasets)
        _set_tags(conn, _t.MVT, "version_id", version_id, new.tags)
        conn.execute(
            sa.update(_t.RM).where(_t.RM.c.id == model_id).values(updated_at=ts, top_version=number)
        )
        return int(version_id)

    def get_version_by_id(self, version_id: int) -> ModelVersion:
        with self._db.read() as conn:
            query = _version_query().where(_t.MV.c.id == version_id)
            row = first_or_missing(conn, query, f"model version id {version_id} does not exist")
            return _hydrate_versions(conn, [row])[0]

    def get_version(self, project_id: int, name: str, version: int) -> ModelVersion:
        return read_version(self._db, project_id, name, version=int(version), alias=None)

    def get_by_alias(self, project_id: int, name: str, alias: str) -> ModelVersion:
        return read_version(self._db, project_id, name, version=None, alias=alias)

    def latest_version(self, project_id: int, name: str) -> ModelVersion:
        return read_version(self._db, project_id, name, version=None, alias=None)

    def versions(self, project_id: int, name: str) -> list[ModelVersion]:
        with self._db.read() as conn:
            model = _model_row(conn, project_id, name)
            rows = conn.execute(
                _version_query().where(_t.MV.c.model_id == model.id).order_by(_t.MV.c.version)
            ).all()
            return _hydrate_versions(conn, rows)

    def update_version(
        self,
        version_id: int,
        *,
        description: str | None = None,
        card: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if card is not None:
            values["card_json"] = json.dumps(dict(card), default=str)
        if values:
            values["updated_at"] = now_ms()
            with self._db.write() as conn:
                if (
                    conn.execute(
                        sa.update(_t.MV).where(_t.MV.c.id == version_id).values(**values)
                    ).rowcount
                    == 0
                ):
                    raise NotFoundError(f"model version id {version_id} does not exist")
        return self.get_version_by_id(version_id)

    def set_version_tags(self, version_id: int, tags: Mapping[str, str]) -> None:
        with self._db.write() as conn:
            if conn.execute(sa.select(_t.MV.c.id).where(_t.MV.c.id == version_id)).first() is None:
                raise NotFoundError(f"model version id {version_id} does not exist")
            _set_tags(conn, _t.MVT, "version_id", version_id, tags)
            _touch(conn, "version_id", version_id)

    def delete_version_tag(self, version_id: int, key: str) -> None:
        with self._db.write() as conn:
            found = _delete_tag(conn, "version_id", version_id, key)
        if not found:
            raise NotFoundError(f"model version id {version_id} has no tag {key!r}")

    def delete_version(self, version_id: int) -> None:
        """Remove a version (its package blob is collected by ``keel gc`` later)."""
        with self._db.write() as conn:
            if conn.execute(sa.delete(_t.MV).where(_t.MV.c.id == version_id)).rowcount == 0:
                raise NotFoundError(f"model version id {version_id} does not exist")

    # -- aliases ---------------------------------------------------------------------------
    def set_alias(self, project_id: int, name: str, alias: str, version_id: int) -> ModelVersion:
        """Point ``alias`` of model ``name`` at a version, which must belong to that model."""
        alias = check_alias(alias)
        with self._db.write() as conn:
            model = _model_row(conn, project_id, name)
            owner = conn.execute(
                sa.select(_t.RM.c.name, _t.MV.c.version)
                .join(_t.RM, _t.RM.c.id == _t.MV.c.model_id)
                .where(_t.MV.c.id == version_id)
            ).first()
            if owner is None:
                raise NotFoundError(f"model version id {version_id} does not exist")
            if owner.name != model.name:
                raise ConflictError(
                    f"alias {alias!r} belongs to model {name!r}, but version {owner.version} is a "
                    f"version of {owner.name!r}; an alias points only at its own model's versions"
                )
            upsert(
                conn,
                _t.MA,
                [
                    {
                        "model_id": model.id,
                        "alias": alias,
                        "version_id": version_id,
                        "updated_at": now_ms(),
                    }
                ],
                keys=("model_id", "alias"),
                update=("version_id", "updated_at"),
            )
        return self.get_version_by_id(version_id)

    def delete_alias(self, project_id: int, name: str, alias: str) -> None:
        with self._db.write() as conn:
            model = _model_row(conn, project_id, name)
            n = conn.execute(
                sa.delete(_t.MA).where(_t.MA.c.model_id == model.id, _t.MA.c.alias == alias)
            ).rowcount
        if n == 0:
            raise NotFoundError(f"model {name!r} has no alias {alias!r}")

    # -- search ----------------------------------------------------------------------------
    def search_versions(
        self,
        project_id: int,
        filter_string: str | None = None,
        *,
        max_results: int = 1000,
    ) -> list[ModelVersion]:
        """Versions matching a filter such as ``task = 'classification' and metrics.auc > 0.9``."""
        if not 1 <= max_results <= 50_000:
            raise InvalidArgumentError(
                f"max_results must be between 1 and 50000, got {max_results}"
            )
        from keel.store._registry_search import condition

        query = _version_query().where(_t.RM.c.project_id == project_id)
        expr = parse_filter(filter_string, VERSION_ATTRIBUTES)
        if expr is not None:
            query = query.where(condition(expr))
        query = query.order_by(_t.RM.c.name, _t.MV.c.version.desc()).limit(max_results)
        with self._db.read() as conn:
            return _hydrate_versions(conn, conn.execute(query).all())


__all__ = [
    "VERSION_ATTRIBUTES",
    "ModelVersion",
    "NewVersion",
    "RegisteredModel",
    "RegistryRepository",
    "check_alias",
]
