"""``keel predict``: batch prediction of a file, folder, database query or dataset."""

from __future__ import annotations

from pathlib import Path

import typer

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
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    trust: str = typer.Option(
        "strict", "--trust", help="Signature policy: strict (default) | warn | off."
    ),
) -> None:
    """Score every row in chunks at constant memory; records lineage as a tracking run."""
    from keel.cli import _context
    from keel.cli._render import callback_progress, console, escape, print_json, progress
    from keel.exceptions import InvalidArgumentError
    from keel.serving._batch import open_input, predict_batch, predict_dask, record_run
    from keel.serving._deploy import load_model

    store, project = _context.store(), _context.settings().project
    loaded = load_model(store, project, model, trust=trust)
    if runner == "dask":
        rows = predict_dask(
            lambda: load_model(store, project, model, trust=trust),
            input_,
            str(output),
            keep_columns=keep,
            scheduler=scheduler,
        )
        console().print(
            f"Scored {rows:,} rows with {loaded.key} on Dask into {escape(str(output))}"
        )
        return
    if runner != "local":
        raise InvalidArgumentError(f"runner {runner!r} is unknown; use local or dask")
    source = open_input(input_, query=query, store=store, project=project)
    with progress(source.total_rows, f"predict {loaded.key}") as prog:
        result = predict_batch(
            loaded,
            source,
            output,
            chunk_rows=chunk_rows,
            keep_columns=keep,
            progress=callback_progress(prog),
        )
    run_id = record_run(store, project, result, source, model)
    if json_:
        print_json(
            {
                "rows": result.rows,
                "seconds": result.seconds,
                "output": result.output,
                "run_id": run_id,
                "lineage": result.lineage,
            }
        )
        return
    console().print(
        f"Scored {result.rows:,} rows with [bold]{loaded.key}[/bold] in {result.seconds:.1f} s "
        f"({result.rows_per_s:,.0f} rows/s) into {escape(result.output)}; lineage in run "
        f"{run_id[:8]}"
    )
