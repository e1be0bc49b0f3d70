"""``keel automl``: the best model for a target within a time budget, tracked and registered."""

from __future__ import annotations

import time
from typing import Any

import typer

from keel.cli._options import JSON

app = typer.Typer(add_completion=False)
_METRICS = "roc_auc | accuracy | f1 | log_loss | r2 | rmse | mae (default by task)."
_FAMILIES = (
    "Model family (repeatable): linear, hist_gb, random_forest, extra_trees, lightgbm, xgboost."
)


@app.command()
def automl(
    data: str = typer.Option(..., "--data", "-d", help="Dataset reference: customers@3."),
    target: str = typer.Option(..., "--target", "-t", help="The column to predict."),
    metric: str = typer.Option(None, "--metric", "-m", help=_METRICS),
    budget: str = typer.Option("60s", "--budget", "-b", help="Time budget: 30s, 10m, 1h."),
    task: str = typer.Option(None, "--task", help="binary | multiclass | regression (detected)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of splits and search."),
    family: list[str] = typer.Option([], "--family", help=_FAMILIES + " Default: all installed."),
    name: str = typer.Option(None, "--name", help="Registered model name (default TARGET-automl)."),
    experiment: str = typer.Option("automl", "--experiment", "-e", help="Experiment of the runs."),
    runner: str = typer.Option("inprocess", "--runner", "-r", help="inprocess | dask."),
    address: str = typer.Option(None, "--address", help="Dask scheduler address (tcp://...)."),
    json_: bool = JSON,
) -> None:
    """Search model families within BUDGET; every candidate is a child run of one parent run.

    The winner (a weighted ensemble of the best candidates, preprocessing included) is scored
    on a held-out test split, packaged, signed and registered with a model card.
    """
    from keel.cli import _context
    from keel.cli._render import print_json
    from keel.tuning import automl as run_automl
    from keel.tuning import parse_budget

    with _Leaderboard(parse_budget(budget)) as board:
        result = run_automl(
            data, target, metric=metric, budget=budget, task=task, seed=seed,
            families=family or None, register_as=name, experiment=experiment, runner=runner,
            address=address, on_candidate=board.update, client=_context.client(),
        )  # fmt: skip
    if json_:
        print_json(result.to_dict())
    else:
        _render(result)


def _render(result: Any) -> None:
    from keel.cli._render import console, escape, print_table

    print_table(
        f"Leaderboard ({result.metric}, cross-validated)",
        ["rank", "family", result.metric, "fit s", "weight", "run"],
        [
            [r.rank, r.family, r.cv_score, r.fit_seconds, r.in_ensemble or "", (r.run_id or "")[:8]]
            for r in result.leaderboard[:15]
        ],
    )
    for note in result.notes:
        console().print(f"[yellow]note:[/yellow] {escape(note)}")
    console().print(
        f"{result.task} on [bold]{escape(result.data)}[/bold]: {len(result.leaderboard)} "
        f"candidates in {result.elapsed_s:.1f} s of {result.budget_s:g} s; ensemble "
        f"{escape(', '.join(f'{k}x{w}' for k, w in result.ensemble.items()))}; "
        f"cv {result.metric}={result.cv_score:.4f}, test {result.metric}={result.test_score:.4f}"
    )
    if result.registered:
        console().print(
            f"Registered [bold green]{escape(result.registered)}[/bold green] "
            f"(parent run {result.parent_run_id[:8]}); try: keel models show {result.registered}"
        )


class _Leaderboard:
    """On stderr (a terminal only): a bar of the budget spent, ticking, over a live table of
    the best candidates so far."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.start = time.monotonic()
        self.rows: list[Any] = []
        self.live: Any = None

    def __enter__(self) -> _Leaderboard:
        import sys

        if sys.stderr.isatty():
            from rich.live import Live

            from keel.cli._render import err_console

            self.live = Live(self, console=err_console(), transient=True, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def update(self, rows: list[Any], elapsed: float) -> None:
        self.rows = list(rows)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        spent = min(time.monotonic() - self.start, self.budget_s)
        table = Table(
            title=f"automl: {len(self.rows)} candidates, {spent:.0f} s of {self.budget_s:g} s",
            header_style="bold cyan",
        )
        for col in ("rank", "family", "cv score", "fit s"):
            table.add_column(col)
        for r in self.rows[:8]:
            table.add_row(str(r.rank), r.family, f"{r.cv_score:.4f}", f"{r.fit_seconds:.2f}")
        return Group(ProgressBar(total=self.budget_s, completed=spent, width=60), table)
