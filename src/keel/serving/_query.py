"""SQL over the prediction log with DuckDB (MN_4, MN_5).

Tables a query can use:

- ``predictions``: every logged row (see :mod:`keel.serving._predlog` for the columns),
  with ``deployment`` and ``date`` from the partition folders;
- ``deployments``: every revision's traffic (deployment, revision, endpoint, model_ref,
  model_name, weight, shadow) from the metadata store;
- ``model_versions``: the registry's versions (name, version, flavor, task, run_id,
  created_at, aliases, metrics as JSON) when the registry is available.

The result is an Arrow table; :func:`write_result` saves it as Parquet or CSV.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError
from keel.serving._predlog import log_root

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from keel.store import Store

EMPTY_PREDICTIONS = (
    "SELECT NULL::VARCHAR AS request_id, NULL::INTEGER AS row, NULL::TIMESTAMPTZ AS ts, "
    "NULL::VARCHAR AS endpoint, NULL::VARCHAR AS model, NULL::VARCHAR AS version, "
    "NULL::BOOLEAN AS shadow, NULL::DOUBLE AS latency_ms, NULL::VARCHAR AS deployment, "
    "NULL::DATE AS date WHERE false"
)


def connect(store: Store, project: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the ``predictions``, ``deployments`` and ``model_versions``
    views over this installation's prediction log and metadata."""
    import duckdb

    con = duckdb.connect()
    root = log_root(store.settings.artifacts_uri)
    pattern = _register_fs(con, root)
    if _has_files(root):
        con.execute(
            "CREATE VIEW predictions AS SELECT * FROM read_parquet("
            f"{_quote(pattern)}, hive_partitioning = true, union_by_name = true)"
        )
    else:
        con.execute(f"CREATE VIEW predictions AS {EMPTY_PREDICTIONS}")
    _metadata_tables(con, store, project)
    return con


def query(store: Store, project: str, sql: str) -> pa.Table:
    """Run ``sql`` over the prediction log; errors name the problem DuckDB found."""
    import duckdb

    if not sql.strip():
        raise InvalidArgumentError(
            'the SQL query is empty; try "SELECT * FROM predictions LIMIT 10"'
        )
    con = connect(store, project)
    try:
        result = con.sql(sql)
        if result is None:  # a statement without rows (SET, CREATE ...)
            import pyarrow as pa

            return pa.table({})
        fetch = getattr(result, "to_arrow_table", None) or result.arrow
        return fetch()
    except duckdb.Error as exc:
        raise InvalidArgumentError(
            f"the query failed: {exc}. Tables: predictions, deployments, model_versions"
        ) from None
    finally:
        con.close()


def write_result(table: pa.Table, path: str | Path) -> Path:
    """Save a result as Parquet (``.parquet``) or CSV (``.csv``), by the file's suffix."""
    out = Path(path)
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        flat = table.flatten() if any(_nested(f.type) for f in table.schema) else table
        pacsv.write_csv(flat, out)
    else:
        raise InvalidArgumentError(f"output {out} must end in .parquet or .csv")
    return out


def _nested(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_struct(t))


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _has_files(root: str) -> bool:
    import fsspec

    fs, base = fsspec.core.url_to_fs(root)
    try:
        return bool(fs.glob(f"{base}/deployment=*/date=*/*.parquet"))
    except FileNotFoundError:
        return False


def _register_fs(con: duckdb.DuckDBPyConnection, root: str) -> str:
    """The glob DuckDB reads; remote roots go through the same fsspec filesystem keel uses."""
    import fsspec

    fs, base = fsspec.core.url_to_fs(root)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if protocol in ("file", "local"):
        return f"{base}/*/*/*.parquet"
    con.register_filesystem(fs)
    return f"{protocol}://{base}/*/*/*.parquet"


def _metadata_tables(con: duckdb.DuckDBPyConnection, store: Store, project: str) -> None:
    import pyarrow as pa

    project_id = store.projects.get_or_create(project).id
    rows = store.deployments.all_targets(project_id)
    con.register(
        "_deployments",
        pa.table(
            {
                "deployment": pa.array([d for d, _r, _t in rows], pa.string()),
                "revision": pa.array([r for _d, r, _t in rows], pa.int32()),
                "endpoint": pa.array([t.endpoint for *_x, t in rows], pa.string()),
                "model_ref": pa.array([t.model_ref for *_x, t in rows], pa.string()),
                "model_name": pa.array([t.model_name for *_x, t in rows], pa.string()),
                "weight": pa.array([t.weight for *_x, t in rows], pa.float64()),
                "shadow": pa.array([t.shadow for *_x, t in rows], pa.bool_()),
            }
        ),
    )
    con.execute("CREATE VIEW deployments AS SELECT * FROM _deployments")
    con.register("_model_versions", _model_versions(store, project_id))
    con.execute("CREATE VIEW model_versions AS SELECT * FROM _model_versions")


def _model_versions(store: Store, project_id: int) -> pa.Table:
    import pyarrow as pa

    registry = getattr(store, "registry", None)
    versions: list[Any] = []
    if registry is not None:
        for model in registry.list_models(project_id):
            versions.extend(registry.versions(project_id, model.name))
    return pa.table(
        {
            "name": pa.array([v.name for v in versions], pa.string()),
            "version": pa.array([str(v.version) for v in versions], pa.string()),
            "flavor": pa.array([v.flavor for v in versions], pa.string()),
            "serve_flavor": pa.array([v.serve_flavor for v in versions], pa.string()),
            "task": pa.array([v.task for v in versions], pa.string()),
            "run_id": pa.array([v.run_id for v in versions], pa.string()),
            "created_at": pa.array([v.created_at for v in versions], pa.int64()).cast(
                pa.timestamp("ms", tz="UTC")
            ),
            "aliases": pa.array([list(v.aliases) for v in versions], pa.list_(pa.string())),
            "metrics": pa.array([json.dumps(v.metrics) for v in versions], pa.string()),
        }
    )


__all__ = ["connect", "query", "write_result"]
