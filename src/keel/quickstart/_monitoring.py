"""Tour steps for monitoring: drifted traffic, labels that arrive later, alerts and a report;
then the drift alert's trigger fires the retraining pipeline."""

from __future__ import annotations

from typing import Any

from keel.quickstart._context import TourContext
from keel.quickstart._models import MODEL_NAME
from keel.quickstart._serving import DEPLOYMENT

#: A new scanner over-reads textures and the largest cells: data the model never trained on.
DRIFT = {
    "mean_texture": 1.6,
    "worst_texture": 1.6,
    "worst_area": 1.5,
    "worst_radius": 1.2,
    "worst_perimeter": 1.2,
}


def monitor_deployment(ctx: TourContext) -> None:
    """Profile the training data as the model's reference, send drifted traffic through the
    real server, feed back the true labels, run the monitor and write the report."""
    from keel.monitoring import MonitoringClient

    mon = MonitoringClient(ctx.client.store, ctx.client.project.name)
    _reference(ctx, mon)
    _schedule_retraining(ctx)
    ids, truth = _send_drifted(ctx, n=120 if ctx.fast else 300)
    fed = mon.record_feedback(
        DEPLOYMENT, {"request_id": [*ids, "no-such-request"], "label": [*truth, 1]}
    )
    ctx.say(
        f"Sent {len(ids)} requests measured by a new scanner (textures x1.6, sizes up) and fed "
        f"back their true labels: {fed.stored} stored, {fed.unknown} unknown request id refused"
    )
    (run,) = mon.run(DEPLOYMENT, "1h")
    drifted = [f.column for f in run.drift.drifted] if run.drift else []
    accuracy = (run.performance.metrics if run.performance else {}).get("accuracy")
    quality = f", accuracy {accuracy:.3f} (baseline {_baseline(mon):.3f})" if accuracy else ""
    shown = ", ".join(drifted[:4]) + ("..." if len(drifted) > 4 else "")
    ctx.say(
        f"Monitor over the last hour: {run.rows} predictions, {len(drifted)} drifted "
        f"column(s) ({shown}){quality}"
    )
    ctx.table(
        "Alerts raised (deduplicated; `keel alerts list`)",
        ["id", "severity", "kind", "title"],
        [[a.id, a.severity, a.kind, _clip(a.title, 70)] for a, _e in run.alerts],
    )
    files = mon.report(DEPLOYMENT, window="1h", every="15m", out_dir=ctx.settings.home / "reports")
    ctx.say(f"Report: [bold]{files.html}[/bold] (self-contained HTML) and {files.json.name}")
    ctx.results["monitor_run"] = run
    ctx.results["monitor_report"] = files.html


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in "…" when it was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


RETRAIN = "quickstart-retrain"
TRIGGER = f"alert:{DEPLOYMENT}/drift"


def _schedule_retraining(ctx: TourContext) -> None:
    """Retrain when this deployment raises a drift alert (as `keel schedule add` does)."""
    from keel.exceptions import NotFoundError
    from keel.pipelines import add_schedule

    store, project = ctx.client.store, ctx.client.project
    try:
        store.schedules.get(project.id, RETRAIN)
        return  # a second tour keeps the schedule (and its baseline) of the first
    except NotFoundError:
        pass
    dataset = ctx.results["dataset"].dataset_name
    add_schedule(
        store,
        project.name,
        RETRAIN,
        target="keel.quickstart._pipelines:retrain",
        on=TRIGGER,
        params={"dataset": dataset},
    )
    ctx.say(
        f"Scheduled [bold]{RETRAIN}[/bold]: the retraining pipeline runs on {dataset}'s newest "
        f"version whenever {DEPLOYMENT} raises a drift alert (--on {TRIGGER})"
    )


def retrain_on_alert(ctx: TourContext) -> None:
    """One pass of the scheduler (`keel scheduler --once`): the drift alert fires the
    retraining pipeline in a child process, whose train step registers a new version."""
    from keel.models import Registry
    from keel.pipelines import Scheduler

    store, project = ctx.client.store, ctx.client.project
    schedule = store.schedules.get(project.id, RETRAIN)
    before = {f.id for f in store.schedules.fires(schedule.id)}
    Scheduler(ctx.settings, store=store, on_event=lambda msg: ctx.say(f"scheduler: {msg}")).run(
        once=True
    )
    fires = [f for f in store.schedules.fires(schedule.id) if f.id not in before]
    if not fires or fires[0].pipeline_run_id is None:
        ctx.say(f"No new drift alert since the last tour: {RETRAIN} did not fire again")
        return
    fire = fires[0]
    made = [
        v
        for v in Registry(store, project.name).versions(MODEL_NAME)
        if (v.lineage.get("pipeline") or {}).get("run_id") == fire.pipeline_run_id
    ]
    what = f"registered [bold]{made[-1].ref}[/bold]" if made else "registered nothing"
    ctx.say(
        f"The alert fired {RETRAIN} ({fire.occurrence}): pipeline run "
        f"{str(fire.pipeline_run_id)[:8]} {fire.status}, {what} "
        f"(keel schedule list; keel pipeline runs)"
    )
    ctx.results["retrain_fire"] = fire


def _reference(ctx: TourContext, mon: Any) -> str:
    """The model's reference (training data plus its predictions) and the monitor settings."""
    model = ctx.results["models"][ctx.results["best_run"].id]
    X_train, X_test, y_test = ctx.results["X_train"], ctx.results["X_test"], ctx.results["y_test"]
    version = ctx.results.get("model_version")
    subject = f"model:{MODEL_NAME}/{getattr(version, 'version', version) or 'champion'}"
    reference = X_train.assign(predictions=model.predict(X_train))
    mon.set_reference(subject, reference, source=ctx.results["dataset"].ref)
    mon.configure(
        DEPLOYMENT,
        reference=subject,
        window="1h",
        performance={
            "prediction": "predictions",
            "positive": "1",
            "metric": "accuracy",
            "floor": 0.85,
            "max_drop": 0.05,
            "min_labels": 50,
        },
        # mean_radius predicts the class, so selection rates differ by design: watch accuracy
        # per cohort only (parity gaps are for sensitive attributes, which this data has none of)
        cohorts={
            "columns": [["mean_radius"]],
            "min_size": 25,
            "parity_gap": None,
            "odds_gap": None,
        },
        resources={"latency_p99_ms": 1000.0},
    )
    mon.calibrate(DEPLOYMENT, y_test, model.predict(X_test))
    return subject


def _baseline(mon: Any) -> float:
    monitor = mon.store.monitors.get(mon.project_id, DEPLOYMENT)
    return float((monitor.config.get("performance") or {}).get("baseline") or 0.0)


def _send_drifted(ctx: TourContext, *, n: int) -> tuple[list[str], list[int]]:
    """Rows of the test set with scanner drift, one request each, with our own request ids."""
    import httpx
    import numpy as np

    from keel.serving import build_app, spec_for_refs, start_in_thread

    X_test, y_test = ctx.results["X_test"], ctx.results["y_test"]
    rng = np.random.default_rng(7)
    pick = rng.integers(0, len(X_test), n)
    rows = X_test.iloc[pick].copy()
    for column, factor in DRIFT.items():
        rows[column] = rows[column] * factor
    truth = [int(v) for v in y_test.iloc[pick]]
    ids = [f"quickstart-drift-{i:04d}" for i in range(n)]
    spec = spec_for_refs([f"{MODEL_NAME}@champion"], name=DEPLOYMENT)
    handle = start_in_thread(build_app(spec, ctx.settings, store=ctx.client.store))
    try:
        with httpx.Client(base_url=handle.url, timeout=30) as http:
            for rid, record in zip(ids, rows.to_dict("records"), strict=True):
                http.post(
                    f"/models/{MODEL_NAME}/predict", json=[record], headers={"x-request-id": rid}
                ).raise_for_status()
    finally:
        handle.stop()  # flushes the prediction log
    return ids, truth
