"""``keel schedule``: run pipelines on a cron expression or when a trigger fires."""

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, fmt_time, print_json, print_table

app = typer.Typer(help="Run pipelines on a cron schedule or a trigger.", no_args_is_help=True)


@app.command()
def add(
    name: str = typer.Argument(..., help="A name for the schedule."),
    pipeline: str = typer.Option(..., "--pipeline", help="path/to/file.py:pipeline"),
    cron: str = typer.Option(None, "--cron", help="e.g. '0 3 * * *' (UTC)."),
    on: str = typer.Option(
        None,
        "--on",
        help="Trigger: dataset:NAME, model-alias:MODEL@ALIAS or alert:DEPLOYMENT[/KIND].",
    ),
    param: list[str] = typer.Option([], "--param", "-p", help="NAME=VALUE (repeatable)."),
    runner: str = typer.Option(None, "--runner", "-r", help="inprocess, processes or dask."),
    address: str = typer.Option(None, "--address", help="Dask scheduler address."),
    workers: int = typer.Option(None, "--workers", "-w", help="Parallel processes."),
    catch_up: str = typer.Option("latest", "--catch-up", help="latest, all or none."),
) -> None:
    """Add a schedule; `keel scheduler` fires it."""
    from keel.pipelines import add_schedule, next_cron, parse_assignments

    runner_spec = {
        k: v for k, v in {"runner": runner, "address": address, "workers": workers}.items() if v
    }
    schedule = add_schedule(
        _context.store(),
        _context.settings().project,
        name,
        target=pipeline,
        cron=cron,
        on=on,
        params=parse_assignments(param),
        runner=runner_spec,
        catch_up=catch_up,
    )
    when = (
        f"next at {fmt_time(next_cron(schedule))} (local time)"
        if schedule.cron
        else f"when {schedule.trigger_kind} {schedule.trigger_ref} changes"
    )
    console().print(
        f"Added schedule [bold]{name}[/bold]: {when}. Start `keel scheduler` to fire it."
    )


@app.command("list")
def list_(json_: bool = JSON) -> None:
    """List this project's schedules and when each fires next."""
    from keel.pipelines import next_cron

    client = _context.reader()
    found = client.store.schedules.list(client.project.id)
    if json_:
        print_json(found)
        return
    rows = []
    for s in found:
        trigger = s.cron or f"on {s.trigger_kind}:{s.trigger_ref}"
        nxt = fmt_time(next_cron(s)) if s.cron and s.enabled else "-"
        rows.append([s.name, s.target, trigger, s.catch_up, "yes" if s.enabled else "no", nxt])
    print_table(
        "schedules",
        ["name", "pipeline", "when", "catch-up", "enabled", "next"],
        rows,
        empty="no schedules: keel schedule add NAME --pipeline file.py:fn --cron '0 3 * * *'",
    )


@app.command()
def remove(name: str) -> None:
    """Delete a schedule and its history."""
    client = _context.reader()
    client.store.schedules.remove(client.project.id, name)
    console().print(f"Removed schedule {name}.")


@app.command()
def enable(name: str) -> None:
    client = _context.reader()
    client.store.schedules.set_enabled(client.project.id, name, True)
    console().print(f"Enabled {name}.")


@app.command()
def disable(name: str) -> None:
    client = _context.reader()
    client.store.schedules.set_enabled(client.project.id, name, False)
    console().print(f"Disabled {name}.")


@app.command()
def fires(
    name: str, limit: int = typer.Option(20, "--limit", "-n", min=1), json_: bool = JSON
) -> None:
    """The occurrences a schedule fired, newest first, and how each went."""
    client = _context.reader()
    schedule = client.store.schedules.get(client.project.id, name)
    found = client.store.schedules.fires(schedule.id, limit=limit)
    if json_:
        print_json(found)
        return
    rows = [
        [
            f.occurrence,
            f.status,
            fmt_time(f.claimed_at),
            f.claimed_by,
            (f.pipeline_run_id or "-")[:8],
            f.error[:80],
        ]
        for f in found
    ]
    print_table(
        f"fires of {name}",
        ["occurrence", "status", "claimed", "by", "run", "error"],
        rows,
        empty="not fired yet",
    )


@app.command()
def status(json_: bool = JSON) -> None:
    """Schedulers alive (heartbeat in the last minute)."""
    found = _context.store().schedules.schedulers()
    if json_:
        print_json(found)
        return
    rows = [[s.id, s.host, s.pid, fmt_time(s.started_at), fmt_time(s.heartbeat_at)] for s in found]
    print_table(
        "schedulers",
        ["id", "host", "pid", "started", "heartbeat"],
        rows,
        empty="no scheduler is running",
    )
