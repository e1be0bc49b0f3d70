"""``keel db``: upgrade or inspect the metadata database."""

import typer

from keel.cli import _context
from keel.cli._render import console, print_json

app = typer.Typer(help="Upgrade or inspect the metadata database.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Apply pending migrations (the embedded store also does this on first use)."""
    from keel.store import Database, current_revisions
    from keel.store import upgrade as do_upgrade

    db = Database.from_settings(_context.settings())
    current_revisions(db)  # an unreachable database fails here, in one line
    revs = do_upgrade(db)
    console().print(f"Database {db.safe_uri} is at revision(s) {', '.join(sorted(revs))}")


@app.command()
def status(json_: bool = typer.Option(False, "--json")) -> None:
    """Show the database URL, its revision and what keel expects."""
    from keel.store import HEAD_REVISIONS, Database, current_revisions

    db = Database.from_settings(_context.settings())
    current = current_revisions(db)
    info = {
        "database": db.safe_uri,
        "artifacts": _context.settings().artifacts_uri,
        "current": sorted(current),
        "expected": sorted(HEAD_REVISIONS),
        "up_to_date": current == HEAD_REVISIONS,
    }
    if json_:
        print_json(info)
        return
    for k, v in info.items():
        console().print(f"[bold]{k}[/bold]: {v}")
