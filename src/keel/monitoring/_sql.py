"""``keel sql``: DuckDB over the prediction log, feedback, monitoring results, alerts and
registry metadata, as named tables of the current project.

Event data is read in place (Parquet views); metadata tables are copied from the metadata
database when a query names them, filtered to the project. Queries are read-only: one
SELECT (or EXPLAIN) statement, with file access limited to the log folders, so a query can
neither read other files nor write anywhere.
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

from keel.exceptions import InvalidArgumentError
from keel.monitoring._feedback import FEEDBACK
from keel.monitoring._results import RESULTS
from keel.store import Store
from keel.store.eventlog import EventLog, arrow_table, sql_list
from keel.store.metadata_tables import table_names as metadata_table_names
from keel.store.predlog import PREDICTIONS

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: Parquet event logs: table name -> folder under the artifact root.
EVENT_TABLES = {"predictions": PREDICTIONS, "feedback": FEEDBACK, "monitoring": RESULTS}
_ALLOWED = {"SELECT", "EXPLAIN"}
#: DuckDB's hint when it names its own catalog (``Did you mean "duckdb_tables"?``): no use
#: to someone querying keel's tables, which are not in the catalog unless the query names them
_INTERNAL_HINT = re.compile(
    r'\s*Did you mean "(?:\w+\.)?(?:duckdb_|pg_|sqlite_|information_schema)[^"]*"\?'
)
_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist")


def table_names() -> list[str]:
    return sorted([*EVENT_TABLES, *metadata_table_names()])


def run_sql(store: Store, project_id: int, query: str) -> pa.Table:
    """Run one read-only query; tables it names are made available first."""
    import duckdb

    con = duckdb.connect()
    try:
        _check(con, query)
        names = _referenced(query)
        roots = []
        for name in names:
            if name in EVENT_TABLES:
                roots.append(_event_view(con, store, name))
            else:
                con.register(name, store.metadata_tables.read(project_id, name))
        _lock(con, [r for r in roots if r])
        try:
            return arrow_table(con.sql(query))
        except duckdb.Error as exc:
            raise InvalidArgumentError(
                f"query failed: {_one_line(exc)} Tables: {', '.join(table_names())}"
            ) from exc
    finally:
        con.close()


def _check(con: duckdb.DuckDBPyConnection, query: str) -> None:
    import duckdb

    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise InvalidArgumentError(f"query does not parse: {_one_line(exc)}") from exc
    if len(statements) != 1:
        raise InvalidArgumentError(f"give exactly one SQL statement, not {len(statements)}")
    kind = str(statements[0].type).rsplit(".", 1)[-1]
    if kind not in _ALLOWED:
        raise InvalidArgumentError(
            f"keel sql only reads: {kind} statements are not allowed; use SELECT"
        )


def _one_line(exc: Exception) -> str:
    """DuckDB's message on one line, without its excerpt of the query and the caret, and
    with a hint that names one of keel's tables rather than DuckDB's catalog."""
    text = str(exc).split("\n\nLINE ", 1)[0]
    text = " ".join(line.strip() for line in text.splitlines() if line.strip())
    text = _INTERNAL_HINT.sub("", text)
    missing = _MISSING_TABLE.search(text)
    if missing and "Did you mean" not in text:
        close = difflib.get_close_matches(missing.group(1).lower(), table_names(), n=1)
        text += f' Did you mean "{close[0]}"?' if close else ""
    return text if text.endswith((".", "!", "?")) else text + "."


def _referenced(query: str) -> list[str]:
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", query)}
    return [n for n in table_names() if n in words]


def _event_view(con: duckdb.DuckDBPyConnection, store: Store, name: str) -> str | None:
    log = EventLog(store.settings.artifacts_uri, EVENT_TABLES[name])
    files: list[str] = []
    for deployment in log.deployments():
        files.extend(log.files(deployment))
    if not files:
        con.register(name, _empty_event(name))
        return None
    con.execute(
        f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet({sql_list(files)}, '
        "hive_partitioning = true, union_by_name = true)"
    )
    return log.base if log.protocol in ("file", "local") else None


def _empty_event(name: str) -> pa.Table:
    import pyarrow as pa

    ts = pa.timestamp("ms", tz="UTC")
    columns = {
        "predictions": {
            "request_id": pa.string(),
            "row": pa.int32(),
            "ts": ts,
            "model": pa.string(),
            "version": pa.string(),
            "latency_ms": pa.float64(),
            "deployment": pa.string(),
        },
        "feedback": {
            "request_id": pa.string(),
            "row": pa.int32(),
            "label": pa.string(),
            "value": pa.float64(),
            "ts": ts,
            "deployment": pa.string(),
        },
        "monitoring": {
            "window_start": ts,
            "window_end": ts,
            "kind": pa.string(),
            "name": pa.string(),
            "value": pa.float64(),
            "deployment": pa.string(),
        },
    }[name]
    return pa.table({k: pa.array([], t) for k, t in columns.items()})


def _lock(con: duckdb.DuckDBPyConnection, roots: list[str]) -> None:
    """No file access beyond the log folders, and no way to change that back."""
    if roots:
        quoted = ", ".join("'" + r.replace("'", "''").rstrip("/") + "/'" for r in roots)
        con.execute(f"SET allowed_directories = [{quoted}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
