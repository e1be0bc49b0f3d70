"""Tour step for tuning: a short hyper-parameter sweep, each trial a child run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from keel.quickstart._context import TourContext

SWEEP = "quickstart-logreg"


def _objective(ctx: TourContext) -> Callable[[dict[str, Any]], float]:
    """The sweep's objective: the test AUC of a scaled logistic regression with the trial's
    ``C`` and class weighting."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, y_train = ctx.results["X_train"], ctx.results["y_train"]
    X_test, y_test = ctx.results["X_test"], ctx.results["y_test"]

    def objective(params: dict[str, Any]) -> float:
        model = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=params["C"], class_weight=params["class_weight"], max_iter=500),
        )
        model.fit(X_train, y_train)
        return float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))

    return objective


def tune_model(ctx: TourContext) -> None:
    """Sweep the logistic regression's C and class weighting with TPE; show what mattered."""
    from keel.tuning import describe_sweep, sweep

    objective = _objective(ctx)
    space = {
        "C": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
        "class_weight": {"type": "categorical", "choices": [None, "balanced"]},
    }
    result = sweep(
        objective,
        space,
        direction="maximize",
        name=SWEEP,
        trials=6 if ctx.fast else 12,
        seed=0,
        metric="auc",
        experiment="quickstart-sweeps",
        client=ctx.client,
    )
    report = describe_sweep(SWEEP, client=ctx.client)
    best = result.best
    assert best is not None and best.values
    ctx.table(
        f"Sweep {SWEEP}: best trials (each one is a child run)",
        ["trial", "auc", "C", "class_weight"],
        [
            [t.number, (t.values or [0.0])[0], p["C"], str(p["class_weight"])]
            for t, p in zip(report.best[:3], report.best_params[:3], strict=True)
        ],
    )
    mattered = ", ".join(f"{k} {v:.2f}" for k, v in report.importances.items())
    ctx.say(
        f"Ran {len(result.trials)} trials on Optuna (TPE) as runs of "
        f"[bold]{SWEEP}[/bold]: best auc={best.values[0]:.4f}"
        + (f"; importances: {mattered}" if mattered else "")
    )
