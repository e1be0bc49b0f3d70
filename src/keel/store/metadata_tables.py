"""Project-scoped copies of metadata tables, for ``keel sql`` (DuckDB over Arrow).

:meth:`MetadataTableRepository.read` returns one table of :data:`META_TABLES` filtered to a
project (``model_versions`` carries its model's name, so the prediction log joins on
``(name, version)``). SQL only: the console runs where the database is. Thread-safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keel.store._db import SqlRepository

if TYPE_CHECKING:
    import pyarrow as pa

#: Metadata tables: name -> (column that scopes it, the table that column points into;
#: None means the column is the project id).
META_TABLES: dict[str, tuple[str, str | None]] = {
    "alerts": ("project_id", None),
    "monitors": ("project_id", None),
    "reference_profiles": ("project_id", None),
    "experiments": ("project_id", None),
    "runs": ("experiment_id", "experiments"),
    "params": ("run_id", "runs"),
    "tags": ("run_id", "runs"),
    "metrics": ("run_id", "runs"),
    "latest_metrics": ("run_id", "runs"),
    "datasets": ("project_id", None),
    "dataset_versions": ("dataset_id", "datasets"),
    "registered_models": ("project_id", None),
    "model_versions": ("model_id", "registered_models"),
    "model_aliases": ("model_id", "registered_models"),
    "deployments": ("project_id", None),
    "pipeline_runs": ("project_id", None),
}


def table_names() -> list[str]:
    """The metadata tables this database has (a feature area may be absent)."""
    from keel.store._tables import Base

    return sorted(n for n in META_TABLES if n in Base.metadata.tables)


class MetadataTableRepository(SqlRepository):
    """One project's rows of a metadata table, as Arrow."""

    def read(self, project_id: int, name: str) -> pa.Table:
        from sqlalchemy import select

        from keel.store._tables import Base

        t = Base.metadata.tables[name]
        query = select(t)
        extra: list[str] = []
        if name == "model_versions":  # the model's name, so the log joins on (name, version)
            models = Base.metadata.tables["registered_models"]
            query = select(t, models.c.name.label("name")).join(models, models.c.id == t.c.model_id)
            extra.append("name")
        with self._db.read() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query.where(_scope(name, project_id)))]
        return _to_arrow(t, rows, extra)


def _scope(name: str, project_id: int) -> Any:
    from sqlalchemy import select

    from keel.store._tables import Base

    t = Base.metadata.tables[name]
    column, parent = META_TABLES[name]
    if parent is None:
        return t.c[column] == project_id
    p = Base.metadata.tables[parent]
    return t.c[column].in_(select(p.c.id).where(_scope(parent, project_id)))


def _to_arrow(t: Any, rows: list[dict[str, Any]], extra: list[str]) -> pa.Table:
    import pyarrow as pa
    from sqlalchemy import BigInteger, Boolean, Float, Integer

    fields = []
    for col in t.columns:
        kind = col.type
        arrow = (
            pa.int64()
            if isinstance(kind, (Integer, BigInteger))
            else pa.float64()
            if isinstance(kind, Float)
            else pa.bool_()
            if isinstance(kind, Boolean)
            else pa.string()
        )
        fields.append(pa.field(col.name, arrow))
    fields.extend(pa.field(name, pa.string()) for name in extra)
    schema = pa.schema(fields)
    data = {
        f.name: [
            r[f.name] if f.type != pa.string() or r[f.name] is None else str(r[f.name])
            for r in rows
        ]
        for f in schema
    }
    return pa.table({f.name: pa.array(data[f.name], f.type) for f in schema})


__all__ = ["META_TABLES", "MetadataTableRepository", "table_names"]
