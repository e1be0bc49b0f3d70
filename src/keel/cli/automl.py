"""``keel automl``: the best model for a target within a time budget, tracked and registered."""

from __future__ import annotations

from typing import Any

import typer

app = typer.Typer(add_completion=False)


@app.command()
def automl(
    data: str = typer.Option(..., "--data", "-d", help="Dataset reference: customers@3."),
    target: str = typer.Option(..., "--target", "-t", help="The column to predict."),
    metric: str = typer.Option(
        None,
        "--metric",
        "-m",
        help="roc_auc | accuracy | f1 | log_loss | r2 | rmse | mae (default by task).",
    ),
    budget: str = typer.Option("60s", "--budget", "-b", help="Time budget: 30s, 10m, 1h."),
    task: str = typer.Option(None, "--task", help="binary | multiclass | regression (detected)."),
    seed: int = typer.Option(0, "--seed", help="Random seed of splits and search."),
    family: list[str] = typer.Option(
        [],
        "--family",
        help="Model family to search (repeatable): linear, hist_gb, random_forest, "
        "extra_trees, lightgbm, xgboost. Default: all installed.",
    ),
    name: str = typer.Option(None, "--name", help="Registered model name (default TARGET-automl)."),
    experiment: str = typer.Option("automl", "--experiment", "-e", help="Experiment of the runs."),
    allow_untrusted: bool = typer.Option(
        False,
        "--allow-untrusted",
        help="Let LightGBM/XGBoost into the packaged ensemble (loading then needs trusted_types).",
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Search model families within BUDGET; every candidate is a child run of one parent run.

    The winner (a weighted ensemble of the best candidates, preprocessing included) is scored
    on a held-out test split, packaged, signed and registered with a model card.
    """
    from keel.cli import _context
    from keel.cli._render import console, escape, print_json, print_table
    from keel.tuning import automl as run_automl

    with _Leaderboard(budget) as board:
        result = run_automl(
            data,
            target,
            metric=metric,
            budget=budget,
            task=task,
            seed=seed,
            families=family or None,
            register_as=name,
            experiment=experiment,
            allow_untrusted=allow_untrusted,
            on_candidate=board.update,
            client=_context.client(),
        )
    if json_:
        print_json(result.to_dict())
        return
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
    """A live table of the best candidates so far on stderr (only when it is a terminal)."""

    def __init__(self, budget: str) -> None:
        self.budget = budget
        self.live: Any = None

    def __enter__(self) -> _Leaderboard:
        import sys

        if sys.stderr.isatty():
            from rich.live import Live

            from keel.cli._render import err_console

            self.live = Live(console=err_console(), transient=True, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def update(self, rows: list[Any], elapsed: float) -> None:
        if self.live is None:
            return
        from rich.table import Table

        table = Table(
            title=f"automl: {len(rows)} candidates, {elapsed:.0f} s of {self.budget}",
            header_style="bold cyan",
        )
        for col in ("rank", "family", "cv score", "fit s"):
            table.add_column(col)
        for r in rows[:8]:
            table.add_row(str(r.rank), r.family, f"{r.cv_score:.4f}", f"{r.fit_seconds:.2f}")
        self.live.update(table)
