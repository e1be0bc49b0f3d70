"""``keel scheduler``: the long-running process that fires schedules and triggers."""

import typer

app = typer.Typer(add_completion=False)


@app.command()
def scheduler(
    interval: float = typer.Option(5.0, "--interval", min=0.1, help="Seconds between checks."),
    max_parallel: int = typer.Option(2, "--max-parallel", min=1, help="Pipeline runs at once."),
    once: bool = typer.Option(False, "--once", help="Check once, wait for the runs, exit."),
) -> None:
    """Fire due schedules and triggers of every project. Run several for redundancy:
    each occurrence fires once."""
    from keel.cli import _context
    from keel.cli._render import console, escape
    from keel.pipelines import Scheduler

    out = console()
    sched = Scheduler(
        _context.settings(),
        interval=interval,
        max_parallel=max_parallel,
        on_event=lambda msg: out.print(escape(msg)),
    )
    if not once:
        out.print(
            f"[bold]keel scheduler[/bold] {sched.id}: checking every {interval:g}s (Ctrl-C stops)"
        )
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # leave the roster cleanly
    try:
        sched.run(once=once)
    except KeyboardInterrupt:
        sched.stop()
