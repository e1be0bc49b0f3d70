"""Tour step for tuning: is ML worth it on this data? Baselines vs AutoML, in money."""

from __future__ import annotations

from keel.quickstart._context import TourContext


def estimate_roi(ctx: TourContext) -> None:
    """Price a majority guess, the best one-feature rule, a linear model and a quick AutoML."""
    from keel.tuning import roi

    report = roi(
        ctx.results["frame"],
        "target",
        value_per_correct=12,
        cost_per_error=40,
        predictions_per_month=50_000,
        budget=1,  # a quick search: the tour stays fast; `keel automl` takes minutes
        families=("linear",),
        client=ctx.client,
    )
    ctx.table(
        "Expected value per month (12 per correct, 40 per error, 50,000 predictions)",
        ["option", "how", "accuracy", "value/month", "95% CI"],
        [
            [o.name, o.description, round(o.accuracy, 3), f"{o.value_per_month:,.0f}",
             f"{o.ci_low:,.0f} .. {o.ci_high:,.0f}"]
            for o in report.options
        ],
    )  # fmt: skip
    ctx.say(f"Recommendation: [bold green]{report.recommendation}[/bold green]")
    for reason in report.reasons[-1:]:
        ctx.say(f"  {reason}")
