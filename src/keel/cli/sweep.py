"""``keel sweep``: run a hyper-parameter sweep, list sweeps, show one, promote its best model."""

from __future__ import annotations

from typing import Any

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, escape, fmt_time, fmt_value, listing, print_json, print_table

app = typer.Typer(
    help="Hyper-parameter sweeps on Optuna: run, list, show, promote the best.",
    no_args_is_help=True,
)


@app.command()
def run(
    target: str = typer.Argument(..., help="The objective: path/to/train.py:objective."),
    space: str = typer.Option(
        None, "--space", "-s", help="Search space YAML file (type: float|int|categorical ...)."
    ),
    trials: int = typer.Option(None, "--trials", "-n", help="Total trials of the sweep."),
    timeout: float = typer.Option(None, "--timeout", help="Stop this run after N seconds."),
    parallel: int = typer.Option(1, "--parallel", "-j", help="Trials at once."),
    runner: str = typer.Option(
        None, "--runner", "-r", help="Where trials run: threads here (default), processes, dask."
    ),
    address: str = typer.Option(None, "--address", help="Dask scheduler address."),
    direction: str = typer.Option("minimize", "--direction", "-d", help="minimize or maximize."),
    name: str = typer.Option(None, "--name", help="Sweep name (default: the function's)."),
    sampler: str = typer.Option("tpe", "--sampler", help="tpe, random, qmc, gp or nsga2."),
    pruner: str = typer.Option(
        None, "--pruner", help="median, percentile, hyperband or successive_halving."
    ),
    seed: int = typer.Option(None, "--seed", help="Seed the sampler (reproducible order)."),
    json_: bool = JSON,
) -> None:
    """Run (or resume) a sweep; each trial is a child run of the sweep's run.

    The objective gets a dict with one value per space entry and returns a number. Running
    the same sweep again (here or on another machine against one server) joins it; a change
    of code or space starts a new generation, warm-started from the best old configurations.
    """
    from keel.cli._render import callback_progress, progress
    from keel.tuning import run_sweep

    options = {"trials": trials, "timeout": timeout, "parallel": parallel, "runner": runner}
    options |= {"address": address, "direction": direction, "name": name, "sampler": sampler}
    with progress(trials, f"sweep {name or target.rpartition(':')[2]}") as prog:
        advance = callback_progress(prog)
        result = run_sweep(
            target, space, pruner=pruner, seed=seed, client=_context.client(),
            on_trial=lambda _t: advance(1), **options,
        )  # fmt: skip
    _print_result(result, json_)
    if result.status == "failed":
        from keel.exceptions import KeelError

        raise KeelError(f"sweep {result.sweep.name!r} failed: {result.reason}")


def _print_result(result: Any, json_: bool) -> None:
    if json_:
        fields = ("sweep", "status", "reason", "ran", "warm_started", "best", "best_params")
        print_json({f: getattr(result, f) for f in fields})
        return
    s = result.sweep
    counts = ", ".join(
        f"{n} {state.lower()}"
        for state in ("COMPLETE", "PRUNED", "FAIL")
        if (n := sum(1 for t in result.trials if t.state.value == state))
    )
    console().print(
        f"sweep [bold]{escape(s.name)}[/bold] generation {s.generation}: "
        f"ran {result.ran} trial(s) ({escape(counts or 'none finished')}); run {s.run_id}"
    )
    if result.warm_started:
        console().print(f"warm start: {result.warm_started} best old configuration(s) first")
    if result.best is not None:
        params = ", ".join(f"{k}={fmt_value(v)}" for k, v in result.best_params.items())
        value = result.best.values[0] if result.best.values else None
        console().print(f"best trial {result.best.number}: {fmt_value(value)}  {escape(params)}")


@app.command("list")
def list_(json_: bool = JSON) -> None:
    """Every sweep of the project (its newest generation), newest first."""
    from keel.tuning import list_sweeps

    found = list_sweeps(_context.reader())
    listing(
        found,
        json_,
        "Sweeps",
        ["name", "gen", "status", "direction", "complete", "pruned", "failed", "best", "started"],
        lambda s: [
            s.sweep.name,
            s.sweep.generation,
            s.sweep.status,
            ",".join(s.sweep.directions),
            s.counts["COMPLETE"],
            s.counts["PRUNED"],
            s.counts["FAIL"],
            s.best_value,
            fmt_time(s.sweep.created_at),
        ],
        empty="no sweeps yet; start one with `keel sweep run train.py:objective --space s.yaml`",
    )


@app.command()
def show(
    name: str = typer.Argument(..., help="The sweep's name."),
    generation: int = typer.Option(None, "--generation", "-g", help="An older generation."),
    top: int = typer.Option(5, "--top", help="How many best trials to list."),
    fanova: bool = typer.Option(
        False, "--fanova", help="fANOVA importances now, also while the sweep still runs."
    ),
    json_: bool = JSON,
) -> None:
    """Progress, the best trials and parameter importances of a sweep.

    Importances are fANOVA's, fitted by the first show of a finished sweep and kept on its run;
    while it runs they are main effects (milliseconds) unless --fanova asks for fANOVA.
    """
    from keel.tuning import describe_sweep

    rep = describe_sweep(
        name, generation=generation, top=top, client=_context.reader(),
        importance="fanova" if fanova else "auto",
    )  # fmt: skip
    if json_:
        print_json(rep)
        return
    s = rep.sweep
    finished = rep.counts["COMPLETE"] + rep.counts["PRUNED"] + rep.counts["FAIL"]
    of = f"/{rep.budget}" if rep.budget else ""
    out = console()
    out.print(
        f"sweep [bold]{escape(s.name)}[/bold] generation {s.generation} - {s.status}"
        f" - {','.join(s.directions)} {escape(str(s.spec.get('metric', 'objective')))}"
        f" - {finished}{of} trials finished ({rep.counts['COMPLETE']} complete, "
        f"{rep.counts['PRUNED']} pruned, {rep.counts['FAIL']} failed, "
        f"{rep.counts['RUNNING']} running)"
    )
    if s.reason:
        out.print(f"reason: {escape(s.reason)}")
    print_table(
        "Best trials",
        ["trial", "value", "params", "run"],
        [
            [t.number, t.values[0] if t.values else None, _params(p), t.run_id]
            for t, p in zip(rep.best, rep.best_params, strict=True)
        ],
        empty="no completed trial yet",
    )
    _print_importances(rep)
    if rep.convergence:
        out.print(f"best so far: {' > '.join(fmt_value(v) for v in _steps(rep.convergence))}")


_METHODS = {"fanova": "fANOVA", "main-effects": "main effects"}


def _print_importances(rep: Any) -> None:
    if rep.importances:
        print_table(
            f"Parameter importances ({_METHODS.get(rep.importance_method, 'fANOVA')})",
            ["param", "importance", ""],
            [[k, v, "#" * round(v * 30)] for k, v in rep.importances.items()],
        )
    if rep.importance_note:
        console().print(f"[dim]{escape(rep.importance_note)}[/dim]")


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={fmt_value(v)}" for k, v in params.items())


def _steps(values: list[float]) -> list[float]:
    """The distinct improvements, in order."""
    out: list[float] = []
    for v in values:
        if not out or v != out[-1]:
            out.append(v)
    return out[-8:]


@app.command()
def promote(
    name: str = typer.Argument(..., help="The sweep's name."),
    model_name: str = typer.Option(..., "--name", help="Registered model to add a version to."),
    artifact: str = typer.Option("model", "--artifact", help="Where the trial logged it."),
    json_: bool = JSON,
) -> None:
    """Register the model the sweep's best trial logged as the next version of --name."""
    from keel.tuning import promote_sweep

    trial, version = promote_sweep(name, model_name, artifact=artifact, client=_context.reader())
    if json_:
        print_json({"trial": trial, "version": version})
        return
    console().print(
        f"registered {escape(model_name)} version {version.version} from trial "
        f"{trial.number} of sweep {escape(name)} (run {trial.run_id})"
    )
