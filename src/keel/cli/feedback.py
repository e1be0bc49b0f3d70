"""``keel feedback``: ground-truth labels for earlier predictions, joined by request id."""

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, escape, print_json, print_table

if TYPE_CHECKING:
    from keel.monitoring import FeedbackResult

app = typer.Typer(
    help="Record ground-truth labels for predictions (by request id).", no_args_is_help=True
)

REPLACE = typer.Option(
    False, "--replace", help="Overwrite labels already given (default: skip them)."
)


@app.command()
def add(
    deployment: str = typer.Argument(...),
    request_id: str = typer.Argument(..., help="The request id the prediction was logged with."),
    label: str = typer.Argument(..., help="The true label (or value, for regression)."),
    row: int = typer.Option(0, "--row", help="Row within a multi-row request."),
    replace: bool = REPLACE,
    json_: bool = JSON,
) -> None:
    """Label one prediction."""
    from keel.monitoring import record_feedback

    result = record_feedback(
        _context.settings(),
        deployment,
        [{"request_id": request_id, "label": label, "row": row}],
        on_duplicate="replace" if replace else "skip",
        source="cli",
    )
    _show(result, json_)


@app.command("import")
def import_(
    deployment: str = typer.Argument(...),
    file: Path = typer.Argument(..., help="Parquet or CSV with request ids and labels."),
    id_column: str = typer.Option("request_id", "--id-column"),
    label_column: str = typer.Option("label", "--label-column"),
    replace: bool = REPLACE,
    no_check: bool = typer.Option(False, "--no-check", help="Accept request ids not in the log."),
    json_: bool = JSON,
) -> None:
    """Import many labels from a file."""
    from keel.monitoring import import_feedback

    result = import_feedback(
        _context.settings(),
        deployment,
        file,
        id_column=id_column,
        label_column=label_column,
        on_duplicate="replace" if replace else "skip",
        check_known=not no_check,
    )
    _show(result, json_)


def _show(result: "FeedbackResult", json_: bool) -> None:
    if json_:
        print_json(result)
    else:
        console().print(f"{result.stored} of {result.received} label(s) stored.")
        if result.repeated_in_batch:
            console().print(
                f"  {result.repeated_in_batch} repeated in the input: the last one was kept"
            )
        if result.already_labelled:
            verb = "replaced" if result.replaced else "skipped (use --replace to overwrite)"
            console().print(
                f"  {result.already_labelled} already labelled, {verb}: "
                f"{escape(', '.join(result.already_labelled_ids))}"
            )
        if result.unknown:
            console().print(
                f"  [yellow]{result.unknown} unknown request id(s), not stored:[/yellow] "
                f"{escape(', '.join(result.unknown_ids))}"
            )
    if result.unknown and result.stored == 0:
        raise typer.Exit(1)


@app.command("list")
def list_(
    deployment: str = typer.Argument(...),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="Newest labels shown."),
    json_: bool = JSON,
) -> None:
    """The newest labels of a deployment."""
    from keel.monitoring import read_feedback

    _context.project()  # a read: a misspelt -P is an error, not an empty list
    table = read_feedback(_context.settings(), deployment)
    rows = (
        table.sort_by([("ts", "descending")]).slice(0, limit).to_pylist() if table.num_rows else []
    )
    if json_:
        print_json({"total": table.num_rows, "labels": rows})
        return
    print_table(
        f"Feedback for {deployment} ({table.num_rows} labelled rows)",
        ["request_id", "row", "label", "received", "source"],
        [[r["request_id"], r["row"], r["label"], r["ts"], r["source"]] for r in rows],
        empty="no feedback yet",
    )
