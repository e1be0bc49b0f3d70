"""The model registry's SQL: its tables, lookups with clear errors, and the hydration of
rows into :class:`~keel.store.entities.RegisteredModel` / ``ModelVersion`` (used by
:class:`keel.store.registry.RegistryRepository`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from keel.exceptions import ConflictError, InvalidArgumentError
from keel.store._db import Database, first_or_missing, now_ms
from keel.store._lazy import Tables
from keel.store._rows import entity
from keel.store._upsert import upsert
from keel.store._validate import MAX_TAG_VALUE, check_key, check_name, check_value

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy import Connection, Row
else:
    from keel.store._lazy import sa
from keel.store.entities import ModelVersion, RegisteredModel

# Core tables, built (and SQLAlchemy imported) on first use: listing models needs neither.
_R = "keel.store._schema_registry:"
_t = Tables(
    RM=_R + "RegisteredModelRow",
    RMT=_R + "RegisteredModelTagRow",
    MV=_R + "ModelVersionRow",
    MVM=_R + "ModelVersionMetricRow",
    MVT=_R + "ModelVersionTagRow",
    MVD=_R + "ModelVersionDatasetRow",
    MA=_R + "ModelAliasRow",
    RUNS="keel.store._schema:RunRow",
    D="keel.store._schema_deployments:DeploymentRow",
    DT="keel.store._schema_deployments:DeploymentTargetRow",
)


def _check_model_name(name: str) -> str:
    name = check_name("registered model", name)
    if not re.match(r"^[A-Za-z0-9](?:[\w.\- ]*[\w.\-])?$", name):
        raise InvalidArgumentError(
            f"model name {name!r} must start with a letter or digit and hold only letters, "
            "digits, inner spaces, '.', '_' or '-' (it appears in URIs like models:/NAME@alias)"
        )
    return name


def _missing_model(name: str) -> str:
    """The not-found message of model ``name`` (Core lookups here, driver-level ones in
    :mod:`keel.store._registry_resolve`)."""
    return f"registered model {name!r} does not exist; see `keel models list` for the names"


def _model_row(conn: Connection, project_id: int, name: str) -> Row:
    query = sa.select(_t.RM).where(_t.RM.c.project_id == project_id, _t.RM.c.name == name)
    return first_or_missing(conn, query, _missing_model(name))


def _refuse_if_deployed(conn: Connection, project_id: int, name: str, verb: str) -> None:
    """A model that an active deployment's current revision routes traffic to keeps its name
    (the deployment resolves it by name at every reload)."""
    using = list(
        conn.execute(
            sa.select(_t.D.c.name)
            .join(
                _t.DT, (_t.DT.c.deployment_id == _t.D.c.id) & (_t.DT.c.revision == _t.D.c.revision)
            )
            .where(
                _t.D.c.project_id == project_id,
                _t.D.c.status == "active",
                _t.DT.c.model_name == name,
            )
            .distinct()
            .order_by(_t.D.c.name)
        ).scalars()
    )
    if using:
        raise ConflictError(
            f"registered model {name!r} is served by deployment {', '.join(map(repr, using))}; "
            f"point the deployment at another model (`keel deploy apply`) or delete it before "
            f"you {verb} the model"
        )


def _semver_taken(db: Database, model_id: int, semver: str) -> bool:
    with db.read() as conn:
        return (
            conn.execute(
                sa.select(_t.MV.c.id).where(_t.MV.c.model_id == model_id, _t.MV.c.semver == semver)
            ).first()
            is not None
        )


def _set_tags(
    conn: Connection, tbl: Any, owner: str, owner_id: int, tags: Mapping[str, Any]
) -> None:
    rows = [
        {
            owner: owner_id,
            "key": check_key("tag", k),
            "value": check_value("tag", k, str(v), MAX_TAG_VALUE),
        }
        for k, v in tags.items()
    ]
    upsert(conn, tbl, rows, keys=(owner, "key"), update=("value",))


def _touch(conn: Connection, owner: str, owner_id: int) -> None:
    """Mark a model (``owner="model_id"``) or a version (``"version_id"``) as changed now,
    for search; after its tags or description changed."""
    tbl = _t.RM if owner == "model_id" else _t.MV
    conn.execute(sa.update(tbl).where(tbl.c.id == owner_id).values(updated_at=now_ms()))


def _delete_tag(conn: Connection, owner: str, owner_id: int, key: str) -> bool:
    """Delete one tag of a model or a version (see :func:`_touch`); whether it had it."""
    tbl = _t.RMT if owner == "model_id" else _t.MVT
    gone = conn.execute(sa.delete(tbl).where(tbl.c[owner] == owner_id, tbl.c.key == key))
    if gone.rowcount:
        _touch(conn, owner, owner_id)
    return bool(gone.rowcount)


def _hydrate_model(conn: Connection, row: Row) -> RegisteredModel:
    tags: dict[str, str] = dict(
        conn.execute(
            sa.select(_t.RMT.c.key, _t.RMT.c.value).where(_t.RMT.c.model_id == row.id)
        ).all()
    )
    aliases = {
        a: int(v)
        for a, v in conn.execute(
            sa.select(_t.MA.c.alias, _t.MV.c.version)
            .join(_t.MV, _t.MV.c.id == _t.MA.c.version_id)
            .where(_t.MA.c.model_id == row.id)
        ).all()
    }
    latest = conn.execute(
        sa.select(sa.func.max(_t.MV.c.version)).where(_t.MV.c.model_id == row.id)
    ).scalar()
    return RegisteredModel(
        row.id,
        row.project_id,
        row.name,
        row.description,
        row.created_at,
        row.updated_at,
        tags,
        aliases,
        None if latest is None else int(latest),
    )


def _version_query() -> Any:
    return sa.select(_t.MV, _t.RM.c.name).join(_t.RM, _t.RM.c.id == _t.MV.c.model_id)


def _hydrate_versions(conn: Connection, rows: Sequence[Row]) -> list[ModelVersion]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    metrics: dict[int, dict[str, float]] = {i: {} for i in ids}
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    datasets: dict[int, list[str]] = {i: [] for i in ids}
    aliases: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for vid, k, v in conn.execute(
            sa.select(_t.MVM.c.version_id, _t.MVM.c.key, _t.MVM.c.value).where(
                _t.MVM.c.version_id.in_(chunk)
            )
        ):
            metrics[vid][k] = v
        for vid, k, v in conn.execute(
            sa.select(_t.MVT.c.version_id, _t.MVT.c.key, _t.MVT.c.value).where(
                _t.MVT.c.version_id.in_(chunk)
            )
        ):
            tags[vid][k] = v
        for vid, d, dv in conn.execute(
            sa.select(_t.MVD.c.version_id, _t.MVD.c.dataset, _t.MVD.c.dataset_version).where(
                _t.MVD.c.version_id.in_(chunk)
            )
        ):
            datasets[vid].append(f"{d}@{dv}")
        for vid, a in conn.execute(
            sa.select(_t.MA.c.version_id, _t.MA.c.alias).where(_t.MA.c.version_id.in_(chunk))
        ):
            aliases[vid].append(a)
    return [
        _version(r, metrics[r.id], tags[r.id], sorted(datasets[r.id]), sorted(aliases[r.id]))
        for r in rows
    ]


def _version(
    row: Row,
    metrics: dict[str, float],
    tags: dict[str, str],
    datasets: list[str],
    aliases: list[str],
) -> ModelVersion:
    return entity(
        ModelVersion,
        row,
        frameworks=json.loads(row.frameworks_json),
        signature=json.loads(row.signature_json),
        lineage=json.loads(row.lineage_json),
        card=json.loads(row.card_json),
        metrics=metrics,
        tags=tags,
        datasets=datasets,
        aliases=aliases,
    )


def _list_extras(
    cur: Any, sql: Callable[[str], str], ids: list[int]
) -> tuple[dict[int, dict[str, str]], dict[int, dict[str, int]], dict[int, int]]:
    """Tags, aliases (alias -> version number) and latest version number of each model,
    500 ids a query (driver-level SQL for ``RegistryRepository.list_models``)."""
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    aliases: dict[int, dict[str, int]] = {i: {} for i in ids}
    latest: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        cur.execute(
            sql(
                "SELECT model_id, key, value FROM registered_model_tags "
                f"WHERE model_id IN ({marks})"
            ),
            chunk,
        )
        for model_id, key, value in cur.fetchall():
            tags[model_id][key] = value
        cur.execute(
            sql(
                "SELECT a.model_id, a.alias, v.version FROM model_aliases a JOIN "
                f"model_versions v ON v.id = a.version_id WHERE a.model_id IN ({marks})"
            ),
            chunk,
        )
        for model_id, alias, version in cur.fetchall():
            aliases[model_id][alias] = int(version)
        cur.execute(
            sql(
                "SELECT model_id, MAX(version) FROM model_versions "
                f"WHERE model_id IN ({marks}) GROUP BY model_id"
            ),
            chunk,
        )
        latest.update((model_id, int(top)) for model_id, top in cur.fetchall())
    return tags, aliases, latest
