"""Reading one model version by number, alias or as the latest, in driver-level SQL.

``keel models show churn@champion`` (and every ``models:/`` reference) resolves through
these: building SQLAlchemy's Core statements would import it and the schema first, which
took most of the command's time. Same answers and the same not-found messages as the Core
paths of :class:`keel.store.registry.RegistryRepository` that they replace.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from keel.exceptions import NotFoundError
from keel.store._db import Database
from keel.store._registry_rows import _missing_model, _version
from keel.store.entities import ModelVersion

_MODEL = "SELECT id FROM registered_models WHERE project_id = ? AND name = ?"
_VERSION = (
    "SELECT v.*, m.name AS name FROM model_versions v "
    "JOIN registered_models m ON m.id = v.model_id WHERE "
)
_EXTRAS = (
    ("metrics", "SELECT version_id, key, value FROM model_version_metrics"),
    ("tags", "SELECT version_id, key, value FROM model_version_tags"),
    ("datasets", "SELECT version_id, dataset, dataset_version FROM model_version_datasets"),
    ("aliases", "SELECT version_id, alias, NULL FROM model_aliases"),
)


def read_version(
    db: Database, project_id: int, name: str, *, version: int | None, alias: str | None
) -> ModelVersion:
    """Version ``version`` of model ``name``, else the one ``alias`` points at, else the
    latest; :class:`NotFoundError` saying what exists when there is none."""
    with db.cursor(write=False) as cur:
        cur.execute(db.sql(_MODEL), (project_id, name))
        model = cur.fetchone()
        if model is None:
            raise NotFoundError(_missing_model(name))
        where, args = _where(cur, db.sql, int(model[0]), name, version, alias)
        cur.execute(db.sql(_VERSION + where), args)
        row = cur.fetchone()
        if row is None:
            raise NotFoundError(_no_version(cur, db.sql, int(model[0]), name, version))
        data = dict(zip([d[0] for d in cur.description], row, strict=True))
        record: Any = SimpleNamespace(**data, _mapping=data)  # what _version reads of a Row
        return _version(record, **_extras(cur, db.sql, data["id"]))


def _where(
    cur: Any, sql: Callable[[str], str], model_id: int, name: str, version: int | None,
    alias: str | None,
) -> tuple[str, tuple[Any, ...]]:  # fmt: skip
    if version is not None:
        return "v.model_id = ? AND v.version = ?", (model_id, int(version))
    if alias is None:
        return "v.model_id = ? ORDER BY v.version DESC LIMIT 1", (model_id,)
    cur.execute(
        sql("SELECT version_id FROM model_aliases WHERE model_id = ? AND alias = ?"),
        (model_id, alias),
    )
    found = cur.fetchone()
    if found is None:
        raise NotFoundError(
            f"model {name!r} has no alias {alias!r}; set it with "
            f"`keel models promote {name}@<version> {alias}`"
        )
    return "v.id = ?", (int(found[0]),)


def _no_version(
    cur: Any, sql: Callable[[str], str], model_id: int, name: str, version: int | None
) -> str:
    if version is None:
        return f"model {name!r} has no versions yet"
    cur.execute(
        sql("SELECT version FROM model_versions WHERE model_id = ? ORDER BY version"),
        (model_id,),
    )
    nums = [int(r[0]) for r in cur.fetchall()]
    known = "" if not nums else f"version {nums[0]}"
    if len(nums) > 1:
        known = f"versions {nums[0]}-{nums[-1]}"
    return f"model {name!r} has no version {version}; it has {known or 'no versions yet'}"


def _extras(cur: Any, sql: Callable[[str], str], version_id: int) -> dict[str, Any]:
    """The version's metrics, tags, datasets (``name@version``) and aliases, sorted as the
    Core path sorts them."""
    found: dict[str, list[tuple[Any, Any]]] = {}
    for what, query in _EXTRAS:
        cur.execute(sql(query + " WHERE version_id = ?"), (version_id,))
        found[what] = [(a, b) for _, a, b in cur.fetchall()]
    return {
        "metrics": dict(found["metrics"]),
        "tags": dict(found["tags"]),
        "datasets": sorted(f"{d}@{v}" for d, v in found["datasets"]),
        "aliases": sorted(a for a, _ in found["aliases"]),
    }


__all__ = ["read_version"]
