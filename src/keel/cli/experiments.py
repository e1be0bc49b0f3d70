"""``keel experiments``: list, create, rename, delete and restore experiments."""

import typer

from keel.cli import _context
from keel.cli._options import JSON
from keel.cli._render import console, fmt_time, listing, outcome

app = typer.Typer(help="List, create, rename and delete experiments.", no_args_is_help=True)


@app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="Include deleted experiments."),
    json_: bool = JSON,
) -> None:
    """List the experiments of the project."""
    exps = _context.client().list_experiments(include_deleted=all_)
    listing(
        exps,
        json_,
        "Experiments",
        ["id", "name", "lifecycle", "created", "description"],
        lambda e: [e.id, e.name, e.lifecycle.value, fmt_time(e.created_at), e.description],
        empty="no experiments yet: start a run with keel.start_run(experiment=...)",
    )


@app.command()
def create(
    name: str,
    description: str = typer.Option("", "--description", "-d"),
    json_: bool = JSON,
) -> None:
    """Create an experiment."""
    exp = _context.client().create_experiment(name, description=description)
    outcome(exp, json_, f"Created experiment [bold]{exp.name}[/bold] (id {exp.id})")


@app.command()
def rename(experiment: str, new_name: str) -> None:
    """Rename an experiment (by name or id)."""
    client = _context.client()
    exp = client.experiment(experiment)
    client.store.experiments.rename(exp.id, new_name)
    console().print(f"Renamed experiment {exp.name!r} to [bold]{new_name}[/bold]")


@app.command()
def delete(experiment: str) -> None:
    """Mark an experiment deleted (restore brings it back)."""
    client = _context.client()
    exp = client.experiment(experiment)
    client.store.experiments.delete(exp.id)
    console().print(
        f"Deleted experiment {exp.name!r}; `keel experiments restore {exp.id}` undoes it"
    )


@app.command()
def restore(experiment: str) -> None:
    """Restore a deleted experiment."""
    client = _context.client()
    exp = client.experiment(experiment)
    client.store.experiments.restore(exp.id)
    console().print(f"Restored experiment {exp.name!r}")
