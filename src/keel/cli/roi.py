"""``keel roi``: is ML worth it? Baselines vs AutoML in money per month, with a recommendation."""

from __future__ import annotations

from pathlib import Path

import typer

from keel.cli._options import JSON, check_out_path

app = typer.Typer(add_completion=False)


@app.command()
def roi(
    data: str = typer.Option(..., "--data", "-d", help="Dataset reference: customers@3."),
    target: str = typer.Option(..., "--target", "-t", help="The class column to predict."),
    value_per_correct: float = typer.Option(..., "--value-per-correct", help="Worth of a hit."),
    cost_per_error: float = typer.Option(..., "--cost-per-error", help="Cost of one error."),
    predictions_per_month: float = typer.Option(
        ..., "--predictions-per-month", help="How many predictions a month the model would make."
    ),
    budget: str = typer.Option("30s", "--budget", "-b", help="AutoML time budget: 30s, 5m."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the split, search and bootstrap."),
    out: Path = typer.Option(
        None, "--out", "-o", help="Write the report: a .md or a self-contained .html file."
    ),
    json_: bool = JSON,
) -> None:
    """Compare the majority class, the best one-feature rule, a linear model and AutoML.

    Prints each option's expected value per month with a 95% bootstrap interval, the
    learning curve, and a recommendation (ml, rule, collect more data) with its reasons.
    """
    from keel.cli import _context
    from keel.cli._render import console, escape, print_json
    from keel.tuning import report_format
    from keel.tuning import roi as estimate

    if out is not None:
        report_format(out)  # a wrong suffix or folder fails before the search, not after it
        check_out_path(out, parents=True)
    report = estimate(
        data, target, value_per_correct=value_per_correct, cost_per_error=cost_per_error,
        predictions_per_month=predictions_per_month, budget=budget, seed=seed,
        client=_context.client(),
    )  # fmt: skip
    if out is not None:
        report.write(out)
    if json_:
        print_json(report.to_dict())
        return
    console().print(escape(report.to_markdown()))
    if out is not None:
        console().print(f"Report written to {escape(str(out))}")
