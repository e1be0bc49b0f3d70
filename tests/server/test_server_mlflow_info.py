"""MLflow's unauthenticated probes on keel server: ``/health`` asks the database like
``/api/v1/health``; ``POST /v1/traces`` (OTLP spans) answers as MLflow's server does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keel.server import ServerOptions, create_app
from keel.server._health import HealthProbe
from keel.store import Database, Store

OPTIONS = ServerOptions(allowed_hosts=("testserver",))
OTLP = {"Content-Type": "application/x-protobuf", "X-MLflow-Experiment-Id": "0"}


@pytest.fixture
def web(server_store: Store) -> Iterator[Any]:
    with TestClient(create_app(server_store.settings, OPTIONS, store=server_store)) as client:
        yield client


@pytest.mark.parametrize("prefix", ["", "/projects/p1"])
def test_mlflow_health_asks_the_database(web: Any, prefix: str) -> None:
    assert (web.get(f"{prefix}/health").status_code, web.get(f"{prefix}/health").text) == (
        200,
        "OK",
    )
    # the same probe on a database nobody answers at (a closed port): both health routes say so
    dead = Database("postgresql+psycopg://keel@127.0.0.1:1/none", connect_timeout_s=2)
    web.app.state.health = HealthProbe(dead, timeout_s=10)
    try:
        mlflow_health = web.get(f"{prefix}/health")
        keel_health = web.get("/api/v1/health")
    finally:
        dead.dispose()
    assert mlflow_health.status_code == 503 and keel_health.status_code == 503
    assert mlflow_health.text.startswith("database unavailable: ")
    assert mlflow_health.headers["Retry-After"] == "5"


@pytest.mark.parametrize(
    ("headers", "status", "says"),
    [
        (OTLP, 501, "REST OTLP span logging is not supported by keel"),
        ({**OTLP, "Content-Type": "text/plain"}, 400, "Invalid Content-Type: text/plain"),
        ({**OTLP, "Content-Type": "application/json"}, 400, "Invalid Content-Type"),
        ({"X-MLflow-Experiment-Id": "0"}, 400, "Invalid Content-Type: None"),
        ({"Content-Type": "application/x-protobuf"}, 422, "X-MLflow-Experiment-Id"),
    ],
)
def test_otlp_span_export_answers_like_mlflow(
    web: Any, headers: dict[str, str], status: int, says: str
) -> None:
    for path in ("/v1/traces", "/projects/p1/v1/traces"):
        answer = web.post(path, content=b"\x0a\x00", headers=headers)
        assert answer.status_code == status, answer.text
        assert says in answer.json()["detail"] and answer.json()["message"]


def test_otlp_bodies_still_have_the_size_cap(web: Any) -> None:
    huge = b"\x00" * (OPTIONS.max_body_bytes + 1)
    assert web.post("/v1/traces", content=huge, headers=OTLP).status_code == 413


def test_a_misspelt_project_url_is_a_404_naming_it_and_creates_nothing(
    web: Any, server_store: Store
) -> None:
    """Reads under ``/projects/<name>/`` need the project; a write makes it (no auth)."""
    base = "/projects/typo/api/2.0/mlflow"
    reads = [
        web.get(f"{base}/experiments/search", params={"max_results": 10}),
        web.get(f"{base}/experiments/get-by-name", params={"experiment_name": "Default"}),
        web.post(f"{base}/runs/search", json={"experiment_ids": ["0"]}),
        web.get(f"{base}/registered-models/search"),
    ]
    for read in reads:
        assert read.status_code == 404, read.text
        assert read.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert read.json()["message"].startswith("project 'typo' does not exist")
    assert [p.name for p in server_store.projects.list()] == ["default"]
    made = web.post(f"{base}/experiments/create", json={"name": "first"})
    assert made.status_code == 200, made.text
    assert [p.name for p in server_store.projects.list()] == ["default", "typo"]
    assert web.get(f"{base}/experiments/search", params={"max_results": 10}).status_code == 200
