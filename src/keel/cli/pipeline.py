"""``keel pipeline``: run a pipeline, draw its DAG, list its runs and its cache."""

import time
from pathlib import Path
from typing import Any

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, escape, fmt_time, print_json, print_table

app = typer.Typer(help="Run pipelines, draw their DAG, list their runs.", no_args_is_help=True)

PARAM = typer.Option([], "--param", "-p", help="Override a parameter: -p lr=0.1 (repeatable).")
PARAMS_FILE = typer.Option(None, "--params", help="YAML file of parameter values.")
TARGET = typer.Argument(..., help="path/to/file.py:pipeline or package.module:pipeline")

_STYLE = {"cached": "dim", "ran": "green", "failed": "bold red", "skipped": "yellow"}


def _graph(target: str, param: list[str], params_file: Path | None) -> Any:
    from keel.pipelines import load_params_file, load_pipeline, parse_assignments, using_store

    pipe = load_pipeline(target)
    file_values = load_params_file(params_file) if params_file else None
    settings = _context.settings()
    with using_store(_context.store(), settings.project):
        return pipe, pipe.build(file_values=file_values, strings=parse_assignments(param))


@app.command()
def run(
    target: str = TARGET,
    param: list[str] = PARAM,
    params_file: Path = PARAMS_FILE,
    runner: str = typer.Option("inprocess", "--runner", "-r", help="inprocess, processes or dask."),
    workers: int = typer.Option(None, "--workers", "-w", help="Parallel processes (processes)."),
    address: str = typer.Option(None, "--address", help="Dask scheduler, e.g. tcp://host:8786."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every step (outputs are stored)."),
    keep_going: bool = typer.Option(
        False, "--keep-going", help="Finish other branches on failure."
    ),
    experiment: str = typer.Option(None, "--experiment", "-e", help="Default: the pipeline name."),
    json_: bool = JSON,
) -> None:
    """Run a pipeline: unchanged steps come from the cache, the rest run on the runner."""
    from keel.exceptions import StepFailedError
    from keel.pipelines import load_params_file, load_pipeline, parse_assignments

    pipe = load_pipeline(target)
    start = time.perf_counter()
    printer = _StepPrinter(quiet=json_)
    settings = _context.settings()
    try:
        result = pipe.run(
            file_values=load_params_file(params_file) if params_file else None,
            strings=parse_assignments(param),
            store=_context.store(),
            project=settings.project,
            runner=runner,
            workers=workers,
            address=address,
            cache=not no_cache,
            keep_going=keep_going,
            experiment=experiment,
            target=target,
            on_step=printer,
        )
    except StepFailedError as exc:
        printer.flush()
        if json_ and getattr(exc, "result", None) is not None:
            print_json(_result_json(exc.result))  # type: ignore[attr-defined]
        raise
    if json_:
        print_json(_result_json(result))
        return
    _summary(result, time.perf_counter() - start, printer)


class _StepPrinter:
    """Prints each step as it ends; cached steps are folded into one line."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.cached: list[str] = []

    def flush(self) -> None:
        if self.cached and not self.quiet:
            more = len(self.cached) - 6
            shown = ", ".join(self.cached[:6]) + (f" (+{more} more)" if more > 0 else "")
            console().print(f"  [dim] cached {escape(shown)}[/dim]")
        self.cached.clear()

    def __call__(self, *, node: str, status: Any, duration_s: float, reason: str, **_: Any) -> None:
        if self.quiet:
            return
        if status.value == "cached":
            self.cached.append(node)
            return
        self.flush()
        style = _STYLE.get(status.value, "")
        took = f" {duration_s:.2f}s" if status.value == "ran" else ""
        label = f"[{style}]{status.value:>7}[/{style}]"
        console().print(f"  {label} {escape(node)}{took}  [dim]{escape(reason)}[/dim]")


def _summary(result: Any, took: float, printer: _StepPrinter) -> None:
    out = console()
    n = len(result.steps)
    if result.all_cached:
        printer.cached.clear()
        out.print(
            f"[bold green]Every step came from the cache[/bold green] ({n} steps, {took:.2f}s)"
        )
    else:
        printer.flush()
        out.print(
            f"[bold green]Done[/bold green]: {len(result.ran)} ran, {len(result.cached)} cached "
            f"of {n} steps in {took:.2f}s"
        )
    out.print(
        f"[dim]run {result.run_id} - details: keel pipeline inspect {result.run_id[:8]}[/dim]"
    )


def _result_json(result: Any) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "pipeline": result.pipeline,
        "status": result.status,
        "steps": list(result.steps.values()),
    }


@app.command()
def show(
    target: str = TARGET,
    param: list[str] = PARAM,
    params_file: Path = PARAMS_FILE,
    format_: str = typer.Option("tree", "--format", "-f", help="tree, mermaid or dot."),
) -> None:
    """Draw the pipeline's DAG in the terminal, or print it as Mermaid or DOT."""
    from keel.exceptions import InvalidArgumentError
    from keel.pipelines import to_dot, to_mermaid, to_text

    _pipe, graph = _graph(target, param, params_file)
    if format_ == "mermaid":
        typer.echo(to_mermaid(graph), nl=False)
    elif format_ == "dot":
        typer.echo(to_dot(graph), nl=False)
    elif format_ == "tree":
        lines = to_text(graph)
        console().print(f"[bold]{escape(lines[0])}[/bold]")
        for line in lines[1:]:
            console().print(escape(line))
    else:
        raise InvalidArgumentError(f"--format must be tree, mermaid or dot, not {format_!r}")


@app.command()
def params(target: str = TARGET, json_: bool = JSON) -> None:
    """List a pipeline's parameters, their types and defaults."""
    from keel.pipelines import load_pipeline

    pipe = load_pipeline(target)
    rows = [
        [p.name, p.type_text, "(required)" if p.required else repr(p.default)]
        for p in pipe.params.values()
    ]
    if json_:
        print_json([dict(zip(["name", "type", "default"], r, strict=True)) for r in rows])
        return
    print_table(f"parameters of {pipe.name}", ["name", "type", "default"], rows, empty="none")


@app.command()
def runs(
    pipeline: str = typer.Option(None, "--pipeline", help="Only runs of this pipeline."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many runs."),
    json_: bool = JSON,
) -> None:
    """List pipeline runs, newest first, with how many steps came from the cache."""
    client = _context.reader()
    found = client.store.pipeline_runs.list(client.project.id, pipeline=pipeline, limit=limit)
    if json_:
        print_json(found)
        return
    rows = [
        [
            r.id[:8],
            r.pipeline,
            r.status,
            fmt_time(r.started_at)[5:16],
            _duration(r.started_at, r.ended_at),
            f"{r.n_cached}/{r.n_steps}",
            r.n_ran,
            r.n_failed,
            r.runner,
        ]
        for r in found
    ]
    print_table(
        "pipeline runs",
        ["id", "pipeline", "status", "started", "took", "cached", "ran", "failed", "runner"],
        rows,
        empty="no pipeline runs yet: keel pipeline run file.py:pipeline",
    )


def _duration(start: int, end: int | None) -> str:
    return "-" if end is None else f"{(end - start) / 1000:.2f}s"


@app.command()
def inspect(
    run_id: str = typer.Argument(..., help="Pipeline run id (a prefix works)."), json_: bool = JSON
) -> None:
    """Show each step of a run: cached or ran, how long, why, and its cache key."""
    client = _context.reader()
    info = client.store.pipeline_runs.get(run_id, project_id=client.project.id)
    steps = client.store.pipeline_runs.steps(info.id)
    if json_:
        print_json({"run": info, "steps": steps})
        return
    out = console()
    out.print(
        f"[bold]{escape(info.pipeline)}[/bold] run {info.id} - {info.status}, "
        f"{info.n_cached} cached, {info.n_ran} ran, {info.n_failed} failed ({info.runner})"
    )
    rows = [
        [
            s.node,
            s.status.value,
            f"{s.duration_ms / 1000:.2f}s",
            s.attempts,
            s.cache_key[:12],
            s.reason,
        ]
        for s in steps
    ]
    print_table(None, ["step", "status", "took", "tries", "cache key", "why"], rows)
    for s in steps:
        if s.error:
            out.print(f"\n[bold red]{escape(s.node)}[/bold red]\n{escape(s.error)}")


@app.command()
def cache(
    clear: bool = typer.Option(False, "--clear", help="Forget cached outputs."),
    step: str = typer.Option(None, "--step", help="Only this step (with --clear)."),
    json_: bool = JSON,
) -> None:
    """Show the step cache per step, or clear it (blobs go at the next `keel gc`)."""
    client = _context.reader()
    if clear:
        n = client.store.step_cache.clear(client.project.id, step=step)
        console().print(f"Forgot {n} cached output(s). Run `keel gc` to free the space.")
        return
    stats = client.store.step_cache.stats(client.project.id)
    if json_:
        print_json([{"step": s, "entries": n, "bytes": b} for s, n, b in stats])
        return
    print_table("step cache", ["step", "entries", "bytes"], stats, empty="the step cache is empty")
