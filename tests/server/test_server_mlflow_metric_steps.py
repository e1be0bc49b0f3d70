"""MLflow's run views carry each metric's latest step and timestamp, as mlflow's server does."""

from __future__ import annotations

from typing import Any


def test_run_views_report_latest_step_and_timestamp(client: Any) -> None:
    exp = client.post("/api/2.0/mlflow/experiments/create", json={"name": "steps"}).json()
    created = client.post(
        "/api/2.0/mlflow/runs/create", json={"experiment_id": exp["experiment_id"]}
    )
    run_id = created.json()["run"]["info"]["run_id"]
    for step, ts, value in [(0, 1000, 0.5), (7, 2000, 0.9), (3, 3000, 0.7)]:
        resp = client.post(
            "/api/2.0/mlflow/runs/log-metric",
            json={"run_id": run_id, "key": "auc", "value": value, "step": step, "timestamp": ts},
        )
        assert resp.status_code == 200
    got = client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()
    assert got["run"]["data"]["metrics"] == [
        {"key": "auc", "value": 0.9, "timestamp": 2000, "step": 7}
    ]
    found = client.post(
        "/api/2.0/mlflow/runs/search", json={"experiment_ids": [exp["experiment_id"]]}
    ).json()
    assert found["runs"][0]["data"]["metrics"] == got["run"]["data"]["metrics"]
