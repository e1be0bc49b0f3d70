"""Tour steps for tracking and data: version the data, train, compare."""

from __future__ import annotations

from typing import Any

from keel.quickstart._context import TourContext

EXPERIMENT = "quickstart-breast-cancer"


def version_data(ctx: TourContext) -> None:
    """Register scikit-learn's breast-cancer data as a dataset version."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    from keel.data import DatasetClient

    raw = load_breast_cancer(as_frame=True)
    frame: pd.DataFrame = raw.frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    datasets = DatasetClient(ctx.client.store, ctx.client.project)
    version = datasets.log(
        "breast-cancer", frame, description="Wisconsin breast cancer (scikit-learn)"
    )
    ctx.results["dataset"] = version
    ctx.results["frame"] = frame
    ctx.say(
        f"Versioned dataset [bold]{version.ref}[/bold]: {version.num_rows} rows, "
        f"{len(version.schema)} columns, content hash {version.content_hash[:12]}"
    )


def _candidates(fast: bool) -> list[tuple[str, Any, dict[str, Any]]]:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n = 20 if fast else 200
    return [
        (
            "logistic-regression",
            make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500)),
            {"model": "logreg", "C": 1.0},
        ),
        (
            "random-forest",
            RandomForestClassifier(n_estimators=n, max_depth=6, random_state=0),
            {"model": "rf", "n_estimators": n, "max_depth": 6},
        ),
        (
            "gradient-boosting",
            GradientBoostingClassifier(n_estimators=n, learning_rate=0.1, random_state=0),
            {"model": "gbm", "n_estimators": n, "learning_rate": 0.1},
        ),
    ]


def train_models(ctx: TourContext) -> None:
    """Train three models as tracked runs, each linked to the dataset version it read."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    from keel.tracking import start_run

    frame = ctx.results["frame"]
    X = frame.drop(columns=["target"])
    y = frame["target"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    runs = []
    for name, model, params in _candidates(ctx.fast):
        with start_run(name, experiment=EXPERIMENT, tags={"quickstart": "true"}) as run:
            run.log_params(params)
            run.log_input(ctx.results["dataset"].id)
            model.fit(X_train, y_train)
            proba = model.predict_proba(X_test)[:, 1]
            pred = (proba >= 0.5).astype(int)
            metrics = {
                "auc": float(roc_auc_score(y_test, proba)),
                "accuracy": float(accuracy_score(y_test, pred)),
                "f1": float(f1_score(y_test, pred)),
            }
            run.log_metrics(metrics)
            run.set_note(f"Quickstart candidate **{name}** on `{ctx.results['dataset'].ref}`.")
            runs.append(run.id)
            ctx.results.setdefault("models", {})[run.id] = model
        ctx.say(f"Trained [bold]{name}[/bold]: auc={metrics['auc']:.4f} (run {run.id[:8]})")
    ctx.results["run_ids"] = runs
    ctx.results["X_test"], ctx.results["y_test"] = X_test, y_test
    ctx.results["X_train"], ctx.results["y_train"] = X_train, y_train


def compare_runs(ctx: TourContext) -> None:
    """Search the runs with the filter language and compare them side by side."""
    page = ctx.client.search_runs(
        "metrics.auc > 0.9 and tags.quickstart = 'true'",
        experiments=[EXPERIMENT],
        order_by=["metrics.auc DESC"],
    )
    rows = [
        [r.name, r.params.get("model"), r.metrics.get("auc"), r.metrics.get("f1"), r.id[:8]]
        for r in page.runs
    ]
    ctx.table("Runs with auc > 0.9, best first", ["run", "model", "auc", "f1", "id"], rows)
    best = page.runs[0]
    ctx.results["best_run"] = best
    ctx.say(f"Best candidate: [bold green]{best.name}[/bold green] (auc={best.metrics['auc']:.4f})")
