"""Tour step for pipelines: prepare -> train -> evaluate as a cached DAG, run twice; the train
step registers its model. ``retrain`` is the same DAG over the newest dataset version, for the
schedule the monitoring step's drift alert fires."""

from __future__ import annotations

import time
from typing import Any

import keel
from keel.pipelines import dataset_version
from keel.quickstart._context import TourContext
from keel.quickstart._models import MODEL_NAME
from keel.store.entities import DatasetVersion


@keel.step
def prepare(
    frame: Any, source: DatasetVersion | None, test_size: float
) -> tuple[Any, Any, Any, Any]:
    """Split features and target; ``source`` puts the dataset version in the key and lineage."""
    from sklearn.model_selection import train_test_split

    X = frame.drop(columns=["target"])
    y = frame["target"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=0, stratify=y
    )
    return X_train, X_test, y_train.to_frame(), y_test.to_frame()


@keel.step
def train(X_train: Any, y_train: Any, n_estimators: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=6, random_state=0)
    model.fit(X_train, y_train["target"])
    # steps are runs: the version registered here records the pipeline run, this step, its
    # cache key and the dataset version it was made from (a cached re-run registers nothing)
    keel.log_model(
        model, input_example=X_train.head(5), registered_model_name=MODEL_NAME, onnx=False
    )
    return model


@keel.step
def evaluate(model: Any, X_test: Any, y_test: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    proba = model.predict_proba(X_test)[:, 1]
    metrics = {
        "auc": float(roc_auc_score(y_test["target"], proba)),
        "accuracy": float(accuracy_score(y_test["target"], (proba >= 0.5).astype(int))),
    }
    keel.log_metrics(metrics)  # steps are runs: this lands in the evaluate step's run
    return metrics


@keel.pipeline
def training(
    frame: Any,
    source: DatasetVersion | None = None,
    n_estimators: int = 100,
    test_size: float = 0.25,
) -> Any:
    X_train, X_test, y_train, y_test = prepare(frame, source, test_size)
    model = train(X_train, y_train, n_estimators)
    return evaluate(model, X_test, y_test)


@keel.step
def load(version: DatasetVersion) -> Any:
    return keel.load_dataset(version.ref)


@keel.pipeline
def retrain(dataset: str = "breast-cancer", n_estimators: int = 30, test_size: float = 0.25) -> Any:
    """``training`` over the newest version of ``dataset`` (what a schedule can fire)."""
    version = dataset_version(dataset)
    X_train, X_test, y_train, y_test = prepare(load(version), version, test_size)
    model = train(X_train, y_train, n_estimators)
    return evaluate(model, X_test, y_test)


@keel.step
def baseline(X_train: Any, X_test: Any, y_train: Any, y_test: Any) -> dict[str, float]:
    """A linear baseline on the same split; it logs its score and registers nothing."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(X_train, y_train["target"])
    auc = float(roc_auc_score(y_test["target"], model.predict_proba(X_test)[:, 1]))
    keel.log_metric("auc", auc)
    return {"auc": auc}


@keel.pipeline
def team_baseline(frame: Any, source: DatasetVersion | None = None, test_size: float = 0.25) -> Any:
    """What a colleague runs against the team server: ``prepare`` is the training pipeline's
    own step with the same inputs, so it comes from the shared cache."""
    X_train, X_test, y_train, y_test = prepare(frame, source, test_size)
    return baseline(X_train, X_test, y_train, y_test)


def run_pipeline(ctx: TourContext) -> None:
    """Run the training pipeline twice: the second run takes every step from the cache."""
    params = {
        "frame": ctx.results["frame"],
        "source": ctx.results.get("dataset"),
        "n_estimators": 20 if ctx.fast else 100,
    }
    store, project = ctx.client.store, ctx.client.project.name
    first_run = ""
    for attempt in ("first", "second"):
        start = time.perf_counter()
        result = training.run(
            params, store=store, project=project, experiment="quickstart-pipeline"
        )
        took = time.perf_counter() - start
        first_run = first_run or result.run_id
        steps = ", ".join(f"{n} ({s.status.value})" for n, s in result.steps.items())
        ctx.say(f"{attempt.capitalize()} run: {steps} in {took:.2f}s")
    metrics = result.value()
    if result.all_cached:
        ctx.say(
            f"[bold green]Every step came from the cache[/bold green]: same code, data and "
            f"parameters (auc={metrics['auc']:.4f}). Change a parameter and only what depends on "
            "it runs again."
        )
    rolled_up = ctx.client.get_run(result.run_id).metrics
    shown = ", ".join(
        f"{k}={v:.4f}" for k, v in sorted(rolled_up.items()) if k.startswith("evaluate.")
    )
    ctx.say(
        f"The pipeline run shows what its steps logged, cached or not: {shown} "
        f"(keel runs show {result.run_id[:8]})"
    )
    ctx.results["pipeline_run"] = result.run_id
    _registered_by(ctx, first_run)


def _registered_by(ctx: TourContext, run_id: str) -> None:
    """Say which version the train step registered and what its lineage records."""
    from keel.models import Registry

    made = [
        v
        for v in Registry(ctx.client.store, ctx.client.project.name).versions(MODEL_NAME)
        if (v.lineage.get("pipeline") or {}).get("run_id") == run_id
    ]
    if not made:
        return
    v = made[-1]
    data = ", ".join(f"{d['name']}@{d['version']}" for d in v.lineage.get("datasets", []))
    ctx.say(
        f"The train step registered [bold]{v.ref}[/bold] from inside the pipeline: its lineage "
        f"names pipeline run {run_id[:8]}, step {v.lineage['pipeline'].get('step')} and "
        f"{data or 'no dataset'} (keel models show {v.ref})"
    )
