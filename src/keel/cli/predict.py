"""``keel predict``: batch prediction of a file, folder, database query or dataset."""

from pathlib import Path

import typer

from keel.cli._options import JSON, TRUST

app = typer.Typer(add_completion=False)


@app.command()
def predict(
    model: str = typer.Argument(..., help="Model reference: churn@champion, churn/3 ..."),
    input_: str = typer.Option(
        ..., "--input", "-i", help="data.parquet | data.csv | folder | sql URL | dataset:NAME@V"
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Predictions (Parquet)."),
    query: str = typer.Option(None, "--query", "-q", help="SQL for a database --input."),
    keep: list[str] = typer.Option([], "--keep", "-k", help="Input column to copy (repeatable)."),
    chunk_rows: int = typer.Option(65_536, "--chunk-rows", help="Rows per chunk."),
    runner: str = typer.Option("local", "--runner", help="local | dask (large Parquet inputs)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address."),
    json_: bool = JSON,
    trust: str = TRUST,
) -> None:
    """Score every row in chunks at constant memory; records lineage as a tracking run."""
    from keel.cli import _context
    from keel.cli._render import callback_progress, console, escape, print_json, progress
    from keel.serving import prepare_batch

    store, project = _context.store(), _context.settings().project
    job = prepare_batch(
        store, project, model, input_, query=query, runner=runner, trust=_context.trust(trust)
    )
    with progress(job.total_rows, f"predict {job.model.key}") as prog:
        result = job.run(
            output,
            chunk_rows=chunk_rows,
            keep_columns=keep,
            scheduler=scheduler,
            progress=callback_progress(prog),
        )
    if json_:
        print_json(
            {
                "rows": result.rows,
                "seconds": result.seconds,
                "output": result.output,
                "run_id": result.run_id,
                "lineage": result.lineage,
            }
        )
        return
    where = " on Dask" if runner == "dask" else ""
    console().print(
        f"Scored {result.rows:,} rows with [bold]{job.model.key}[/bold]{where} in "
        f"{result.seconds:.1f} s ({result.rows_per_s:,.0f} rows/s) into {escape(result.output)}; "
        f"lineage in run {(result.run_id or '')[:8]}"
    )
