"""``keel predictions``: SQL over the prediction log (DuckDB)."""

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
    max_rows: int = typer.Option(50, "--max-rows", "-n", min=1, help="Rows to print."),
    json_: bool = typer.Option(False, "--json", help="Print rows as JSON."),
) -> None:
    """Run SQL over the prediction log: the same read-only console as ``keel sql``."""
    from keel.cli.sql import run_query

    fmt = "json" if json_ else "table"
    if output is not None:
        fmt = "parquet" if output.suffix.lower() == ".parquet" else "csv"
        if output.suffix.lower() not in (".parquet", ".csv"):
            from keel.exceptions import InvalidArgumentError

            raise InvalidArgumentError(f"output {output} must end in .parquet or .csv")
    run_query(query, fmt, output, max_rows)
