"""The quickstart tour: every capability of keel, in order, on a real dataset.

Each area adds its steps to :data:`STEPS`; a step reads what earlier steps left in
``ctx.results`` and prints what it did and what to try next.
"""

from __future__ import annotations

from keel.quickstart._context import Step, TourContext
from keel.quickstart._core import compare_runs, train_models, version_data

STEPS: list[Step] = [
    Step("Version the training data", version_data),
    Step("Train candidate models as tracked runs", train_models),
    Step("Search and compare the runs", compare_runs),
]

NEXT_STEPS = [
    "keel runs list --experiment quickstart-breast-cancer",
    'keel runs search "metrics.auc > 0.95" --order-by "metrics.auc DESC"',
    "keel runs compare <run-id> <run-id>",
    "keel datasets show breast-cancer",
]


def run_tour(ctx: TourContext) -> None:
    for i, step in enumerate(STEPS, 1):
        ctx.say(f"\n[bold cyan]Step {i}/{len(STEPS)}: {step.title}[/bold cyan]")
        step.run(ctx)
