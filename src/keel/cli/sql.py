"""``keel sql``: ad hoc DuckDB SQL over predictions, feedback, alerts and registry metadata."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from keel.cli import _context
from keel.cli._render import console, print_json, print_table

if TYPE_CHECKING:
    import pyarrow as pa

app = typer.Typer(add_completion=False)


@app.command()
def sql(
    query: str = typer.Argument(None, help="One SELECT statement ('-' reads it from stdin)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv, json or parquet."),
    out: Path = typer.Option(None, "--out", "-o", help="Write to this file (needed for parquet)."),
    max_rows: int = typer.Option(100, "--max-rows", min=1, help="Rows shown in a table."),
    tables: bool = typer.Option(False, "--tables", help="List the tables you can query."),
) -> None:
    """Query prediction logs, feedback, monitoring results, alerts and metadata with DuckDB.

    Example: keel sql "SELECT version, count(*) FROM predictions GROUP BY version"
    """
    from keel.exceptions import InvalidArgumentError
    from keel.monitoring import sql_tables

    if tables:
        for name in sql_tables():
            console().print(name)
        return
    if not query:
        raise InvalidArgumentError('give a query, e.g. keel sql "SELECT count(*) FROM predictions"')
    if query == "-":
        query = sys.stdin.read()
    run_query(query, fmt, out, max_rows)


def run_query(query: str, fmt: str, out: Path | None, max_rows: int) -> None:
    """One read-only query of the current project, rendered (``keel predictions sql`` too)."""
    from keel.exceptions import InvalidArgumentError
    from keel.monitoring import run_sql

    if fmt not in ("table", "csv", "json", "parquet"):
        raise InvalidArgumentError(f"--format {fmt!r}: use table, csv, json or parquet")
    result = run_sql(_context.store(), _context.project().id, query)
    _write(result, fmt, out, max_rows)


def _write(result: "pa.Table", fmt: str, out: Path | None, max_rows: int) -> None:
    """The result as a Rich table, or CSV / JSON / Parquet to stdout or ``out``."""
    from keel.exceptions import InvalidArgumentError

    if fmt == "parquet":
        if out is None:
            raise InvalidArgumentError("--format parquet needs --out FILE")
        import pyarrow.parquet as pq

        pq.write_table(result, out)
        console().print(f"Wrote {result.num_rows:,} rows to {out}")
    elif fmt == "csv":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        while any(pa.types.is_struct(f.type) for f in result.schema):
            result = result.flatten()  # inputs.a, outputs.predictions: CSV has no structs

        if out is None:
            import io

            buffer = io.BytesIO()
            pacsv.write_csv(result, buffer)
            sys.stdout.write(buffer.getvalue().decode())
        else:
            pacsv.write_csv(result, out)
            console().print(f"Wrote {result.num_rows:,} rows to {out}")
    elif fmt == "json":
        if out is None:
            print_json(result.to_pylist())
        else:
            import json

            out.write_text(json.dumps(result.to_pylist(), default=str))
    else:
        shown = result.slice(0, max_rows).to_pylist()
        title = f"{result.num_rows} rows" + (
            f" (first {max_rows})" if result.num_rows > max_rows else ""
        )
        print_table(title, result.column_names, [list(r.values()) for r in shown], empty="no rows")
