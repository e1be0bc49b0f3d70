"""The quickstart tour: every capability of keel, in order, on a real dataset.

Each area adds its steps to :data:`STEPS`; a step reads what earlier steps left in
``ctx.results`` and prints what it did and what to try next.
"""

from __future__ import annotations

from keel.quickstart._context import Step, TourContext
from keel.quickstart._core import compare_runs, train_models, version_data
from keel.quickstart._data import explore_data
from keel.quickstart._labeling import label_production_samples
from keel.quickstart._models import promote_champion, register_best
from keel.quickstart._monitoring import monitor_deployment, retrain_on_alert
from keel.quickstart._pipelines import run_pipeline
from keel.quickstart._reports import review_candidates
from keel.quickstart._roi import estimate_roi
from keel.quickstart._serving import serve_champion
from keel.quickstart._team import share_with_the_team
from keel.quickstart._tuning import tune_model

STEPS: list[Step] = [
    Step("Version the training data", version_data),
    Step("Explore it: distributions, correlations, alerts", explore_data),
    Step("Train candidate models as tracked runs", train_models),
    Step("Search and compare the runs", compare_runs),
    Step("Tune it: a short hyper-parameter sweep on Optuna", tune_model),
    Step("Package, sign and register the best model", register_best),
    Step("Promote it to champion and load it back verified", promote_champion),
    Step("Train as a cached pipeline: prepare, train, evaluate", run_pipeline),
    Step("Serve the champion over HTTP and query its prediction log", serve_champion),
    Step("Monitor it: drifted traffic, late labels, alerts and a report", monitor_deployment),
    Step("Retrain on the alert: its trigger fires the pipeline", retrain_on_alert),
    Step("Share it with a team: keel server and the same SDK over HTTP", share_with_the_team),
    Step(
        "Label production samples: three annotators, agreement, labels back",
        label_production_samples,
    ),
    Step("Is ML worth it? Baselines vs AutoML in money per month", estimate_roi),
    Step("Review the candidates: a merge-request report, stored, searched", review_candidates),
]

NEXT_STEPS = [
    "keel runs list --experiment quickstart-breast-cancer",
    'keel runs search "metrics.auc > 0.95" --order-by "metrics.auc DESC"',
    "keel runs compare <run-id> <run-id>",
    "keel sweep show quickstart-logreg",
    "keel datasets show breast-cancer",
    "keel datasets explore breast-cancer@1 --target target --out explore.html",
    "keel synth fit breast-cancer@1",
    "keel pipeline runs",
    "keel models show breast-cancer-classifier@champion",
    "keel models list --task classification --min-metric auc=0.9",
    "keel models history breast-cancer-classifier --chart history.png",
    "keel serve breast-cancer-classifier@champion --port 8080",
    'keel predictions sql "SELECT model, version, count(*) FROM predictions GROUP BY ALL"',
    "keel alerts list",
    "keel schedule list",
    "keel label status quickstart-review",
    "keel monitor run quickstart --window 1h",
    "keel monitor report quickstart --window 1h --every 15m --out reports/",
    "keel sql \"SELECT name, value FROM monitoring WHERE kind = 'drift' ORDER BY value DESC\"",
    "keel ui    # the web UI on http://127.0.0.1:5000",
    "keel server & KEEL_SERVER_URL=http://127.0.0.1:5000 keel models list    # team mode",
    "keel report compare --base experiment:quickstart-breast-cancer "
    "--head breast-cancer-classifier@champion --md report.md",
    'keel search "quickstart candidate"',
    "keel automl --data breast-cancer@1 --target target --metric roc_auc --budget 10s",
]


def run_tour(ctx: TourContext) -> None:
    for i, step in enumerate(STEPS, 1):
        ctx.say(f"\n[bold cyan]Step {i}/{len(STEPS)}: {step.title}[/bold cyan]")
        step.run(ctx)
