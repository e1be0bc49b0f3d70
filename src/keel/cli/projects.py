"""``keel projects``: the projects of the store (the ones the caller can see on a server)."""

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import fmt_time, listing

app = typer.Typer(help="List the projects of the store.", no_args_is_help=True)


@app.callback()
def projects() -> None:
    """List the projects of the store."""


@app.command("list")
def list_(json_: bool = JSON) -> None:
    """List the projects; `-P NAME` (or KEEL_PROJECT) picks the one commands work in."""
    current = _context.settings().project
    listing(
        _context.store().projects.list(),
        json_,
        "Projects",
        ["id", "name", "created", "description"],
        lambda p: [p.id, _marked(p.name, current), fmt_time(p.created_at), p.description],
        empty="no projects yet: the first run, dataset or model makes one",
    )


def _marked(name: str, current: str) -> str:
    return f"{name} (current)" if name == current else name
