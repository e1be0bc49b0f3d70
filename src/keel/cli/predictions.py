"""``keel predictions``: SQL over the prediction log (DuckDB)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Query the prediction log with SQL.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Query the prediction log with SQL (DuckDB)."""


@app.command("sql")
def sql(
    query: str = typer.Argument(
        ..., help='e.g. "SELECT model, version, count(*) FROM predictions GROUP BY ALL"'
    ),
    output: Path = typer.Option(None, "--output", "-o", help="Write .parquet or .csv instead."),
    max_rows: int = typer.Option(50, "--max-rows", "-n", help="Rows to print."),
    json_: bool = typer.Option(False, "--json", help="Print rows as JSON."),
) -> None:
    """Run SQL over tables predictions, deployments and model_versions."""
    from keel.cli import _context
    from keel.cli._render import console, escape, print_json, print_table
    from keel.serving._query import query as run_query
    from keel.serving._query import write_result

    table = run_query(_context.store(), _context.settings().project, query)
    if output is not None:
        path = write_result(table, output)
        console().print(f"Wrote {table.num_rows:,} rows to {escape(str(path))}")
        return
    rows = table.slice(0, max_rows).to_pylist()
    if json_:
        print_json(rows)
        return
    print_table(
        f"{table.num_rows:,} rows",
        table.column_names,
        [[_cell(r[c]) for c in table.column_names] for r in rows],
        empty="no rows",
    )
    if table.num_rows > max_rows:
        console().print(
            f"[dim]showing {max_rows} of {table.num_rows:,}; use --max-rows or -o[/dim]"
        )


def _cell(value: object) -> object:
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, default=str)[:120]
    return value
