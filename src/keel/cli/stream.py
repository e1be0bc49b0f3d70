"""``keel stream``: score a Redis stream into another, through a consumer group."""

import typer

from keel.cli._options import TRUST

app = typer.Typer(add_completion=False)


@app.command()
def stream(
    model: str = typer.Argument(..., help="Model reference: churn@champion, churn/3 ..."),
    source: str = typer.Option(..., "--source", help="redis://host:6379/0?stream=events"),
    sink: str = typer.Option(..., "--sink", help="redis://host:6379/0?stream=scores"),
    consumer: str = typer.Option(None, "--consumer", help="Consumer name (default host-pid)."),
    batch_size: int = typer.Option(256, "--batch-size", help="Messages per read."),
    max_sink_len: int = typer.Option(
        None, "--max-sink-len", help="Pause while the sink is longer."
    ),
    max_messages: int = typer.Option(None, "--max-messages", help="Stop after this many."),
    idle_exit_s: float = typer.Option(None, "--idle-exit", help="Stop after N idle seconds."),
    log: bool = typer.Option(True, "--log/--no-log", help="Write the prediction log."),
    json_: bool = typer.Option(False, "--json", help="Print the final counts as JSON."),
    trust: str = TRUST,
) -> None:
    """Consume until Ctrl-C/SIGTERM; every message is acknowledged after its sink write."""
    from keel.cli import _context
    from keel.cli._render import err_console, outcome
    from keel.serving import run_stream

    stats = run_stream(
        _context.store(),
        _context.settings(),
        model,
        source,
        sink,
        consumer=consumer,
        trust=_context.trust(trust),
        batch_size=batch_size,
        max_sink_len=max_sink_len,
        max_messages=max_messages,
        idle_exit_s=idle_exit_s,
        log=log,
        on_start=lambda what: err_console().print(f"[bold]keel stream[/bold] {what}"),
    )
    summary = stats.summary()
    outcome(
        summary,
        json_,
        " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items()),
    )
