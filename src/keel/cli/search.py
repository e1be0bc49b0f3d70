"""``keel search``: full-text search over runs, comments, reports, models and datasets."""

import re

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, escape, fmt_time, print_json

_MATCH = re.compile(r"\*\*(.+?)\*\*")

app = typer.Typer(help="Search runs, notes, comments, reports, models and datasets.")


@app.command()
def search(
    query: str = typer.Argument(..., help="Words to find; operators and quotes are plain text."),
    kind: list[str] = typer.Option(
        [], "--kind", "-k", help="run, comment, report, model or dataset (repeatable)."
    ),
    author: str = typer.Option(None, "--author", help="Only objects by this user."),
    limit: int = typer.Option(20, "--limit", "-n", help="At most this many hits."),
    semantic: bool = typer.Option(
        False,
        "--semantic",
        "-s",
        help="Also find what is close in meaning (pip install 'keel[semantic]').",
    ),
    reindex: bool = typer.Option(
        False, "--reindex", help="Rebuild the project's index first (rarely needed)."
    ),
    json_: bool = JSON,
) -> None:
    """Ranked hits with snippets, e.g. keel search "churn model calibration" --kind run."""
    from keel.reports import search as run_search

    hits = run_search(
        query,
        kinds=kind,
        author=author,
        limit=limit,
        client=_context.reader(),
        reindex=reindex,
        semantic=semantic,
    )
    if json_:
        print_json(hits)
        return
    if not hits:
        console().print(f"[dim]nothing matches {escape(query)!r}[/dim]")
        return
    for hit in hits:
        snippet = _MATCH.sub(
            r"[bold yellow]\1[/bold yellow]", escape(hit.snippet.replace("\n", " "))
        )
        console().print(
            f"[bold cyan]{hit.kind}[/bold cyan] [bold]{escape(hit.title)}[/bold] "
            f"[dim]{escape(hit.ref)} · {escape(hit.author or '-')} · "
            f"{fmt_time(hit.updated_at)}[/dim]\n    {snippet}"
        )
