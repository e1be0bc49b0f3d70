"""Tour step for serving: serve the champion over HTTP, call it, read the prediction log."""

from __future__ import annotations

from keel.quickstart._context import TourContext
from keel.quickstart._models import MODEL_NAME

DEPLOYMENT = "quickstart"
LOG_QUERY = (
    "SELECT model, version, count(*) AS predictions, count(DISTINCT request_id) AS requests, "
    "round(avg(latency_ms), 2) AS avg_ms, round(avg(outputs.predictions), 3) AS positive_rate "
    f"FROM predictions WHERE deployment = '{DEPLOYMENT}' GROUP BY ALL"
)


def serve_champion(ctx: TourContext) -> None:
    """Serve ``@champion`` in this process, send requests in three protocols, stop (which
    flushes the prediction log), then query the log with SQL as ``keel predictions sql``
    does."""
    import httpx

    from keel.monitoring import run_sql
    from keel.serving import build_app, spec_for_refs, start_in_thread

    spec = spec_for_refs([f"{MODEL_NAME}@champion"], name=DEPLOYMENT)
    handle = start_in_thread(build_app(spec, ctx.settings, store=ctx.client.store))
    X_test = ctx.results["X_test"]
    try:
        with httpx.Client(base_url=handle.url, timeout=30) as http:
            rows = X_test.head(5)
            split = {"dataframe_split": {"columns": list(rows.columns),
                                         "data": rows.values.tolist()}}  # fmt: skip
            first = http.post("/invocations", json=split).json()["predictions"]
            for i in range(1, len(X_test) // 10):
                part = X_test.iloc[i * 10 : (i + 1) * 10]
                http.post(f"/models/{MODEL_NAME}/predict", json=part.to_dict("records"))
            one = X_test.head(1)
            v2 = {"inputs": [{"name": c, "shape": [1], "datatype": "FP64", "data": [float(v)]}
                             for c, v in one.iloc[0].items()]}  # fmt: skip
            v2_out = http.post(f"/v2/models/{MODEL_NAME}/infer", json=v2).json()
            bad = http.post("/invocations", json={"dataframe_split": {"columns": ["x"],
                                                                      "data": [[1]]}})  # fmt: skip
    finally:
        handle.stop()
    ctx.say(
        f"Served [bold]{MODEL_NAME}@champion[/bold] at {handle.url}: /invocations -> {first}, "
        f"/v2 infer -> version {v2_out['model_version']}, a bad request -> {bad.status_code} "
        f"({bad.json()['message'][:70]}...)"
    )
    table = run_sql(ctx.client.store, ctx.client.project.id, LOG_QUERY)
    ctx.table(
        "keel predictions sql (the prediction log)",
        table.column_names,
        [list(r.values()) for r in table.to_pylist()],
    )
    ctx.results["prediction_log_rows"] = sum(r["predictions"] for r in table.to_pylist())
