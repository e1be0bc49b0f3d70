"""``keel gc``: delete blobs nothing references."""

import typer

from keel.cli import _context
from keel.cli._render import console, print_json

app = typer.Typer(add_completion=False)


@app.command()
def gc(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only report what would go."),
    grace_hours: float = typer.Option(
        1.0, "--grace-hours", help="Keep unreferenced blobs younger than this (writes in flight)."
    ),
    json_: bool = typer.Option(False, "--json"),
) -> None:
    """Delete blobs that no run, dataset or model references any more."""
    from keel.store import collect_garbage

    store = _context.store()
    report = collect_garbage(store.db, store.blobs, grace_s=grace_hours * 3600, dry_run=dry_run)
    if json_:
        print_json(report)
        return
    verb = "Would delete" if dry_run else "Deleted"
    console().print(
        f"Scanned {report.scanned} blobs, {report.referenced} referenced. {verb} "
        f"{len(report.deleted)} ({report.freed_bytes / 2**20:.1f} MiB); removed "
        f"{report.partial_removed} partial writes."
    )
