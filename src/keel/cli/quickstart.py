"""``keel quickstart``: run the tour and say what to try next."""

import typer

app = typer.Typer(add_completion=False)


@app.command()
def quickstart(
    fast: bool = typer.Option(False, "--fast", help="Smaller models (used by the tests)."),
) -> None:
    """Run the end-to-end tour on scikit-learn's breast-cancer data, in ./.keel (or KEEL_HOME)."""
    from keel.cli import _context
    from keel.cli._render import console, escape, print_table
    from keel.quickstart import NEXT_STEPS, TourContext, run_tour
    from keel.tracking import init

    settings = _context.settings()
    client = init(settings=settings)
    out = console()
    out.print(f"[bold]keel quickstart[/bold] - data in [cyan]{escape(str(settings.home))}[/cyan]")
    ctx = TourContext(
        settings=settings,
        client=client,
        say=out.print,
        table=lambda title, cols, rows: print_table(title, cols, rows),
        fast=fast,
    )
    run_tour(ctx)
    out.print("\n[bold green]Done.[/bold green] Try next:")
    for line in NEXT_STEPS:
        out.print(f"  [cyan]{escape(line)}[/cyan]")
